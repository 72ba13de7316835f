"""The lecture's law L(c) ~ 1/min(c, c_opt) (claim C8), fitted to latencies under ``--cpus``.

c_opt is the number of CPUs the model's threads can use: below it, latency falls as 1/c; above
it, more quota cannot help. Beside each point the fit keeps the container's CFS counters over its
timed calls (``cpu.stat``: periods, throttled periods, throttled time), so that a reader sees
whether the quota was what held latency back at that point.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from mllab.core.errors import InputError
from mllab.core.outcome import Outcome, attempt
from mllab.experiments.resources.probe_runs import ProbeRun


@dataclass(frozen=True)
class LcFit:
    """L(c) = scale / min(c, c_opt), fitted by least squares (claim C8's record).

    ``identified`` is False when the best c_opt sits at the largest c measured: latency still
    fell all the way, so c_opt is only known to be at least that (a host cannot grant a
    ``--cpus`` above its own cores). ``outcome`` says whether the fit could be made; the
    figures are None when it could not.

    ``nr_periods``, ``nr_throttled`` and ``throttled_ms`` run beside ``cpus``: the container's
    CFS counters over each point's timed calls (None where ``cpu.stat`` was unreadable; empty
    lists for a fit made from bare numbers, :func:`fit_lc`).
    """

    outcome: Outcome
    cpus: list[float]
    latency_ms: list[float]
    c_opt: float | None = None
    scale_ms: float | None = None  # latency at one full CPU below the knee (L(1) if c_opt >= 1)
    r2: float | None = None
    identified: bool | None = None
    policy: str | int | None = None  # the probe's thread policy the points were measured with
    nr_periods: list[int | None] = field(default_factory=list)  # CFS periods, per point
    nr_throttled: list[int | None] = field(default_factory=list)  # periods the quota ran out
    throttled_ms: list[float | None] = field(default_factory=list)  # time spent throttled

    #: 2: the CFS counters of each point (``nr_periods``, ``nr_throttled``, ``throttled_ms``)
    SCHEMA_VERSION: ClassVar[int] = 2

    def throttled_share(self) -> list[float | None]:
        """Per point: the share of CFS periods in which the quota ran out (None: unreadable)."""
        return [
            None
            if periods is None or throttled is None
            else throttled / periods
            if periods
            else 0.0
            for periods, throttled in zip(self.nr_periods, self.nr_throttled, strict=True)
        ]

    def predict(self, c: float | np.ndarray) -> float | np.ndarray:
        """The fitted law at ``c`` CPUs."""
        if self.c_opt is None or self.scale_ms is None:
            raise InputError(f"no L(c) law to evaluate: {self.outcome}")
        return self.scale_ms / np.minimum(c, self.c_opt)


def fit_lc(cpus: Sequence[float], latency_ms: Sequence[float], grid: int = 2001) -> LcFit:
    """Fit L(c) = s / min(c, c_opt) over the measured (c, L) points.

    For a fixed c_opt the model is linear in s, so s has a closed form (s = Σ g·L / Σ g² with
    g = 1/min(c, c_opt)); c_opt is found by scanning a fine grid between the smallest and the
    largest c (below the smallest c, or above the largest, the data cannot tell c_opt apart).
    """
    c = np.asarray(cpus, dtype=np.float64)
    latency = np.asarray(latency_ms, dtype=np.float64)
    if c.shape != latency.shape or c.size < 2:
        raise InputError("fit_lc needs at least two (cpus, latency) pairs of equal length")
    if np.any(c <= 0) or not np.all(np.isfinite(latency)) or np.any(latency <= 0):
        raise InputError("fit_lc needs positive CPU counts and positive, finite latencies")
    if np.unique(c).size < 2:
        raise InputError("fit_lc needs at least two different CPU counts")
    candidates = np.unique(np.concatenate([np.linspace(c.min(), c.max(), grid), c]))
    best: tuple[float, float, float] | None = None
    for c_opt in candidates:
        g = 1.0 / np.minimum(c, c_opt)
        scale = float(g @ latency / (g @ g))
        sse = float(np.sum((latency - scale * g) ** 2))
        if best is None or sse < best[0] - 1e-12:
            best = (sse, float(c_opt), scale)
    assert best is not None  # candidates is never empty
    sse, c_opt, scale = best
    sst = float(np.sum((latency - latency.mean()) ** 2))
    r2 = 1.0 - sse / sst if sst > 0 else 1.0
    identified = bool(c_opt < c.max() - 1e-9 * c.max())
    return LcFit(Outcome.ran(), c.tolist(), latency.tolist(), c_opt, scale, r2, identified)


def fit_sweep(
    runs: Sequence[ProbeRun], policy: str | int = "quota", stat: str = "mean_ms"
) -> LcFit:
    """:func:`fit_lc` on the limited points of one thread policy; an :class:`LcFit` whose
    outcome is "not run" (with the reason) when those points cannot be fitted.

    The mean (= 1/throughput) is fitted, not the median: throttling shows in the mean and the
    tail, and the lecture's L is the mean, (T_end − T_start)/N. Each point's CFS counters
    (read by the probe before and after its timed calls) go into the fit beside it.
    """
    points = [r for r in runs if r.policy == policy and r.cpus is not None]
    cpus = [float(r.cpus) for r in points if r.cpus is not None]
    latency = [float(getattr(r, stat)) for r in points]
    outcome, fit = attempt(fit_lc, cpus, latency, expected=(InputError,))
    if fit is None:
        fit = LcFit(Outcome.not_run(outcome.reason), cpus, latency)
    return dataclasses.replace(
        fit,
        policy=policy,
        nr_periods=[r.nr_periods for r in points],
        nr_throttled=[r.nr_throttled for r in points],
        throttled_ms=[r.throttled_ms for r in points],
    )
