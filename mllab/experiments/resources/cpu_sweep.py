"""Latency under ``--cpus`` quotas: one probe per (quota, thread policy), and its plot.

Each point runs :mod:`mllab.experiments.resources.probe` in a fresh container of the slim image: the
model is loaded, warmed up, then ``session.run`` is timed call by call, and the container's
``cpu.stat`` is read before and after (``nr_throttled``/``throttled_time`` count the CFS periods
in which the quota ran out). Threads: ``os.cpu_count()`` inside a container is the *host's*
core count; sizing ONNX Runtime's pool from it (``threads="host"``) oversubscribes a small
quota. The server's default, ``threads=None``, reads the quota
(:func:`mllab.runtime.cgroup.usable_cpus`).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mllab.core.errors import InputError
from mllab.experiments.resources.container_limits import CPUS, parse_cpus, slim_image
from mllab.experiments.resources.cpu_groups import DEFAULT_GROUPS, measurement_groups
from mllab.experiments.resources.lc_fit import LcFit
from mllab.experiments.resources.probe import THREAD_POLICIES, probe_args
from mllab.experiments.resources.probe_runs import ProbeRun, run_probe

if TYPE_CHECKING:  # annotations only: matplotlib is imported when the notebook plots
    from matplotlib.figure import Figure

#: the columns of a sweep's table
ROW_FIELDS = (
    "cpus",
    "policy",
    "threads",
    "p50_ms",
    "p99_ms",
    "max_ms",
    "mean_ms",
    "throughput",
    "nr_throttled",
    "nr_periods",
    "throttled_ms",
)


@dataclass
class CpuSweep:
    """Every (``--cpus``, thread policy) point of a sweep, each its least disturbed round.

    ``same_runs``: ``[cpus, policy, measured_as]`` for each point whose policy gives the same
    thread count as an earlier policy at the same quota (on 2 cores, ``quota`` at ``--cpus=2``
    is ``host``): the same container and session, so it was measured once and its run is
    ``measured_as``'s."""

    runs: list[ProbeRun]
    rounds: int
    cgroups: str  # where the containers ran (measurement_groups' note)
    same_runs: list[list[Any]] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 2

    def rows(self) -> list[dict[str, Any]]:
        """Table rows (``mllab.core.tables.format_table``); ``cpus`` None reads "unlimited";
        a point measured once for two policies says so in ``measured as``."""
        shared = {(cpus, str(policy)): str(like) for cpus, policy, like in self.same_runs}
        rows = []
        for run in self.runs:
            row = {key: getattr(run, key) for key in ROW_FIELDS}
            if shared:
                row["measured as"] = shared.get((run.cpus, str(run.policy)), "")
            row["cpus"] = "unlimited" if row["cpus"] is None else row["cpus"]
            rows.append(row)
        return rows

    def policies(self) -> list[str | int]:
        return list(dict.fromkeys(run.policy for run in self.runs))


@dataclass
class _Best:
    """The least disturbed round of one point so far, and every round's mean."""

    run: ProbeRun | None = None
    means: list[float] = field(default_factory=list)

    def add(self, run: ProbeRun) -> None:
        self.means.append(run.mean_ms)
        if self.run is None or run.mean_ms < self.run.mean_ms:
            self.run = run


def cpu_sweep(
    tag: str | None = None,
    cpus: Sequence[float | None] = CPUS,
    policies: Sequence[str | int] = THREAD_POLICIES,
    repeats: int = 30,
    warmup: int = 3,
    rounds: int = 1,
    progress: bool = True,
    own_groups: bool = True,
) -> CpuSweep:
    """One :func:`~mllab.experiments.resources.probe_runs.run_probe` per (``--cpus``, thread
    policy);
    ``None`` in ``cpus`` = unlimited.

    ``own_groups``: the containers run in a CPU cgroup of raised weight where possible
    (:func:`~mllab.experiments.resources.cpu_groups.measurement_groups`), so that other work on the
    machine blurs the quota less. With ``rounds`` > 1 the whole sweep is repeated (in reverse
    order every other round) and each point keeps its round of lowest mean: other work on a
    shared machine only ever adds time, while the quota's effect is there in every round.
    """
    for value in cpus:
        parse_cpus(value)  # every bad value is refused before anything is built or started
    for policy in policies:
        probe_args(policy, repeats, warmup, 1, cgroup=True)
    if rounds < 1:
        raise InputError(f"rounds must be >= 1, not {rounds}")
    tag = tag or slim_image()
    points = [(value, policy) for value in cpus for policy in policies]
    twins = _same_session(points)  # point -> the earlier point that runs the same session
    measured = [point for point in points if point not in twins]
    best = {point: _Best() for point in measured}
    with contextlib.ExitStack() as stack:
        groups = stack.enter_context(measurement_groups()) if own_groups else DEFAULT_GROUPS
        if progress:
            print(f"containers in {groups.note}", flush=True)
        for i in range(rounds):
            for value, policy in measured if i % 2 == 0 else measured[::-1]:
                parent = groups.container_parent
                run = run_probe(tag, value, policy, repeats, warmup, cgroup_parent=parent)
                best[value, policy].add(run)
                if progress:
                    print(
                        f"round {i + 1}: --cpus={value or 'unlimited'} threads={policy}"
                        f"({run.threads}): p50 {run.p50_ms:.1f} ms p99 {run.p99_ms:.1f} ms "
                        f"throttled {run.nr_throttled}/{run.nr_periods}",
                        flush=True,
                    )
    runs = []
    for point in points:
        kept = best[twins.get(point, point)].run
        assert kept is not None  # rounds >= 1: every measured point ran
        kept.round_means_ms = best[twins.get(point, point)].means
        runs.append(replace(kept, policy=point[1]) if point in twins else kept)
    same = [
        [value, policy, twins[value, policy][1]]
        for value, policy in points
        if (value, policy) in twins
    ]
    return CpuSweep(runs, rounds, groups.note, same)


def expected_threads(cpus: float | None, policy: str | int) -> int:
    """The intra-op threads a probe's session gets in a container with ``--cpus=cpus``:
    ``host`` = ``os.cpu_count()`` (a container sees the host's cores), ``quota`` = ⌈cpus⌉
    capped by the cores (:func:`mllab.runtime.cgroup.usable_cpus` inside), an int = itself."""
    cores = os.cpu_count() or 1
    if policy == "host":
        return cores
    if policy == "quota":
        return cores if cpus is None else min(cores, max(1, math.ceil(cpus)))
    return int(policy)


def _same_session(points: Sequence[tuple[float | None, str | int]]) -> dict[Any, Any]:
    """Each point whose session (quota and thread count) an earlier point already runs, mapped
    to that earlier point: measuring it again would only measure the machine's noise."""
    first: dict[tuple[float | None, int], tuple[float | None, str | int]] = {}
    twins = {}
    for point in points:
        key = (point[0], expected_threads(*point))
        if key in first:
            twins[point] = first[key]
        else:
            first[key] = point
    return twins


def _policy_label(policy: str | int) -> str:
    return f"{policy} thread{'s' if policy != 1 else ''}" if isinstance(policy, int) else policy


def plot_sweep(sweep: CpuSweep, fits: Mapping[Any, LcFit] | None = None) -> Figure:
    """Three panels against ``--cpus``, one colour per thread policy: the mean latency with
    its L(c) fit; p50 against p99 and max; the share of throttled CFS periods."""
    import matplotlib.pyplot as plt  # deferred: start-up time; only the notebook plots

    fig, (law, tail, thr) = plt.subplots(1, 3, figsize=(15, 4))
    policies = sweep.policies()
    width = 0.8 / max(1, len(policies))
    for i, policy in enumerate(policies):
        limited = (r for r in sweep.runs if r.policy == policy and r.cpus)
        points = sorted(limited, key=lambda r: r.cpus or 0.0)
        c = [r.cpus or 0.0 for r in points]  # all set: only limited runs are plotted here
        color, name = f"C{i}", _policy_label(policy)
        law.plot(c, [r.mean_ms for r in points], "o", color=color, label=f"{name}: mean")
        fit = (fits or {}).get(policy)
        if fit is not None and fit.outcome.ok:
            grid = np.linspace(min(c), max(c), 200)
            label = f"fit c_opt={fit.c_opt:.2f}, R²={fit.r2:.2f}"
            law.plot(grid, fit.predict(grid), "-", color=color, alpha=0.6, label=label)
        tail.plot(c, [r.p50_ms for r in points], "o-", color=color, label=f"{name}: p50")
        tail.plot(c, [r.p99_ms for r in points], "s--", color=color, label=f"{name}: p99")
        tail.plot(c, [r.max_ms for r in points], "x:", color=color, label=f"{name}: max")
        share = [r.throttled_fraction or 0 for r in points]
        thr.bar(np.arange(len(points)) + width * i, share, width, color=color, label=name)
        thr.set_xticks(np.arange(len(points)) + width * (len(policies) - 1) / 2, map(str, c))
    law.set(xlabel="--cpus", ylabel="mean latency, ms", title="L(c) ~ 1/min(c, c_opt)")
    law.set_ylim(bottom=0)  # from zero: a flat L(c) must look flat
    tail.set(xlabel="--cpus", ylabel="ms", yscale="log", title="p50 against p99 and max")
    thr.set(xlabel="--cpus", ylabel="throttled / all CFS periods", title="throttling (cpu.stat)")
    for ax in (law, tail, thr):
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
