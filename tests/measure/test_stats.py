"""mllab.measure.stats: one summary of timings, numpy percentiles, round-robin timing."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.core.errors import InputError
from mllab.measure.stats import Stats, interleaved, summarize


def test_summarize_uses_numpy_percentiles():
    samples_s = [0.005, 0.001, 0.003, 0.009, 0.007, 0.002]
    stats = summarize(samples_s, batch=2, name="x")
    ms = np.array(samples_s) * 1000.0
    for q in (50, 90, 99):
        assert getattr(stats, f"p{q}_ms") == pytest.approx(np.percentile(ms, q))
    assert stats.median_ms == stats.p50_ms == pytest.approx(4.0)
    assert stats.min_ms == pytest.approx(1.0) and stats.mean_ms == pytest.approx(ms.mean())
    assert stats.std_ms == pytest.approx(np.std(ms, ddof=1))
    assert stats.throughput == pytest.approx(2 * 6 / 0.027)  # items over the summed time
    assert stats.repeats == len(stats.samples_ms) == 6


def test_wall_time_sets_the_throughput_and_one_sample_has_no_spread():
    stats = summarize([0.010], batch=4, wall_s=0.020)
    assert stats.throughput == pytest.approx(200.0) and stats.std_ms == 0.0


def test_to_dict_leaves_the_samples_out_unless_asked():
    stats = summarize([0.001, 0.002])
    assert "samples_ms" not in stats.to_dict()
    assert stats.to_dict(samples=True)["samples_ms"] == pytest.approx((1.0, 2.0))
    assert Stats.SCHEMA_VERSION == 1


@pytest.mark.parametrize("bad", [dict(samples_s=[]), dict(samples_s=[0.1], batch=0)])
def test_summarize_refuses_nothing_to_summarize(bad):
    with pytest.raises(InputError):
        summarize(**bad)


def test_interleaved_alternates_and_times_each(clock):
    order = []

    def call(name: str, ms: float):
        def fn():
            order.append(name)
            clock.advance(ms)

        return fn

    stats = interleaved({"a": call("a", 2.0), "b": call("b", 6.0)}, 3, 1, clock=clock)
    assert order == ["a", "b"] * 4  # one warm-up round, then three timed rounds
    assert stats["a"].repeats == 3 and stats["a"].p50_ms == pytest.approx(2.0)
    assert stats["b"].p50_ms == pytest.approx(6.0) and stats["b"].name == "b"


def test_interleaved_refuses_no_repeats():
    with pytest.raises(InputError):
        interleaved({"a": lambda: None}, repeats=0)
