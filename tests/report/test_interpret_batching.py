"""Lab 05's reading of the fixed cost a in L(n) = a + b·n: each case from a sweep built here."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mllab.measure.batching import BatchFit, fit_throughput
from mllab.report.interpret.batching import read_fixed_cost
from mllab.report.interpret.text import Reading, language


def fit(latency_ms: list[float], std_ms: float | None = 1.0, batches=(1, 2, 4, 8)) -> BatchFit:
    """A BatchFit of measured mean latencies, n* the largest batch, 5 repeats."""
    n = list(batches)
    made = fit_throughput(n, [1000.0 * k / ms for k, ms in zip(n, latency_ms, strict=True)])
    spread = [std_ms] * len(n) if std_ms is not None else []
    return replace(made, n_star=n[-1], latency_bound_ms=500.0, latency_std_ms=spread, repeats=5)


def test_a_below_zero_means_the_law_does_not_describe_the_data() -> None:
    reading = read_fixed_cost(fit([30, 62, 125, 252]))  # the falling T(n)
    assert reading.case == "law does not describe"
    assert "below zero" in reading.text("en") and "ниже нуля" in reading.text("ru")


def test_a_large_fixed_cost_is_shared_by_batching() -> None:
    reading = read_fixed_cost(fit([12.1, 13.9, 18.2, 26.0]))  # a ≈ 10 ms, b ≈ 2 ms
    assert reading.case == "fixed cost"
    text = reading.text("en")
    assert "distinguishable from zero" in text and "beyond its spread" in text
    assert "more throughput" in text


def test_a_near_zero_with_noise_leaves_batching_nothing_to_share() -> None:
    # like the run: a ≈ 0.9 ms, b ≈ 42.8 ms, T(8)/T(1) ≈ 1.02
    reading = read_fixed_cost(fit([43.9, 85.9, 172.6, 343.0], std_ms=3.0))
    assert reading.case == "no fixed cost"
    text = reading.text("en")
    assert "not distinguishable from zero" in text and "within its spread" in text
    assert "T(8)/T(1) = 1.02" in text and "on this CPU" in text
    assert "на этом CPU" in reading.text("ru")


def test_a_wide_error_bar_on_a_cannot_tell_whether_batching_has_something_to_share() -> None:
    # a recorded CPU run: a = −1.9 ± 7.4 ms allows up to 5.5 ms; T(4)/T(1) = 1.07 ± 0.04
    made = fit_throughput([1, 2, 4, 8], [25.06, 26.20, 26.80, 25.60])
    spread = [1.52, 1.58, 0.82, 2.78]
    recorded = replace(made, n_star=4, latency_bound_ms=500.0, latency_std_ms=spread, repeats=5)
    reading = read_fixed_cost(recorded)
    assert reading.case == "cannot tell"
    text = reading.text("en")
    assert "allow one up to 5.54 ms" in text and "up to 1.10× faster" in text
    assert "T(4)/T(1) = 1.07 ± 0.04, beyond its spread" in text
    assert "слишком шумный" in reading.text("ru")


def test_without_a_recorded_spread_a_near_zero_cannot_be_told_from_a_small_one() -> None:
    reading = read_fixed_cost(fit([43.9, 85.9, 172.6, 343.0], std_ms=None))
    assert reading.case == "cannot tell"
    assert "kept no spread" in reading.text("en")


def test_on_another_device_the_cpu_advice_is_left_out() -> None:
    reading = read_fixed_cost(fit([43.9, 85.9, 172.6, 343.0], std_ms=3.0), device="cuda")
    assert reading.case == "no fixed cost"
    assert "CPU" not in reading.text("en") and "this cuda" in reading.text("en")


def test_two_batch_sizes_give_no_error_bar_and_no_spread_no_judgement_of_the_gain() -> None:
    reading = read_fixed_cost(fit([44.0, 86.0], std_ms=None, batches=(1, 2)))
    assert reading.case == "no error bar"
    assert "kept no spread" in reading.text("en")


def test_the_reading_prints_in_the_kernels_language(monkeypatch: pytest.MonkeyPatch) -> None:
    reading = Reading("x", ["In English."], ["По-русски."])
    monkeypatch.setenv("MLLAB_LANG", "ru_RU.UTF-8")
    assert language() == "ru" and str(reading) == "По-русски."
    monkeypatch.setenv("MLLAB_LANG", "de")
    assert language() == "en" and str(reading) == "In English."
