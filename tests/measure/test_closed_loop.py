"""mllab.measure.closed_loop: every ticket runs once, never more than ``concurrency`` calls at a
time, failures counted with their reason, each call's wall and thread-CPU time kept."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from mllab.core.errors import InputError
from mllab.measure.closed_loop import REASON_CHARS, closed_loop, reason


def test_every_ticket_runs_once_and_the_users_run_side_by_side():
    concurrency, requests = 4, 25
    barrier = threading.Barrier(concurrency, timeout=10)  # all four users in a call at once
    guard, now, peak, first = threading.Lock(), [0], [0], set()

    def call(user: int) -> int:
        with guard:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
            new = user not in first
            first.add(user)
        if new:
            barrier.wait()
        time.sleep(0.001)
        with guard:
            now[0] -= 1
        return user * 10

    result = closed_loop(call, concurrency, requests)
    assert [c.ticket for c in result.calls] == list(range(requests))
    assert result.requests == requests and result.failures == 0 and result.errors == {}
    assert peak[0] == concurrency  # the barrier proves all four ran at once; none beyond
    assert {c.user for c in result.calls} == set(range(concurrency))
    assert all(c.value == c.user * 10 for c in result.calls)
    assert len(result.latencies_s) == requests and result.rps > 0


def test_a_failing_call_is_counted_with_its_reason_and_its_user_goes_on():
    counter = itertools.count()

    def call(user: int) -> str:
        if next(counter) % 3 == 0:
            raise RuntimeError("refused: 503\nmore lines")
        return "ok"

    result = closed_loop(call, 2, 9)
    assert result.requests == 9 and result.failures == 3
    assert result.errors == {"refused: 503": 3}
    assert len(result.answered) == 6 and all(c.value == "ok" for c in result.answered)
    assert all(c.value is None for c in result.calls if c.error is not None)


def test_each_call_keeps_its_own_threads_cpu():
    def call(user: int) -> None:
        if user == 0:  # busy
            end = time.perf_counter() + 0.05
            while time.perf_counter() < end:
                pass
        else:  # asleep: wall time without CPU
            time.sleep(0.05)

    result = closed_loop(call, 2, 2)
    busy, asleep = sorted(result.calls, key=lambda c: c.user)
    assert busy.cpu_s > asleep.cpu_s
    assert asleep.cpu_s < asleep.seconds / 2  # a neighbour's CPU is not counted
    assert result.process_cpu_s >= busy.cpu_s * 0.5


def test_reason_is_the_first_line_or_the_type():
    assert reason(ValueError("a\nb")) == "a"
    assert reason(KeyError()) == "KeyError"
    assert len(reason(ValueError("x" * 500))) == REASON_CHARS


@pytest.mark.parametrize(("c", "n"), [(0, 5), (2, 0)])
def test_nothing_to_run_is_refused(c, n):
    with pytest.raises(InputError):
        closed_loop(lambda user: None, c, n)
