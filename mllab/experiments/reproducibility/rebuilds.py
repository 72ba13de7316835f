"""Rebuilding the same image: when the ID is the same, when it is not (C2).

The lecture says two engineers building the same Dockerfile get identical hashes
(Build(S, D, C) = Build(S, D, C) ⇒ H(D₁) = H(D₂)). :func:`docker_rebuilds` builds the slim
image (``docker/Dockerfile``, the staged context of :mod:`mllab.containers.context`) with the
layer cache (every step a cache hit) and with ``--no-cache``;
:func:`mllab.experiments.reproducibility.saved_images.compare_images` says why the IDs differ.
:func:`base_tar_twice` builds the mmdebstrap base twice. Reproducible builds with buildah and
BuildKit are in :mod:`mllab.experiments.reproducibility.buildah` and
:mod:`mllab.experiments.reproducibility.buildkit`.

Each pair becomes a :class:`RebuildComparison`; lab 06 records the three the claim reads as
:class:`Rebuilds`.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import docker.errors

from mllab.containers.base import BUILD_BASE_SCRIPT, LOCAL_BASE
from mllab.containers.build import build
from mllab.containers.buildlog import BuildResult
from mllab.containers.context import build_args, stage_context
from mllab.containers.engine import client
from mllab.containers.kinds import SOURCE_DATE_EPOCH
from mllab.containers.run import run
from mllab.core.errors import BuildError
from mllab.core.hashing import sha256_file
from mllab.core.outcome import Outcome
from mllab.core.paths import ARTIFACTS
from mllab.experiments.reproducibility.saved_images import ImageComparison, field_names

#: every image and container these experiments make is named under this prefix
PREFIX = "mllab-repro"
#: steps the legacy builder never answers from the cache (no "Using cache" line to read)
NO_CACHE_LINE = ("FROM ", "ARG BASE_IMAGE=")


@dataclass
class RebuildComparison:
    """Two builds of the same inputs: the same identity or not, and what differs.

    ``identity`` is what is compared ("image ID", or "tar sha256" for the base tar);
    ``differing_fields`` the image-config fields (or artefacts) that differ."""

    outcome: Outcome
    same: bool | None = None
    identity: str = "image ID"
    differing_fields: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    changed_layers: list[int] = field(default_factory=list)
    command: str | None = None  # how the pair is built, where that is the point (BuildKit)


@dataclass
class Rebuilds:
    """C2 record: a ``--no-cache`` Docker rebuild, two buildah builds, two base tars; and,
    for contrast, the rebuild with the cache and BuildKit's ``rewrite-timestamp``."""

    SCHEMA_VERSION: ClassVar[int] = 1

    docker_nocache: RebuildComparison
    buildah: RebuildComparison
    base_tar: RebuildComparison
    docker_cached: RebuildComparison | None = None
    buildkit: RebuildComparison | None = None


def not_run(why: str, identity: str = "image ID") -> RebuildComparison:
    """A comparison that did not run here, with the reason."""
    return RebuildComparison(Outcome.not_run(why), identity=identity)


# --- Docker: with the cache and without -------------------------------------------------------


def slim_context(name: str = "slim", model: str | Path | None = None) -> Path:
    """A staged copy of the slim image's context under ``artifacts/repro/<name>``."""
    return stage_context("slim", dest=ARTIFACTS / "repro" / name, model=model, on_log=None)


def docker_build(
    context: Path, tag: str, nocache: bool = False, buildargs: dict[str, str] | None = None
) -> BuildResult:
    """:func:`mllab.containers.build.build` of ``context/Dockerfile`` (quiet)."""
    buildargs = buildargs or build_args(context)
    return build(context / "Dockerfile", tag, context, buildargs, nocache=nocache, on_log=None)


@dataclass
class DockerRebuilds:
    """The slim image built three times: ``first``, ``cached`` (layer cache), ``nocache``."""

    tags: dict[str, str]
    builds: dict[str, BuildResult]
    context: Path

    def cached(self) -> RebuildComparison:
        """``first`` vs ``cached``: every step a cache hit, so the same ID?"""
        first, cached = self.builds["first"], self.builds["cached"]
        ids = [first.image_id or "", cached.image_id or ""]
        return RebuildComparison(Outcome.ran(), same=ids[0] == ids[1], ids=ids)


def docker_rebuilds(prefix: str = PREFIX, model: str | Path | None = None) -> DockerRebuilds:
    """Build the slim image three times: ``:first``, again with the cache (``:cached``), and
    with ``--no-cache`` (``:nocache``)."""
    context = slim_context(model=model)
    tags = {k: f"{prefix}/slim:{k}" for k in ("first", "cached", "nocache")}
    builds = {
        "first": docker_build(context, tags["first"]),
        "cached": docker_build(context, tags["cached"]),
        "nocache": docker_build(context, tags["nocache"], nocache=True),
    }
    return DockerRebuilds(tags, builds, context)


def compared(comparison: ImageComparison) -> RebuildComparison:
    """A :class:`~mllab.experiments.reproducibility.saved_images.ImageComparison` as a record."""
    return RebuildComparison(
        Outcome.ran(),
        same=comparison.same_id,
        differing_fields=field_names(comparison.fields),
        ids=[comparison.id_a, comparison.id_b],
        changed_layers=comparison.changed_layers,
    )


def step_rows(result: BuildResult) -> list[dict[str, Any]]:
    """A build's steps: number, instruction, cache hit / ran / not reported by the builder."""
    return [
        {
            "step": s.number,
            "cache": "n/a"
            if s.instruction.startswith(NO_CACHE_LINE)
            else ("hit" if s.cached else "ran"),
            "instruction": s.instruction[:90],
        }
        for s in result.steps
    ]


# --- the mmdebstrap base ------------------------------------------------------------------------


@dataclass
class BaseRun:
    """One run of ``docker/base/build-base``: the tar's sha256 and the imported image."""

    tag: str
    tar_sha256: str
    tar_mb: float
    image_id: str
    diff_id: str
    seconds: float


@dataclass
class BaseTarTwice:
    """The base built twice with the same SOURCE_DATE_EPOCH."""

    runs: list[BaseRun]
    source_date_epoch: str

    def same(self, attribute: str) -> bool:
        return getattr(self.runs[0], attribute) == getattr(self.runs[1], attribute)

    def comparison(self) -> RebuildComparison:
        """Same tar sha256? ``differing_fields`` lists what differs of tar, layer and image."""
        names = {"tar_sha256": "tar sha256", "diff_id": "diff_id", "image_id": "image ID"}
        return RebuildComparison(
            Outcome.ran(),
            same=self.same("tar_sha256"),
            identity="tar sha256",
            differing_fields=[label for key, label in names.items() if not self.same(key)],
            ids=[r.tar_sha256 for r in self.runs],
        )


def kit_base_run(epoch: str) -> BaseRun | None:
    """The kit's base image as the first of the two runs, when ``build-base`` made it with the
    same SOURCE_DATE_EPOCH (its import message says so): ``docker import`` of an uncompressed
    tar gives a layer whose diff_id *is* the tar's sha256, so the tar need not be rebuilt to be
    compared. None when the base is another image (a pulled python:3.11-slim) or absent."""
    try:
        image = client().images.get(LOCAL_BASE)
    except docker.errors.ImageNotFound:
        return None
    comment = image.attrs.get("Comment") or ""
    if "mmdebstrap" not in comment or f"SOURCE_DATE_EPOCH={epoch})" not in comment:
        return None
    diff_id = image.attrs["RootFS"]["Layers"][0]
    tar_mb = round(image.attrs["Size"] / 1e6, 1)  # the unpacked tree: about the tar's size
    return BaseRun(
        LOCAL_BASE, diff_id.removeprefix("sha256:"), tar_mb, image.attrs["Id"], diff_id, 0.0
    )


def base_tar_twice(prefix: str = PREFIX, keep_images: bool = False) -> BaseTarTwice:
    """Two runs of ``docker/base/build-base`` with the same SOURCE_DATE_EPOCH: the tar sha256s
    (equal when reproducible) and the imported image IDs (``docker import`` stamps the time of
    the import into the config). The first run is the kit's own base image when ``build-base``
    made it (lab 00 or 04, minutes or days earlier: :func:`kit_base_run`), else a fresh build;
    the second is always built now. ~20 s per build; needs Debian's mirror."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
    earlier = kit_base_run(epoch)
    runs = [earlier] if earlier else []
    with tempfile.TemporaryDirectory(prefix="mllab-base-") as tmp:
        for i in range(len(runs) + 1, 3):
            tag, tarball = f"{prefix}/base:run{i}", Path(tmp, f"base{i}.tar")
            start = time.perf_counter()
            done = subprocess.run(
                [str(BUILD_BASE_SCRIPT), tag, str(tarball)], capture_output=True, text=True
            )
            if done.returncode != 0:
                raise BuildError(f"build-base failed:\n{done.stderr.strip()[-1500:]}")
            image = client().images.get(tag)
            runs.append(
                BaseRun(
                    tag,
                    sha256_file(tarball),
                    round(tarball.stat().st_size / 1e6, 1),
                    image.attrs["Id"],  # image.id, which the SDK types as optional
                    image.attrs["RootFS"]["Layers"][0],
                    round(time.perf_counter() - start, 1),
                )
            )
    if not keep_images:
        for one in runs:
            if one.tag != LOCAL_BASE:  # the kit's base stays: every image builds on it
                client().images.remove(one.tag, force=True)
    return BaseTarTwice(runs, epoch)


# --- housekeeping -------------------------------------------------------------------------------


def remove_images(prefix: str = PREFIX) -> list[str]:
    """Remove the Docker images tagged under ``prefix/`` (only those: never anyone else's)."""
    removed = []
    for image in client().images.list():
        for tag in image.tags:
            if tag.startswith(f"{prefix}/"):
                client().images.remove(tag, force=True)
                removed.append(tag)
    return removed


@dataclass
class SmokeTest:
    """An image served: how long until ``/ready`` answered, and the onnxruntime inside."""

    url: str
    ready_s: float
    onnxruntime: str
    exec_exit_code: int


def smoke_test(tag: str, name: str) -> SmokeTest:
    """Run ``tag`` as the server until ``/ready`` answers; the container is removed after."""
    start = time.perf_counter()
    with run(tag, name=name) as container:
        ready_s = time.perf_counter() - start
        script = "import onnxruntime; print(onnxruntime.__version__)"
        code, out = container.exec(["python", "-c", script])
        lines = out.strip().splitlines()  # ORT may log a warning line first
        return SmokeTest(container.url, round(ready_s, 2), lines[-1] if lines else "", code)
