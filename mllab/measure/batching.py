"""The lecture's batching model T(n) = n/(a + bn), fitted to a batch sweep, and n*.

("Parallelism and batch inference"): a is the fixed cost of a call, b the cost per item.
Since L(n) = n/T(n) = a + b·n is linear in n, :func:`fit_throughput` fits a and b by least
squares on the measured latencies and reports R²; :func:`best_batch` picks n*, the measured
batch of highest throughput whose latency stays under a bound. The result is one
:class:`BatchFit` record (claim C7's evidence); whether the claim holds is decided in
:mod:`mllab.report`, not here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from mllab.core.errors import InputError
from mllab.core.tables import format_table
from mllab.measure.stats import Stats

if TYPE_CHECKING:  # annotations only: matplotlib is imported when a lab plots
    from matplotlib.figure import Figure

SWEEP_COLUMNS = ["batch", "repeats", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "throughput"]


@dataclass(frozen=True)
class BatchFit:
    """L(n) = a + b·n (ms), i.e. T(n) = n/(a + b·n), fitted to measured ``throughput`` (items/s)
    at ``batches``; n* picked under ``latency_bound_ms`` (None: no bound was given, or no
    measured batch met it)."""

    a_ms: float  # fixed cost of a call
    b_ms: float  # cost per item
    r2: float  # of the latency fit
    n_star: int | None
    latency_bound_ms: float | None
    batches: list[int]
    throughput: list[float]  # the T(n) values fitted: batch / mean latency

    SCHEMA_VERSION: ClassVar[int] = 1

    def predicted_latency_ms(self, n: float | np.ndarray) -> float | np.ndarray:
        """The fitted latency a + b·n of a batch of ``n``."""
        return self.a_ms + self.b_ms * np.asarray(n, dtype=np.float64)

    def predicted_throughput(self, n: float | np.ndarray) -> float | np.ndarray:
        """The fitted T(n) in items/s."""
        n = np.asarray(n, dtype=np.float64)
        return 1000.0 * n / self.predicted_latency_ms(n)

    @property
    def max_throughput(self) -> float:
        """The asymptote T(∞) = 1/b (items/s): what batching can reach at best."""
        return 1000.0 / self.b_ms if self.b_ms > 0 else math.inf

    def extrapolated_n_star(self, latency_bound_ms: float) -> int | None:
        """Largest n with a + b·n ≤ bound (T(n) grows with n), beyond the measured batches;
        None when even n = 1 is over the bound or the fit has no per-item cost."""
        if self.predicted_latency_ms(1) > latency_bound_ms or self.b_ms <= 0:
            return None
        return int(math.floor((latency_bound_ms - self.a_ms) / self.b_ms))


@dataclass
class BatchSweep:
    """The measured sweep a :class:`BatchFit` was fitted to: where it ran, one Stats per batch."""

    device: str
    provider: str
    threads: int
    stats: list[Stats]

    SCHEMA_VERSION: ClassVar[int] = 1


def fit_throughput(n: Sequence[float], throughput: Sequence[float]) -> BatchFit:
    """Fit T(n) = n/(a + b·n) to measured throughputs (items/s) at batch sizes ``n``.

    1/T = a/n + b, so the latency per call L(n) = n/T(n) = a + b·n is linear in n: ordinary
    least squares on L gives a and b (ms); R² is that of the latency fit. No bound, no n*.
    """
    sizes = np.asarray(n, dtype=np.float64)
    t = np.asarray(throughput, dtype=np.float64)
    if sizes.shape != t.shape or sizes.ndim != 1:
        raise InputError(
            f"n and T must be 1-D and of equal length, not {sizes.shape} and {t.shape}"
        )
    if len(np.unique(sizes)) < 2:
        raise InputError("fitting T(n) needs at least two different batch sizes")
    if (sizes <= 0).any() or (t <= 0).any() or not np.isfinite(t).all():
        raise InputError("batch sizes and throughputs must be positive and finite")
    latency = 1000.0 * sizes / t
    design = np.stack([np.ones_like(sizes), sizes], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, latency, rcond=None)
    residual = latency - (a + b * sizes)
    total = ((latency - latency.mean()) ** 2).sum()
    r2 = 1.0 - (residual**2).sum() / total if total > 0 else 1.0
    return BatchFit(
        a_ms=float(a),
        b_ms=float(b),
        r2=float(r2),
        n_star=None,
        latency_bound_ms=None,
        batches=[int(v) for v in sizes],
        throughput=[float(v) for v in t],
    )


def fit_sweep(
    stats: Sequence[Stats], latency_bound_ms: float | None = None, percentile: str = "p99"
) -> BatchFit:
    """:func:`fit_throughput` on a batch sweep (mean latency, so T = n / mean L), with n*
    (:func:`best_batch` at ``percentile``) when a ``latency_bound_ms`` is given."""
    fit = fit_throughput([s.batch for s in stats], [1000.0 * s.batch / s.mean_ms for s in stats])
    if latency_bound_ms is None:
        return fit
    n_star = best_batch(stats, fit, latency_bound_ms, percentile)
    return replace(fit, n_star=n_star, latency_bound_ms=latency_bound_ms)


def best_batch(
    stats: Sequence[Stats],
    fit: BatchFit | None = None,
    latency_bound_ms: float = 100.0,
    percentile: str = "p99",
) -> int | None:
    """n*: among the measured batches whose ``percentile`` latency is within the bound (and,
    given a ``fit``, whose fitted latency is too), the one with the highest throughput.

    None when no measured batch meets the bound.
    """
    key = f"{percentile}_ms" if percentile != "mean" else "mean_ms"
    if not stats or not hasattr(stats[0], key):
        raise InputError(f"percentile must be one of p50, p90, p99, mean, not {percentile!r}")
    feasible = [
        s
        for s in stats
        if getattr(s, key) <= latency_bound_ms
        and (fit is None or fit.predicted_latency_ms(s.batch) <= latency_bound_ms)
    ]
    if not feasible:
        return None
    return max(feasible, key=lambda s: (s.throughput, -s.batch)).batch


def sweep_table(stats: Sequence[Stats], fit: BatchFit | None = None) -> str:
    """The sweep as a table, with the fitted latency and throughput when ``fit`` is given."""
    rows = []
    for s in stats:
        row = s.to_dict()
        if fit is not None:
            row["fit_ms"] = float(fit.predicted_latency_ms(s.batch))
            row["fit_throughput"] = float(fit.predicted_throughput(s.batch))
        rows.append(row)
    extra = ["fit_ms", "fit_throughput"] if fit is not None else []
    return format_table(rows, SWEEP_COLUMNS + extra)


def fit_line(fit: BatchFit) -> str:
    """The fitted model in one line: a, b, R² and the asymptote T(∞) = 1/b."""
    return (
        f"T(n) = n/(a + bn): a = {fit.a_ms:.4g} ms, b = {fit.b_ms:.4g} ms/item, "
        f"R² = {fit.r2:.4f}, T(∞) = 1/b = {fit.max_throughput:.4g} items/s"
    )


def plot_sweep(stats: Sequence[Stats], fit: BatchFit | None = None, title: str = "") -> Figure:
    """Latency (p50 with p50–p99 whiskers) and throughput vs batch, with the fitted curves,
    the fit's latency bound and n*. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt  # deferred: slow to import, only the labs plot

    n = np.array([s.batch for s in stats], dtype=float)
    grid = np.linspace(1, n.max(), 200)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    p50 = np.array([s.p50_ms for s in stats])
    spread = np.array([[0.0] * len(stats), [s.p99_ms - s.p50_ms for s in stats]])
    left.errorbar(n, p50, yerr=spread, fmt="o", capsize=3, label="measured p50 (bar: p99)")
    right.plot(n, [s.throughput for s in stats], "o", label="measured T(n)")
    if fit is not None:
        left.plot(grid, fit.predicted_latency_ms(grid), "-", label=f"a + b·n (R² = {fit.r2:.3f})")
        curve = f"n/(a + bn), a={fit.a_ms:.3g} ms, b={fit.b_ms:.3g} ms"
        right.plot(grid, fit.predicted_throughput(grid), "-", label=curve)
        if fit.latency_bound_ms is not None:
            left.axhline(fit.latency_bound_ms, color="red", ls="--", label="latency bound")
        if fit.n_star is not None:
            for axis in (left, right):
                axis.axvline(fit.n_star, color="green", ls=":", label=f"n* = {fit.n_star}")
    left.set(xlabel="batch n", ylabel="latency per call, ms", title="L(n)")
    right.set(xlabel="batch n", ylabel="throughput, items/s", title="T(n)")
    for axis in (left, right):
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
