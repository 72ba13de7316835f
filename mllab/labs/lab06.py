"""Lab 06 — Reproducibility: the kit, as the notebook uses it.

The lab checks the lecture's three promises about a model artefact: the same numbers across
runtimes and containers (the drift matrix, the deterministic session options, an older
onnxruntime: claims C6, C4, C1), the same image from the same inputs (rebuilds with and without
the cache, buildah and BuildKit with fixed timestamps, the base tar: C2, C10, C11), and the
identities that bind them (package manifests, IDs and digests, the sha256 gate, ``docker
stats``: C13); then the claims table of every lab. ``onnxruntime`` is imported by the notebook.

Groups: the model and the slim image; the drift matrix; rebuilds; manifests, identities and
the integrity gate; records, tables and claims; the exercise checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mllab.containers import build as builds
from mllab.containers.buildlog import LogFile
from mllab.containers.layers import inspect
from mllab.containers.run import docker_stats_of_image as docker_stats
from mllab.core.outcome import Outcome, attempt
from mllab.core.paths import DOCKER, artifact
from mllab.core.records import load_all, record
from mllab.core.tables import format_table, labelled
from mllab.exercises.hidden import hidden_tests
from mllab.exercises.lab06 import BuildRecipe, check_deterministic_options, check_reproducible_build
from mllab.experiments.reproducibility import buildah, integrity_gates, ort_versions, rebuilds
from mllab.experiments.reproducibility.buildkit import buildkit_rewrite_timestamp
from mllab.experiments.reproducibility.cache_effects import (
    CacheEffects,
    CacheExperiment,
    ModelLayer,
    cache_experiment,
)
from mllab.experiments.reproducibility.drift_configs import configurations, drift_inputs
from mllab.experiments.reproducibility.drift_matrix import (
    DriftMatrix,
    container_vs_host,
    determinism,
    plot_heatmap,
    run_matrix,
)
from mllab.experiments.reproducibility.identity import (
    Manifests,
    container_manifest,
    diff_rows,
    host_manifest,
    image_identity,
    manifest_diff,
)
from mllab.experiments.reproducibility.rebuilds import (
    DockerRebuilds,
    RebuildComparison,
    Rebuilds,
    docker_rebuilds,
    step_rows,
)
from mllab.experiments.reproducibility.saved_images import ImageComparison, compare_images
from mllab.measure.drift import LECTURE_DELTA, LECTURE_EPSILON
from mllab.model.artifacts import default_model
from mllab.model.quantize import default_int8_model
from mllab.report.claims import claims_table, format_claims, judge
from mllab.report.lab_summary import lab_pages
from mllab.runtime.cgroup import usable_cpus

plan, summary = lab_pages("06")  # every lab's opening and closing cells (kit-wide)

__all__ = [
    # the model and the slim image (lab 04's, built once and cached)
    "default_model",
    "default_int8_model",
    "build_slim",
    "image_id",
    # the drift matrix: runtimes, options, threads, host vs container (C6, C4), an older ORT (C1)
    "drift_inputs",
    "configurations",
    "run_matrix",
    "plot_heatmap",
    "LECTURE_DELTA",
    "LECTURE_EPSILON",
    "usable_cpus",
    "determinism",
    "container_vs_host",
    "older_ort_drift",
    # rebuilds: when is H(D1) = H(D2)? (C2; the cache and the model layer: C10, C11)
    "docker_rebuilds",
    "step_rows",
    "compare_images",
    "docker_pairs",
    "cache_experiment",
    "cache_records",
    "slim_dockerfile",
    "buildah_twice",
    "buildah_into_docker",
    "buildkit_rewrite_timestamp",
    "base_tar_twice",
    "Rebuilds",
    "rebuild_rows",
    # manifests M(E), tags/IDs/digests, the integrity gate, docker stats (C13)
    "host_manifest",
    "container_manifest",
    "manifest_diff",
    "diff_rows",
    "image_identity",
    "Manifests",
    "integrity_gates_tried",
    "docker_stats",
    # records, tables and claims
    "record",
    "load_all",
    "labelled",
    "format_table",
    "judge",
    "claims_table",
    "format_claims",
    # the exercise checks
    "check_deterministic_options",
    "check_reproducible_build",
    "hidden_tests",
]


def image_id(tag: str) -> str:
    """The image ID of ``tag`` (the sha256 of its config), from the engine."""
    return inspect(tag).id


# --- the drift matrix -------------------------------------------------------------------------


def older_ort_drift(
    version: str, model: Path, x: np.ndarray, threads: int | None, matrix: DriftMatrix
) -> ort_versions.OrtVersionDrift:
    """C1: the same model and inputs under onnxruntime ``version`` (its wheel from PyPI, first
    on this interpreter's path) against the host's; failed with the error where that cannot be
    done. For scale, the record also holds PyTorch vs ONNX Runtime on the host (from
    ``matrix``)."""
    outcome, drift = attempt(ort_versions.ort_version_drift, version, model, x, threads)
    drift = drift or ort_versions.OrtVersionDrift(outcome)
    drift.torch_vs_ort_max_abs = matrix.compare("ort-all", "torch-cpu").max_abs
    return drift


# --- rebuilds -----------------------------------------------------------------------------------


def docker_pairs(
    runs: DockerRebuilds | None, nocache: ImageComparison | None
) -> tuple[RebuildComparison, RebuildComparison]:
    """The two Docker pairs of C2: ``(with the cache, --no-cache)``; both not run when the
    rebuilds were switched off (``runs`` None: the lab's ``NO_CACHE_REBUILD``)."""
    skipped = rebuilds.not_run("NO_CACHE_REBUILD is False")
    cached = runs.cached() if runs else skipped
    return cached, rebuilds.compared(nocache) if nocache else skipped


def cache_records(cache: CacheExperiment | None) -> tuple[CacheEffects, ModelLayer]:
    """The C10 and C11 records of the cache experiment; not run when it was switched off
    (``cache`` None: the lab's ``CACHE_EXPERIMENT``)."""
    if cache is None:
        skipped = Outcome.not_run("CACHE_EXPERIMENT is False")
        return CacheEffects(skipped), ModelLayer(skipped)
    return cache.effects(), cache.model_layer()


def build_slim(model: str | Path | None = None) -> str:
    """The kit's slim image (lab 04's, built once and cached); its build log goes to this run's
    folder and one line says where."""
    log = LogFile("build-slim")
    tag = builds.build_slim(model, on_log=log)
    print(log.summary())
    return tag


def slim_dockerfile() -> str:
    """The slim image's Dockerfile (``docker/Dockerfile``), as the repository holds it."""
    return (DOCKER / "Dockerfile").read_text()


def buildah_twice(
    prefix: str, model: Path, recipe: BuildRecipe, run: bool = True
) -> tuple[RebuildComparison, buildah.BuildahTwice | None]:
    """Two ``buildah bud --no-cache`` builds with ``recipe`` (exercise 2's Dockerfile and
    settings): the comparison and the builds; not run (and no builds) where buildah cannot
    build here or ``run`` is False (the lab's ``BUILDAH``)."""
    if not run:
        return rebuilds.not_run("BUILDAH is False"), None
    return buildah.try_buildah_twice(prefix, model, **recipe.options())


@dataclass
class BuildahInDocker:
    """A buildah build loaded into Docker: its tag and ID there, served by the engine, and the
    digest a registry push of it would give."""

    docker_tag: str
    docker_id: str
    smoke: rebuilds.SmokeTest
    oci_digest: str


def buildah_into_docker(twice: buildah.BuildahTwice, prefix: str) -> BuildahInDocker:
    """Load the first buildah build into Docker (``twice.docker_id`` is set), serve it until
    ``/ready`` answers, and push it to an OCI layout for its manifest digest."""
    docker_tag = f"{prefix}/slim-buildah:docker"
    twice.docker_id = buildah.buildah_to_docker(twice.tags[0], docker_tag)
    smoke = rebuilds.smoke_test(docker_tag, f"{prefix}-buildah")
    oci = buildah.buildah_oci_digest(twice.tags[0])
    return BuildahInDocker(docker_tag, twice.docker_id, smoke, oci["manifest_digest"])


def base_tar_twice(
    prefix: str, run: bool = True
) -> tuple[rebuilds.BaseTarTwice | None, RebuildComparison]:
    """The mmdebstrap base built twice: the runs (None where it did not run) and the C2 pair
    "same tar sha256?"; not run when ``run`` is False (the lab's ``BASE_TWICE``), failed with
    the error where the build failed (it needs Debian's mirror)."""
    if run:
        outcome, base = attempt(rebuilds.base_tar_twice, prefix)
    else:
        outcome, base = Outcome.not_run("BASE_TWICE is False"), None
    pair = base.comparison() if base else RebuildComparison(outcome, identity="tar sha256")
    return base, pair


def rebuild_rows(c2: Rebuilds) -> list[dict[str, Any]]:
    """One row per rebuild pair of the C2 record: same identity or not, and what differs."""
    pairs = {
        "docker cached": c2.docker_cached,
        "docker --no-cache": c2.docker_nocache,
        "buildah": c2.buildah,
        "buildkit": c2.buildkit,
        "base tar": c2.base_tar,
    }
    return [
        {
            "pair": name,
            "outcome": pair.outcome,
            "same": pair.same,
            "identity": pair.identity,
            "differing fields": ", ".join(pair.differing_fields)[:70],
        }
        for name, pair in pairs.items()
        if pair is not None
    ]


# --- the integrity gate -------------------------------------------------------------------------


def integrity_gates_tried(model: Path, image: str, prefix: str) -> integrity_gates.IntegrityGates:
    """A copy of ``model`` with one byte flipped, tried at four gates: a build that checks
    before Docker sees the model, a build whose staged file changed (``RUN sha256sum
    --check``), the server on the host, and the server in ``image``."""
    bad = integrity_gates.tampered_copy(model, artifact("repro", "tampered", "x").parent)
    tag = f"{prefix}/slim:tampered"
    return integrity_gates.IntegrityGates(
        [
            integrity_gates.build_refuses(bad, tag),
            integrity_gates.dockerfile_refuses(model, tag),
            integrity_gates.server_refuses(bad),
            integrity_gates.container_refuses(image, bad),
        ]
    )
