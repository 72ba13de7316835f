"""Lab 07 — Resource limits, container overhead, load tests and scale-out: the kit, as the
notebook uses it.

The lab measures what ``docker run --cpus/--memory`` does to the slim server image: latency
and CFS throttling under a quota, ONNX Runtime's thread pool sized from the host against the
quota, the lecture's L(c) ~ 1/min(c, c_opt) (claim C8) with the CFS counters of each point,
memory limits above the need (no swap) and below it with swap where the host allows, an OOM
kill; the overhead
η = T_container / T_native (C5); ``docker stats`` under a locust load (C13); and N replicas
behind nginx.

Groups: the engine, the model and the image; limits; overhead; load and ``docker stats``;
scale-out; records, tables and claims; the exercise checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mllab.containers.base import image_size_mb
from mllab.containers.docker_stats import DockerStats, StatsMonitor, plot_stats
from mllab.containers.engine import ensure_engine
from mllab.containers.run import RunningContainer
from mllab.containers.run import run as run_container
from mllab.core.records import load_all, record
from mllab.core.tables import fold, format_table, labelled
from mllab.exercises.hidden import hidden_tests
from mllab.exercises.lab07 import check_lc_fit, check_limits
from mllab.exercises.lab07 import quota_latencies as _quota_latencies
from mllab.experiments.resources.container_limits import slim_image
from mllab.experiments.resources.cpu_sweep import CpuSweep, cpu_sweep
from mllab.experiments.resources.cpu_sweep import plot_sweep as plot_cpu_sweep
from mllab.experiments.resources.lc_fit import LcFit, fit_sweep
from mllab.experiments.resources.memory_limits import memory_limits, memory_lines
from mllab.experiments.resources.oom import oom_demo
from mllab.experiments.resources.overhead import overhead, plot_overhead
from mllab.experiments.resources.scaleout import plot_scale, scale_out
from mllab.experiments.resources.threads import threads_vs_quota
from mllab.measure.load import LoadResult, gevent_effect, plot_load, run_load
from mllab.model.artifacts import default_model
from mllab.report.claims import judge
from mllab.report.lab_summary import lab_pages
from mllab.runtime.cgroup import usable_cpus
from mllab.serve.requests import load_request

plan, summary = lab_pages("07")  # every lab's opening and closing cells (kit-wide)

__all__ = [
    # the engine, the model and the slim server image (lab 04's)
    "ensure_engine",
    "usable_cpus",
    "default_model",
    "slim_image",
    "image_size_mb",
    # limits: the --cpus sweep and L(c) (C8), threads vs the quota
    "cpu_sweep",
    "fit_policy",
    "fit_policies",
    "law_lines",
    "lc_rows",
    "plot_cpu_sweep",
    "threads_vs_quota",
    # memory: limits above the need (no swap), below it with swap, an OOM kill
    "memory_limits",
    "memory_lines",
    "oom_demo",
    # overhead: η = T_container / T_native (C5)
    "overhead",
    "plot_overhead",
    # load with locust, docker stats while it runs (C13)
    "gevent_effect",
    "run_container",
    "StatsMonitor",
    "load_request",
    "run_load",
    "load_with_stats",
    "plot_stats",
    "plot_load",
    # scale-out: N replicas behind nginx
    "scale_out",
    "plot_scale",
    # records, tables and claims
    "record",
    "load_all",
    "fold",
    "labelled",
    "format_table",
    "judge",
    # the exercise checks
    "check_lc_fit",
    "check_limits",
    "quota_latencies",
    "hidden_tests",
]


STATS_AFTER_S = 4.0  # `docker stats --no-stream` this long into the load (locust is up by then)


@dataclass
class LoadWithStats:
    """A locust load on one server, the stats API sampled throughout, and one ``docker stats
    --no-stream`` taken while the load ran (C13 is about a server under load, not an idle one)."""

    load: LoadResult
    monitor: StatsMonitor
    docker_stats: DockerStats
    during_load: bool  # False: the load ended before `docker stats` had its reading


def load_with_stats(
    server: RunningContainer, request: Any, max_seconds: float, **settings: Any
) -> LoadWithStats:
    """``run_load(server.url, request, ...)`` with the stats API sampled throughout and ``docker
    stats --no-stream`` read ``STATS_AFTER_S`` into the load, beside it in a thread."""
    taken: dict[str, DockerStats] = {}

    def snapshot() -> None:
        time.sleep(STATS_AFTER_S)
        taken["stats"] = server.docker_stats()

    with StatsMonitor(server.container) as monitor:
        reader = threading.Thread(target=snapshot, name="mllab-docker-stats", daemon=True)
        reader.start()
        load = run_load(server.url, request, max_seconds=max_seconds, **settings)
        during_load = not reader.is_alive()
        reader.join()
    return LoadWithStats(load, monitor, taken["stats"], during_load)


def fit_policy(sweep: CpuSweep, policy: str | int) -> LcFit:
    """L(c) = scale / min(c, c_opt) fitted by least squares to the mean latencies of one thread
    policy of ``sweep`` (its points under a ``--cpus`` quota); not run, with the reason, when
    they cannot be fitted."""
    return fit_sweep(sweep.runs, policy)


def fit_policies(sweep: CpuSweep, policies: Iterable[str | int]) -> dict[str | int, LcFit]:
    """:func:`fit_policy` for each of ``policies``."""
    return {policy: fit_policy(sweep, policy) for policy in policies}


def quota_latencies(sweep: CpuSweep, policy: str | int) -> dict[float, list[float]]:
    """Exercise 2's measurement: the latency (ms) of every timed call at each ``--cpus`` quota
    of ``sweep``, for one thread ``policy``."""
    return _quota_latencies(sweep.runs, policy)


def law_lines(fits: Mapping[str | int, LcFit]) -> str:
    """One line per policy: its fitted law and R², whether c_opt was identified (not when the
    best c_opt is the largest c measured), or why there is no law."""
    lines = []
    for policy, fit in fits.items():
        if not fit.outcome.ok:
            lines.append(f"{policy!s:>5}: {fit.outcome}")
            continue
        note = "" if fit.identified else " (c_opt >= the largest c: not identified)"
        law = f"L(c) = {fit.scale_ms:.1f} ms / min(c, {fit.c_opt:.2f})"
        lines.append(f"{policy!s:>5}: {law}, R² = {fit.r2:.3f}{note}")
    return "\n".join(lines)


def _share(throttled: int | None, periods: int | None) -> str:
    if throttled is None or periods is None:
        return "unreadable"
    share = f" ({100 * throttled / periods:.0f} %)" if periods else ""
    return f"{throttled}/{periods}{share}"


def lc_rows(fits: Mapping[str | int, LcFit]) -> list[dict[str, Any]]:
    """The L(c) table: per policy and quota the measured mean, the fitted law there and how far
    apart they are, beside the container's CFS counters over that point's timed calls
    (throttled periods / all periods, and the time spent throttled)."""
    rows: list[dict[str, Any]] = []
    for policy, fit in fits.items():
        for i, (c, latency) in enumerate(zip(fit.cpus, fit.latency_ms, strict=True)):
            throttled = fit.nr_throttled[i] if i < len(fit.nr_throttled) else None
            periods = fit.nr_periods[i] if i < len(fit.nr_periods) else None
            waited = fit.throttled_ms[i] if i < len(fit.throttled_ms) else None
            law = float(fit.predict(c)) if fit.outcome.ok else None
            rows.append(
                {
                    "policy": policy,
                    "--cpus": c,
                    "L ms": round(latency, 1),
                    "law ms": "" if law is None else round(law, 1),
                    "off by": "" if law is None else f"{100 * (latency / law - 1):+.0f} %",
                    "throttled periods": _share(throttled, periods),
                    "throttled ms": "" if waited is None else round(waited),
                }
            )
    return rows
