"""The offline base image every Dockerfile builds ``FROM``, and small image look-ups.

Images cannot be pulled on an offline machine, so every Dockerfile takes ``ARG BASE_IMAGE``
whose default is the public ``python:3.11-slim-bookworm``; :func:`base_image` passes the public
one when the engine has it and otherwise the local base made by ``docker/base/build-base``.
"""

from __future__ import annotations

import subprocess

from mllab.containers.engine import client
from mllab.core.errors import BuildError
from mllab.core.paths import DOCKER

PUBLIC_BASE = "python:3.11-slim-bookworm"
LOCAL_BASE = "mllab/base:bookworm-py311"
BUILD_BASE_SCRIPT = DOCKER / "base" / "build-base"


def image_id(tag: str) -> str | None:
    """The ID of the image under ``tag``, or None when the engine has none."""
    import docker.errors  # deferred: the SDK is heavy at start-up and absent from the slim image

    try:
        return client().images.get(tag).id
    except docker.errors.ImageNotFound:
        return None


def has_image(tag: str) -> bool:
    """True when the engine has an image under ``tag``."""
    return image_id(tag) is not None


def build_base(tag: str = LOCAL_BASE, tarball: str | None = None) -> str:
    """Build the local base with mmdebstrap and import it; returns the image ID."""
    command = [str(BUILD_BASE_SCRIPT), tag] + ([tarball] if tarball else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"building the base image failed:\n{done.stderr.strip()}")
    built: str = client().images.get(tag).attrs["Id"]  # the SDK types .id as optional
    return built


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
