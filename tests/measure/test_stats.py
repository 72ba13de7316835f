"""mllab.measure.stats: the calls it makes and the statistics it reports."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.measure.stats import interleaved, latency_ms, percentile


def test_warmup_and_repeats_are_counted():
    calls = []
    timing = latency_ms(lambda: calls.append(1), repeats=7, warmup=3)
    assert len(calls) == 10
    assert timing.repeats == len(timing.samples_ms) == 7
    assert timing.min_ms <= timing.median_ms <= timing.p90_ms
    assert set(timing.to_dict()) == {"median_ms", "p90_ms", "mean_ms", "min_ms", "repeats"}


@pytest.mark.parametrize("q", [0, 50, 90, 100])
def test_percentile_matches_numpy(q):
    samples = [5.0, 1.0, 3.0, 9.0, 7.0, 2.0]
    assert percentile(samples, q) == pytest.approx(np.percentile(samples, q))


def test_repeats_must_be_positive():
    with pytest.raises(ValueError):
        latency_ms(lambda: None, repeats=0)


def test_interleaved_alternates_and_times_each():
    order = []
    timings = interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 3, 1)
    assert order == ["a", "b"] * 4
    assert set(timings) == {"a", "b"} and timings["a"].repeats == 3
