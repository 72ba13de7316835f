"""Lab 04: Dockerfiles for the lab 02 server: naive, multi-stage slim, CUDA.

The lecture's Dockerfile is an engineering contract, D = F(I_1, ..., I_n). The student writes
the slim one (a builder stage installing from a hash-checked wheelhouse, a runtime stage that
runs as a non-root user, the model last), lints it and compares it with the kit's files, builds
it beside the kit's naive and CUDA images, compares sizes and layers, measures which of the
lecture's three size principles buys how much against its 2–3× (claim C3: an ablation on one
dependency set, :mod:`mllab.experiments.images`), and runs it read-only to measure Δ between
the container and the host (C4).

The kit vocabulary of ``labs/04_dockerfiles.ipynb``, in groups:

- the model, the base image and the build context
- the exercises ex04_order and ex04_interface
- lint, and compare with the kit's Dockerfiles
- build: the student's slim image, then the kit's naive and CUDA images
- sizes and layers
- the size ablation: which principle bought how much (C3), and the dependency diet
- run the slim image, and Δ against the host
- tables, the record and the verdicts on C3 and C4
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from mllab.containers.base import base_image, image_size_mb
from mllab.containers.build import build, build_kind, last_build
from mllab.containers.buildlog import LogFile, steps_only
from mllab.containers.context import build_args, stage_context
from mllab.containers.dockerfiles import concat_dockerfile, hadolint, instruction_diff
from mllab.containers.kinds import LogFn
from mllab.containers.layers import image_sizes, inspect, plot_sizes, size_rows
from mllab.containers.parity import container_parity
from mllab.containers.run import run
from mllab.core.outcome import Outcome, attempt
from mllab.core.paths import ARTIFACTS, DOCKER
from mllab.core.records import load_all, record
from mllab.core.tables import fold, format_table
from mllab.exercises.hidden import hidden_tests
from mllab.exercises.lab04 import (
    check_interface,
    check_order,
    lecture_order,
    order_tradeoff,
    rebuild_table,
)
from mllab.experiments.images.ablation import SizeAblation, run_ablation
from mllab.experiments.images.reading import diet_line, not_built, which_principle
from mllab.experiments.images.reading import table as ablation_table
from mllab.measure.drift import LECTURE_DELTA
from mllab.model.artifacts import default_model
from mllab.model.preprocess import preprocess_batch, sample_images
from mllab.report.claims import judge
from mllab.report.lab_summary import lab_pages
from mllab.runtime.nvidia import nvidia_driver
from mllab.serve.client import predict_image

plan, summary = lab_pages("04")  # every lab's opening and closing cells (kit-wide)

__all__ = [
    # the model, the base image, the build context
    "default_model",
    "base_image",
    "image_size_mb",
    "stage_context",
    "ARTIFACTS",
    "DOCKER",
    # the exercises (ex04_order, ex04_interface)
    "check_order",
    "order_tradeoff",
    "lecture_order",
    "rebuild_table",
    "check_interface",
    "hidden_tests",
    # lint, and compare with the kit's Dockerfiles
    "concat_dockerfile",
    "hadolint",
    "instruction_diff",
    # build
    "build_args",
    "build",
    "steps_only",
    "LogFile",
    "build_images",
    "Builds",
    # sizes and layers
    "size_rows",
    "plot_sizes",
    "inspect",
    "image_sizes",
    # the size ablation (C3) and the dependency diet
    "size_ablation",
    "ablation_table",
    "not_built",
    "diet_line",
    "which_principle",
    # run the slim image; Δ against the host
    "run",
    "sample_images",
    "preprocess_batch",
    "predict_image",
    "container_parity",
    "LECTURE_DELTA",
    # tables, record, verdicts
    "fold",
    "format_table",
    "record",
    "load_all",
    "judge",
]


@dataclass
class BuildRow:
    """One image of the lab in the builds table: its tag (None when there is none), how its
    build went, the seconds the call took now and the last build that really ran (an
    up-to-date image is reused, so "now" is short and the real build is the earlier one)."""

    image: str
    tag: str | None
    build: Outcome
    seconds_now: float | None = None
    last_real_build_s: float | None = None


@dataclass
class Builds:
    """The lab's images: ``tags`` of those that exist (the base and the slim image included),
    each build's ``outcomes`` (what the size record keeps) and the table ``rows``."""

    tags: dict[str, str]
    outcomes: dict[str, Outcome]
    rows: list[BuildRow]


#: what each of the kit's optional images is, and what building it costs the first time
#: (later runs reuse it): said wherever a run leaves it out
WHAT = {
    "naive": "the torch/CUDA research image, ~10 GB, ~3 min cold",
    "cuda": "the onnxruntime-gpu image, ~3 GB, ~2 min cold",
}


def wanted_build(name: str, setting: bool | str) -> tuple[bool, str]:
    """Whether to build image ``name`` from its ``BUILD_<NAME>`` setting, and why not when not.
    ``"auto"`` builds only where an NVIDIA driver answers: the CUDA image is for a machine that
    can run it; on a CPU-only machine ``True`` still builds it."""
    parameter = f"BUILD_{name.upper()}"
    what = f" ({WHAT[name]})" if name in WHAT else ""
    if setting == "auto":
        driver = nvidia_driver()
        why = f'{parameter} = "auto" and this machine has no NVIDIA driver{what}'
        return driver is not None, "" if driver else why
    return bool(setting), "" if setting else f"{parameter} = False{what}"


def build_images(
    wanted: Mapping[str, bool | str], slim: str, base: str, on_log: LogFn | None = steps_only
) -> Builds:
    """Build the kit's images named in ``wanted`` (``{"naive": BUILD_NAIVE, "cuda":
    BUILD_CUDA}``: True, False or "auto", see :func:`wanted_build`) beside the ``slim`` image
    the lab built from the student's Dockerfile.

    Each build is idempotent (an image built from the same inputs is reused). One switched
    off is "not run" and names its parameter; one that fails is "failed" with its error and the
    lab goes on: the claim then reads "not measured here" instead of leaving the image out.
    """
    tags = {"base": base, "slim": slim}
    outcomes = {"slim": Outcome.ran()}
    rows = [BuildRow("slim", slim, outcomes["slim"])]
    for name, setting in wanted.items():
        on, why = wanted_build(name, setting)
        if not on:
            outcomes[name] = Outcome.not_run(why)
            rows.append(BuildRow(name, None, outcomes[name]))
            continue
        start = time.perf_counter()
        outcomes[name], tag = attempt(build_kind, name, on_log=on_log)
        seconds = time.perf_counter() - start
        if tag:
            tags[name] = tag
        last = (last_build(name) or {}).get("seconds") if tag else None
        rows.append(BuildRow(name, tag, outcomes[name], seconds, last))
    return Builds(tags, outcomes, rows)


def size_ablation(full_base: bool, builds: Builds) -> tuple[SizeAblation, LogFile]:
    """Claim C3's ablation (:func:`~mllab.experiments.images.ablation.run_ablation`): every
    combination of the three principles on the slim server's dependencies, the full-base ones
    only with ``full_base``; the naive image of ``builds`` (when built) for the dependency
    diet. The build logs go to the run folder (the log's :meth:`~LogFile.summary` says where)."""
    log = LogFile("size-ablation")
    naive = None
    if "naive" in builds.outcomes:
        naive = (builds.outcomes["naive"], builds.tags.get("naive"))
    return run_ablation(full_base, naive=naive, on_log=log), log
