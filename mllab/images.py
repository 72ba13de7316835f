"""Docker images of the kit: the offline base, and (built on it) the server's images.

Images cannot be pulled on an offline machine, so every Dockerfile takes ``ARG BASE_IMAGE``
whose default is the public ``python:3.11-slim-bookworm``; :func:`base_image` passes the public
one when the engine has it and otherwise the local base made by ``docker/base/build-base``.
"""

from __future__ import annotations

import argparse
import subprocess

from mllab.engine import client
from mllab.errors import BuildError
from mllab.paths import DOCKER

PUBLIC_BASE = "python:3.11-slim-bookworm"
LOCAL_BASE = "mllab/base:bookworm-py311"
BUILD_BASE_SCRIPT = DOCKER / "base" / "build-base"


def has_image(tag: str) -> bool:
    """True when the engine has an image under ``tag``."""
    import docker.errors

    try:
        client().images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_base(tag: str = LOCAL_BASE, tarball: str | None = None) -> str:
    """Build the local base with mmdebstrap and import it; returns the image ID."""
    command = [str(BUILD_BASE_SCRIPT), tag] + ([tarball] if tarball else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"building the base image failed:\n{done.stderr.strip()}")
    return client().images.get(tag).id


def base_image(prefer_public: bool = True) -> str:
    """The tag to pass as ``BASE_IMAGE``: the public slim image if present, else the local base
    (built on first use)."""
    if prefer_public and has_image(PUBLIC_BASE):
        return PUBLIC_BASE
    if not has_image(LOCAL_BASE):
        build_base(LOCAL_BASE)
    return LOCAL_BASE


def image_size_mb(tag: str) -> float:
    """An image's size in MB (10^6 bytes, as ``docker images`` shows)."""
    return client().images.get(tag).attrs["Size"] / 1e6


def _cmd_base(args: argparse.Namespace) -> int:
    if args.rebuild or not has_image(args.tag):
        build_base(args.tag, args.tarball)
    image = client().images.get(args.tag)
    print(f"{args.tag}  {image.id}  {image.attrs['Size'] / 1e6:.1f} MB")
    return 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    """``mllab images base``."""
    images = sub.add_parser("images", help="the kit's Docker images")
    actions = images.add_subparsers(dest="action", required=True)
    base = actions.add_parser("base", help="build the offline base image (mmdebstrap + import)")
    base.add_argument("--tag", default=LOCAL_BASE)
    base.add_argument("--tarball", help="keep the root filesystem tarball at this path")
    base.add_argument("--rebuild", action="store_true", help="build even if the tag exists")
    base.set_defaults(func=_cmd_base)
