"""What identifies an environment and an image: package manifests M(E), tags, IDs, digests.

* A package manifest M(E) in ``pip freeze`` form (``name==version``, names normalised as
  PEP 503 does), listed by :mod:`mllab.experiments.reproducibility.package_list`
  (``importlib.metadata``: the
  slim image's venv has no pip). :func:`manifest_diff` splits two manifests into the packages
  both have (same version or not) and those only one has: M(E1) = M(E2) on the shared ones is
  what the lecture's equivalence needs from the packages.
* :func:`image_identity`: a tag is a movable name, the ID is the sha256 of the image's config
  (recomputed here from ``docker save``), and a digest (``RepoDigests``) exists only after a
  push to a registry: it is the sha256 of the manifest the registry stored.

Lab 06's ``docker stats`` record (C13) is :func:`mllab.containers.run.docker_stats_of_image`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from typing import Any, ClassVar

from packaging.utils import canonicalize_name

from mllab.containers.docker_cli import run_module_json, save_stream
from mllab.containers.engine import client
from mllab.core.errors import InputError, MllabError
from mllab.core.hashing import sha256_bytes, sha256_stream
from mllab.core.paths import PACKAGE

#: the mllab package, put on the path of other interpreters and containers (the lister module)
LISTER = "mllab.experiments.reproducibility.package_list"


def _normalise(raw: dict[str, str]) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in sorted(raw.items()) if name}


def host_manifest(python: str | None = None) -> dict[str, str]:
    """``{package: version}`` of an interpreter (default: this one, the host's venv)."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    command = [python or sys.executable, "-m", LISTER]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise MllabError(
            f"listing the packages of {python or sys.executable} failed: "
            f"{done.stderr.strip()[-500:]}"
        )
    return _normalise(json.loads(done.stdout.strip().splitlines()[-1]))


def container_manifest(image: str, python: str = "python") -> dict[str, str]:
    """``{package: version}`` inside ``image`` (``docker run --rm``, no network; this tree's
    lister mounted, so any image with a Python can be listed)."""
    listed = run_module_json(
        image,
        LISTER,
        python=python,
        volumes={str(PACKAGE): "/src/mllab:ro"},
        env={"PYTHONPATH": "/src"},
    )
    return _normalise(listed)


def freeze_lines(manifest: dict[str, str]) -> list[str]:
    """The manifest as ``pip freeze`` prints it: ``name==version``, sorted."""
    return [f"{name}=={version}" for name, version in sorted(manifest.items())]


@dataclass
class ManifestDiff:
    """Two manifests compared: the shared packages with the same or another version, and
    those only one side has. ``equal_on_shared`` is M(E1) = M(E2) on what both hold."""

    shared: int
    same: list[str]
    different: dict[str, tuple[str, str]]
    only_a: list[str]
    only_b: list[str]

    @property
    def equal_on_shared(self) -> bool:
        return not self.different


def manifest_diff(a: dict[str, str], b: dict[str, str]) -> ManifestDiff:
    """Compare manifest ``a`` with ``b``."""
    shared = sorted(set(a) & set(b))
    different = {name: (a[name], b[name]) for name in shared if a[name] != b[name]}
    return ManifestDiff(
        shared=len(shared),
        same=[name for name in shared if name not in different],
        different=different,
        only_a=freeze_lines({n: a[n] for n in set(a) - set(b)}),
        only_b=freeze_lines({n: b[n] for n in set(b) - set(a)}),
    )


def diff_rows(diff: ManifestDiff, names: tuple[str, str] = ("host", "container")) -> list[dict]:
    """Table rows: every package that differs or that one side lacks."""
    rows = [{"package": n, names[0]: va, names[1]: vb} for n, (va, vb) in diff.different.items()]
    for lines, side in ((diff.only_a, 0), (diff.only_b, 1)):
        for line in lines:
            name, version = line.split("==")
            rows.append({"package": name, names[side]: version, names[1 - side]: "-"})
    return sorted(rows, key=lambda r: r["package"])


def manifest_digest(manifest: dict[str, str]) -> str:
    """sha256 of the freeze lines: one number that is equal exactly when M(E) is equal."""
    return sha256_bytes("\n".join(freeze_lines(manifest)).encode())


# --- tags, IDs and digests ------------------------------------------------------------------------


def config_sha256(tag: str) -> str:
    """sha256 of the image's config file (``<64 hex>.json`` at the top of a ``docker save``
    stream); the stream is read only up to it."""
    with save_stream(tag) as raw, tarfile.open(fileobj=raw, mode="r|") as stream:
        for member in stream:
            if member.isfile() and re.fullmatch(r"[0-9a-f]{64}\.json", member.name):
                config = stream.extractfile(member)  # None only for what is not a file
                if config is not None:
                    return sha256_stream(config)
    raise InputError(f"no config found in `docker save {tag}` (is there an image {tag!r}?)")


@functools.lru_cache(maxsize=64)
def _config_sha256_of(image_id: str) -> str:
    """:func:`config_sha256` of one stored image, once per process: the tags of one image share
    its stored config, and each ``docker save`` exports the whole image first (~3 s here)."""
    return config_sha256(image_id)


@dataclass
class ImageIdentity:
    """Tag, ID and digests of an image, with the ID recomputed from its config's bytes."""

    tag: str
    repo_tags: list[str]
    id: str
    config_sha256: str
    repo_digests: list[str]
    diff_ids: list[str] = field(default_factory=list)

    @property
    def id_is_config_sha256(self) -> bool:
        return self.config_sha256 == self.id

    def row(self) -> dict[str, Any]:
        """One table row: tags, short ID, ID = sha256(config)?, digests."""
        return {
            "tag": self.tag,
            "all tags (RepoTags)": ", ".join(self.repo_tags),
            "Id": self.id[:19],
            "Id == sha256(config)": self.id_is_config_sha256,
            "RepoDigests": ", ".join(self.repo_digests) or "(none: never pushed)",
        }


def image_identity(tag: str) -> ImageIdentity:
    """Tag, ID and digests of ``tag``; the ID recomputed from ``docker save``. Empty
    ``repo_digests``: the image was never pushed to (or pulled from) a registry."""
    image = client().images.get(tag)
    image_id = image.attrs["Id"]  # image.id, which the SDK types as optional
    return ImageIdentity(
        tag=tag,
        repo_tags=image.attrs.get("RepoTags") or [],
        id=image_id,
        config_sha256="sha256:" + _config_sha256_of(image_id),
        repo_digests=image.attrs.get("RepoDigests") or [],
        diff_ids=image.attrs["RootFS"]["Layers"],
    )


@dataclass
class Manifests:
    """Lab 06's record of M(E): host vs slim container, and the identities of its images."""

    SCHEMA_VERSION: ClassVar[int] = 1

    host_packages: int
    container_packages: int
    diff: ManifestDiff
    identities: list[ImageIdentity]
