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
from dataclasses import dataclass, field, replace
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
    latency_std_ms: list[float] = field(default_factory=list)  # per batch: the calls' spread
    repeats: int | None = None  # timed calls per batch

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
    spread = [float(s.std_ms) for s in stats]
    fit = replace(fit, latency_std_ms=spread, repeats=min(s.repeats for s in stats))
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
        axis.set_ylim(bottom=0)  # from zero: a flat T(n) must look flat
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- does the law describe the data? (claim C7) ------------------------------------------------


@dataclass(frozen=True)
class LawCheck:
    """C7's test of L(n) = a + b·n on a measured sweep. The law needs a fixed cost a ≥ 0: an
    unconstrained fit whose a is below zero by more than twice its standard error means the
    law does not describe the data. Otherwise a is refitted with a ≥ 0 and compared with the
    no-batching law (a = 0: T(n) = 1/b for every n), and the measured gain T(n*)/T(1) is given
    with its spread (two standard errors of the means); a gain within it is no gain."""

    a_ms: float  # unconstrained least squares
    a_se_ms: float | None  # its standard error (None with two batch sizes: no residual)
    rounding_ms: float  # what counts as zero without an error bar: 1e-6 of the mean latency
    a_fit_ms: float  # the fit with a >= 0
    b_fit_ms: float
    r2: float  # of the a >= 0 fit
    gain: float  # measured T(n*)/T(1) (n*: the given one, else the fastest batch)
    gain_spread: float | None  # 2 standard errors of the gain (None: spreads not recorded)
    n_star: int
    law_n_star: int  # the largest measured batch whose fitted latency meets the bound

    @property
    def negative_fixed_cost(self) -> bool:
        """a < 0 beyond two standard errors (beyond rounding where a has no error bar)."""
        margin = 2 * self.a_se_ms if self.a_se_ms is not None else 0.0
        return self.a_ms + margin + self.rounding_ms < 0

    @property
    def fixed_cost_distinguishable(self) -> bool | None:
        """a > 0 by more than two standard errors; None without an error bar."""
        if self.a_se_ms is None:
            return None
        return self.a_ms - 2 * self.a_se_ms - self.rounding_ms > 0

    @property
    def gain_distinguishable(self) -> bool | None:
        """|T(n*)/T(1) − 1| beyond the gain's spread; None without recorded spreads."""
        return None if self.gain_spread is None else abs(self.gain - 1) > self.gain_spread


def check_law(fit: BatchFit) -> LawCheck:
    """:class:`LawCheck` of a recorded :class:`BatchFit` (its batches, T values and spreads)."""
    n = np.asarray(fit.batches, dtype=np.float64)
    latency = 1000.0 * n / np.asarray(fit.throughput, dtype=np.float64)
    design = np.stack([np.ones_like(n), n], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, latency, rcond=None)
    a_ols, a_se = float(a), None
    if len(n) > 2:
        sigma2 = float(((latency - design @ np.array([a, b])) ** 2).sum()) / (len(n) - 2)
        a_se = math.sqrt(sigma2 * float(np.linalg.inv(design.T @ design)[0, 0]))
    if a < 0:  # the constrained optimum sits on a = 0
        a, b = 0.0, float(n @ latency / (n @ n))
    residual = latency - (a + b * n)
    total = float(((latency - latency.mean()) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / total if total > 0 else 1.0
    t = np.asarray(fit.throughput)
    first = int(np.argmin(n))
    best = fit.batches.index(fit.n_star) if fit.n_star in fit.batches else int(np.argmax(t))
    gain = float(t[best] / t[first])
    spread = None
    if fit.latency_std_ms and fit.repeats:
        sd, r = np.asarray(fit.latency_std_ms), math.sqrt(fit.repeats)
        rel = math.hypot(sd[best] / (r * latency[best]), sd[first] / (r * latency[first]))
        spread = 2 * gain * rel
    bound = fit.latency_bound_ms if fit.latency_bound_ms is not None else math.inf
    within = [int(v) for v in n if a + b * v <= bound] or [int(n[first])]
    return LawCheck(
        a_ols,
        a_se,
        1e-6 * float(latency.mean()),
        float(a),
        float(b),
        r2,
        gain,
        spread,
        int(n[best]),
        max(within),
    )
