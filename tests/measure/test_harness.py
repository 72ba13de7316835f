"""mllab.measure.harness: statistics of the timed loop on a known workload, and the sweep."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mllab.core.errors import InputError
from mllab.measure.harness import batch_sweep, lecture_loop, measure, parse_batches
from mllab.runtime.sessions import create_session


def test_measure_statistics_on_a_fake_clock(clock):
    durations = iter([1000.0] * 3 + list(np.random.default_rng(0).permutation(100) + 1.0))
    stats = measure(
        lambda: clock.advance(next(durations)),
        warmup=3,
        repeats=100,
        batch=4,
        progress=False,
        clock=clock,
    )
    # the three 1000 ms warm-up calls are not timed; the timed calls took 1, 2, ..., 100 ms
    assert stats.repeats == 100 and stats.min_ms == pytest.approx(1.0)
    assert stats.p50_ms == pytest.approx(50.5)
    assert stats.p90_ms == pytest.approx(90.1)
    assert stats.p99_ms == pytest.approx(99.01)
    assert stats.mean_ms == pytest.approx(50.5)
    assert stats.std_ms == pytest.approx(np.std(np.arange(1, 101), ddof=1))
    assert stats.throughput == pytest.approx(4 * 100 / 5.050)  # 400 items in 5.05 s


def test_sync_is_inside_the_timed_region(clock):
    synced = []

    def sync():
        synced.append(1)
        clock.advance(5.0)  # the device finishes 5 ms after the launch returned

    stats = measure(lambda: clock.advance(2.0), 1, 10, sync, progress=False, clock=clock)
    assert len(synced) == 11  # after the warm-up call too
    assert stats.p50_ms == pytest.approx(7.0) and stats.p99_ms == pytest.approx(7.0)


def test_budget_stops_early_but_keeps_three_calls(clock):
    stats = measure(lambda: clock.advance(400.0), 0, 50, budget_s=1.0, progress=False, clock=clock)
    assert stats.repeats == 3


def test_measure_real_sleeps():
    stats = measure(lambda: time.sleep(0.02), warmup=1, repeats=5, progress=False)
    assert 20.0 <= stats.min_ms <= stats.p50_ms <= stats.p99_ms
    assert stats.throughput <= 1000.0 / 20.0


def test_measure_refuses_no_repeats():
    with pytest.raises(InputError):
        measure(lambda: None, repeats=0, progress=False)


def test_parse_batches():
    assert parse_batches("8,1, 2,4,4") == [1, 2, 4, 8]
    for bad in ("1,x", "0,2", ""):
        with pytest.raises(InputError):
            parse_batches(bad)


def test_batch_sweep_on_a_session(tiny):
    session = create_session(tiny)
    stats = batch_sweep(session, [4, 1, 2], warmup=1, repeats=3, progress=False)
    assert [s.batch for s in stats] == [1, 2, 4]
    assert all(s.repeats == 3 and s.throughput > 0 for s in stats)


def test_batch_sweep_on_a_factory():
    made, calls = [], []

    def make(n):
        made.append(n)
        if n == 1:
            return lambda: calls.append(n)  # a bare fn, or ...
        return (lambda: calls.append(n)), (lambda: calls.append("sync"))  # ... (fn, sync)

    stats = batch_sweep(make, [2, 1], warmup=1, repeats=2, progress=False)
    assert made == [1, 2] and [s.batch for s in stats] == [1, 2]
    assert calls == [1, 1, 1, 2, "sync", 2, "sync", 2, "sync"]


def test_lecture_loop_reports_latency_and_throughput(tiny):
    session = create_session(tiny)
    x = np.zeros((1, 3, 8, 8), np.float32)
    loop = lecture_loop(session, x, 5)
    assert loop["latency_ms"] > 0
    assert loop["throughput"] == pytest.approx(1000.0 / loop["latency_ms"])
