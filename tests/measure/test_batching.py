"""mllab.measure.batching: the T(n) = n/(a + bn) fit on synthetic data, n*, the BatchFit record."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mllab.core.errors import InputError
from mllab.measure.batching import (
    BatchFit,
    best_batch,
    fit_line,
    fit_sweep,
    fit_throughput,
    plot_sweep,
    sweep_table,
)
from mllab.measure.stats import Stats, summarize


def test_batch_fit_has_the_fields_claim_c7_reads():
    names = [f.name for f in dataclasses.fields(BatchFit)]
    assert names[:7] == [
        "a_ms",
        "b_ms",
        "r2",
        "n_star",
        "latency_bound_ms",
        "batches",
        "throughput",
    ]
    assert BatchFit.SCHEMA_VERSION == 1


def test_fit_recovers_a_and_b_exactly_without_noise():
    n = np.array([1, 2, 4, 8, 16, 32])
    a, b = 12.0, 3.5
    fit = fit_throughput(n, 1000.0 * n / (a + b * n))
    assert fit.a_ms == pytest.approx(a) and fit.b_ms == pytest.approx(b)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.max_throughput == pytest.approx(1000.0 / b)
    assert fit.predicted_throughput(8) == pytest.approx(8000.0 / (a + 8 * b))
    assert fit.batches == [1, 2, 4, 8, 16, 32] and fit.n_star is None


def test_fit_recovers_a_and_b_from_noisy_data():
    rng = np.random.default_rng(0)
    n = np.repeat([1, 2, 4, 8, 16, 32, 64], 3)
    a, b = 20.0, 6.0
    latency = (a + b * n) * (1 + 0.02 * rng.standard_normal(n.shape))  # 2 % noise
    fit = fit_throughput(n, 1000.0 * n / latency)
    assert fit.a_ms == pytest.approx(a, rel=0.25)
    assert fit.b_ms == pytest.approx(b, rel=0.03)
    assert 0.99 < fit.r2 < 1.0  # noise leaves some variance unexplained, not much


def test_r2_is_low_when_latency_does_not_grow_linearly():
    n = np.array([1, 2, 4, 8, 16, 32])
    latency = np.array([10.0, 40.0, 12.0, 45.0, 11.0, 44.0])  # no line through these
    fit = fit_throughput(n, 1000.0 * n / latency)
    assert fit.r2 < 0.5


def test_fit_refuses_what_it_cannot_fit():
    with pytest.raises(InputError, match="two different batch sizes"):
        fit_throughput([4, 4], [10.0, 11.0])
    with pytest.raises(InputError, match="positive"):
        fit_throughput([1, 2], [10.0, 0.0])
    with pytest.raises(InputError, match="equal length"):
        fit_throughput([1, 2, 4], [10.0, 11.0])


def _sweep(a: float, b: float, batches=(1, 2, 4, 8, 16)) -> list[Stats]:
    """A synthetic sweep: every call at batch n takes a + b·n ms (p99 = 1.2 × that)."""
    return [
        summarize([(a + b * n) / 1000.0] * 99 + [1.2 * (a + b * n) / 1000.0], batch=n)
        for n in batches
    ]


def test_best_batch_respects_the_latency_bound():
    stats = _sweep(10.0, 5.0)  # mean latency 15, 20, 30, 50, 90 ms; p99 1.2× that
    fit = fit_sweep(stats)
    assert best_batch(stats, None, 40.0) == 4  # p99 36 ms <= 40 < 60 ms
    assert best_batch(stats, None, 60.0) == 8
    assert best_batch(stats, None, 1000.0) == 16
    assert best_batch(stats, None, 40.0, percentile="mean") == 4
    assert best_batch(stats, None, 10.0) is None
    assert best_batch(stats, fit, 60.0) == 8
    for bound in (20.0, 40.0, 60.0, 120.0):
        chosen = best_batch(stats, fit, bound)
        assert next(s for s in stats if s.batch == chosen).p99_ms <= bound


def test_extrapolated_n_star_is_the_largest_batch_under_the_bound():
    fit = fit_sweep(_sweep(10.0, 5.0))
    for bound in (16.0, 60.0, 333.0):
        n = fit.extrapolated_n_star(bound)
        assert fit.predicted_latency_ms(n) <= bound < fit.predicted_latency_ms(n + 1)
    assert fit.extrapolated_n_star(60.0) == 9  # mean latency is 1.002 × (10 + 5 n): 9.98 -> 9
    assert fit.extrapolated_n_star(10.0) is None


def test_fit_sweep_with_a_bound_records_n_star():
    stats = _sweep(10.0, 5.0)
    fit = fit_sweep(stats, latency_bound_ms=60.0)
    assert fit.n_star == 8 and fit.latency_bound_ms == 60.0
    assert fit.throughput == pytest.approx([1000.0 * s.batch / s.mean_ms for s in stats])
    assert fit_sweep(stats, latency_bound_ms=10.0).n_star is None  # no batch meets it


def test_best_batch_refuses_an_unknown_percentile():
    with pytest.raises(InputError, match="percentile"):
        best_batch(_sweep(1.0, 1.0), None, 10.0, percentile="p95")


def test_sweep_table_and_fit_line():
    stats = _sweep(10.0, 5.0, batches=(1, 2))
    lines = sweep_table(stats, fit_sweep(stats)).splitlines()
    assert lines[0].split() == [
        "batch",
        "repeats",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "mean_ms",
        "throughput",
        "fit_ms",
        "fit_throughput",
    ]
    assert len(lines) == 4 and lines[2].split()[:2] == ["1", "100"]  # header, rule, 2 rows
    assert "R² = 1.0000" in fit_line(fit_sweep(stats))


def test_plot_sweep_draws_both_panels():
    import matplotlib

    matplotlib.use("Agg")
    stats = _sweep(10.0, 5.0)
    fig = plot_sweep(stats, fit_sweep(stats, latency_bound_ms=60.0))
    left, right = fig.axes
    assert left.get_ylabel().startswith("latency") and right.get_ylabel().startswith("throughput")
    assert len(right.lines) == 3  # measured points, fitted curve, n* line
