"""Container overhead η = T_container / T_native (claim C5; the lecture says 0.95 on CPU).

The same probe (:mod:`mllab.experiments.resources.probe`), the same model file (checked by sha256),
the
same threads, natively and in a container without limits, interleaved A B A B so that drift of
a shared machine hits both sides, and (where root may) in sibling CPU cgroups of equal, raised
weight (:mod:`mllab.experiments.resources.cpu_groups`): the scheduler shares CPU between cgroups,
so a
container and a native process are otherwise not scheduled alike on a busy machine.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from mllab.containers.engine import client
from mllab.core.errors import InputError, MllabError
from mllab.core.hashing import sha256_file
from mllab.core.outcome import Outcome
from mllab.experiments.resources.container_limits import slim_image
from mllab.experiments.resources.cpu_groups import DEFAULT_GROUPS, measurement_groups
from mllab.experiments.resources.probe_runs import ProbeRun, native_probe, run_probe
from mllab.model.artifacts import default_model
from mllab.runtime.cgroup import usable_cpus

if TYPE_CHECKING:  # annotations only: matplotlib is imported when the notebook plots
    from matplotlib.figure import Figure

#: why lab 07 has no η on a GPU
GPU_NOT_RUN = Outcome.not_run(
    "lab 07 measures η on the CPU only (the slim image has no CUDA runtime)"
)


@dataclass
class OverheadRound:
    """One A B round: both sides' throughput and median call."""

    container_per_s: float
    native_per_s: float
    container_p50_ms: float
    native_p50_ms: float

    @property
    def ratio(self) -> float:
        return self.container_per_s / self.native_per_s


@dataclass
class Overhead:
    """η of the same probe in a container and natively (claim C5's record).

    ``eta_cpu``: median over rounds of T_container / T_native (same round); ``native_ms`` /
    ``container_ms``: mean time per inference over all rounds; ``gpu``: whether η on a GPU was
    measured (``eta_gpu``). The figures are None when ``outcome`` is not "ran".
    """

    outcome: Outcome
    eta_cpu: float | None = None
    native_ms: float | None = None
    container_ms: float | None = None
    gpu: Outcome = GPU_NOT_RUN
    eta_gpu: float | None = None
    eta_pooled: float | None = None  # native_ms / container_ms: all inferences pooled
    eta_median: float | None = None  # median native call / median container call
    eta_best: float | None = None  # fastest native call / fastest container call
    threads: int | None = None
    repeats: int | None = None
    cgroups: str = ""  # where both sides ran (measurement_groups' note)
    rounds: list[OverheadRound] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def ratios(self) -> list[float]:
        return [r.ratio for r in self.rounds]


def image_model_sha256(tag: str) -> str | None:
    """The model digest the image's label records (``org.mllab.model.sha256``), if any."""
    labels = client().images.get(tag).attrs.get("Config", {}).get("Labels") or {}
    value = labels.get("org.mllab.model.sha256")
    return value if value and value != "unset" else None


def _ms_per_inference(runs: list[ProbeRun]) -> float:
    return 1000.0 * sum(r.repeats / r.throughput for r in runs) / sum(r.repeats for r in runs)


def summarize(
    container: list[ProbeRun], native: list[ProbeRun], threads: int, repeats: int, note: str
) -> Overhead:
    """An :class:`Overhead` from the rounds' probe runs (same order on both sides)."""
    rounds = [
        OverheadRound(c.throughput, n.throughput, c.p50_ms, n.p50_ms)
        for c, n in zip(container, native, strict=True)
    ]
    native_ms, container_ms = _ms_per_inference(native), _ms_per_inference(container)
    calls = {
        side: [v for r in runs for v in r.samples_ms]
        for side, runs in (("container", container), ("native", native))
    }
    return Overhead(
        outcome=Outcome.ran(),
        eta_cpu=float(np.median([r.ratio for r in rounds])),
        native_ms=native_ms,
        container_ms=container_ms,
        eta_pooled=native_ms / container_ms,
        eta_median=float(np.median(calls["native"]) / np.median(calls["container"])),
        eta_best=min(calls["native"]) / min(calls["container"]),
        threads=threads,
        repeats=repeats,
        cgroups=note,
        rounds=rounds,
    )


def overhead(
    tag: str | None = None,
    model: str | Path | None = None,
    threads: int | None = None,
    rounds: int = 4,
    repeats: int = 20,
    warmup: int = 3,
    progress: bool = True,
    match_cgroups: bool = True,
) -> Overhead:
    """η: the probe natively and in a container (no limits), alternating ``rounds`` times;
    same model file, same ``threads`` (default: this host's usable CPUs), same input. The
    container comes first in odd rounds and second in even ones, so neither side always runs
    on a machine the other has just warmed or loaded. ``match_cgroups``: both sides in sibling
    CPU cgroups of equal weight where possible."""
    if rounds < 1:
        raise InputError(f"rounds must be >= 1, not {rounds}")
    if threads is not None and threads < 1:
        raise InputError(f"threads must be >= 1 (or None: this host's usable CPUs), not {threads}")
    model = model or default_model()
    tag = tag or slim_image()
    in_image = image_model_sha256(tag)
    if in_image and in_image != sha256_file(model):
        raise MllabError(
            f"the image {tag} serves a model with sha256 {in_image[:12]}…, not "
            f"{Path(model).name}: η would compare two different models"
        )
    threads = threads or usable_cpus()
    container: list[ProbeRun] = []
    native: list[ProbeRun] = []
    with contextlib.ExitStack() as stack:
        groups = stack.enter_context(measurement_groups()) if match_cgroups else DEFAULT_GROUPS
        for i in range(rounds):
            for side in ("container", "native") if i % 2 == 0 else ("native", "container"):
                if side == "container":
                    parent = groups.container_parent
                    container.append(
                        run_probe(tag, None, threads, repeats, warmup, cgroup_parent=parent)
                    )
                else:
                    native.append(
                        native_probe(model, threads, repeats, warmup, cgroup=groups.native)
                    )
            if progress:
                print(
                    f"round {i + 1}/{rounds}: container {container[-1].throughput:.2f}/s, "
                    f"native {native[-1].throughput:.2f}/s",
                    flush=True,
                )
    return summarize(container, native, threads, repeats, groups.note)


def plot_overhead(result: Overhead) -> Figure:
    """Throughput per round, container and native side by side, with η."""
    import matplotlib.pyplot as plt  # deferred: start-up time; only the notebook plots

    fig, ax = plt.subplots(figsize=(7, 3.4))
    x = np.arange(len(result.rounds))
    ax.bar(x - 0.2, [r.native_per_s for r in result.rounds], 0.4, label="native")
    ax.bar(x + 0.2, [r.container_per_s for r in result.rounds], 0.4, label="container")
    ax.set_xticks(x, [f"round {i + 1}" for i in x])
    ax.set(ylabel="inferences/s", title=f"η = {result.eta_cpu:.3f} ({result.threads} threads)")
    ax.legend()
    fig.tight_layout()
    return fig
