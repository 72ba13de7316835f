"""Memory limits against the lecture's slowdown (lab 07): the comparison by the run-to-run
spread, the sentences of every branch (swap or not, slower or not), and the experiment on the
real engine."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from mllab.core.errors import InputError
from mllab.core.outcome import Outcome
from mllab.experiments.resources.container_limits import MIB
from mllab.experiments.resources.memory_limits import (
    MemoryLimits,
    MemoryPoint,
    compare,
    memory_limits,
    memory_lines,
    relative_spread,
)
from mllab.experiments.resources.oom import OomResult
from mllab.experiments.resources.swap import SWAP_FOLDER

NEED = 300 * MIB


def limits(*swap: MemoryPoint, control_ms: list[float] | None = None) -> MemoryLimits:
    """A recorded run: unlimited 40/42 ms, 1.1 × need at ``control_ms``, the swap points."""
    points = [
        MemoryPoint("unlimited", None, 0, [40.0, 42.0], [8, 8]),
        MemoryPoint("1.1 × need", int(1.1 * NEED), 0, control_ms or [41.0, 41.5], [8, 8]),
        *swap,
    ]
    return MemoryLimits(Outcome.ran(), NEED, 250 * MIB, 50 * MIB, 8, 2, points, "the host's swap")


def swapping(ms: float, fraction: float = 0.3, **changed) -> MemoryPoint:
    limit = int(fraction * NEED)
    point = MemoryPoint(f"{fraction:g} × need + swap", limit, 2 * NEED, [ms], [3], 120 * MIB)
    return replace(point, **changed)


KILLED = OomResult(137, True, 150 * MIB, NEED, "killed", 1.0, "")


def test_relative_spread_needs_two_values():
    assert relative_spread([40.0]) is None
    assert relative_spread([40.0, 44.0]) == pytest.approx(4 / 42)


@pytest.mark.parametrize(
    "point, reference, kind",
    [
        ([90.0], [40.0, 42.0], "slower"),
        ([41.5, 41.0], [40.0, 42.0], "no measurable difference"),
        ([30.0, 30.5], [40.0, 42.0], "faster"),
        ([90.0], [40.0], "no spread"),  # one round: nothing to tell a difference by
    ],
)
def test_a_ratio_is_a_difference_only_beyond_the_spread(point, reference, kind):
    assert compare(point, reference).kind == kind


def test_the_points_own_spread_counts_too():
    # the reference varies by 5 %, the point by 20 %: a 10 % ratio is inside the larger spread
    found = compare([42.0, 50.0], [40.0, 42.0])
    assert found.spread == pytest.approx(8 / 46)
    assert found.kind == "no measurable difference"


def test_with_swap_and_a_slowdown_the_lecture_is_shown():
    lines = memory_lines(limits(swapping(41.5, 0.5), swapping(900.0)))
    assert lines[0].startswith("need: 300 MiB") and "250 MiB anonymous" in lines[0]
    assert "1.1 × need (330 MiB), no swap" in lines[1] and "no measurable difference" in lines[1]
    assert lines[2].startswith("--memory = 0.5 × need + swap (150 MiB + 600 MiB swap)")
    assert "no slowdown beyond the spread, with 120 MiB in swap" in lines[2]
    assert lines[3].startswith("--memory = 0.3 × need + swap (90 MiB + 600 MiB swap)")
    assert "×21.95 the unlimited p50 (900.0 against 41.0 ms)" in lines[3]
    assert "slower, beyond the spread: the lecture's slowdown (120 MiB in swap" in lines[3]
    assert "with --memory-swap = --memory the same limit kills instead" in lines[3]


def test_with_swap_and_no_slowdown_the_line_says_so():
    line = memory_lines(limits(swapping(41.5)))[2]
    assert "no slowdown beyond the spread, with 120 MiB in swap" in line
    assert "lecture's slowdown" not in line


def test_without_swap_the_lab_says_why_and_that_the_container_is_killed_instead():
    why = Outcome.not_run("no swap on this host and making a swap file needs root")
    unmeasured = {"p50_ms": [], "counts": [], "swapped_bytes": None, "outcome": why}
    result = limits(swapping(0.0, 0.5, **unmeasured), swapping(0.0, **unmeasured))
    lines = memory_lines(result, KILLED)
    assert len(lines) == 3, "one line for every swap point that could not run"
    line = lines[2]
    assert line.startswith("--memory = 0.5 × need and 0.3 × need with swap: not measured here")
    assert "not measured here: no swap on this host and making a swap file needs root" in line
    assert "Without swap the lecture's slowdown cannot happen" in line
    assert "killed instead; the OOM demo shows it: exit 137, OOMKilled under 150 MiB" in line
    survived = replace(KILLED, exit_code=None, oom_killed=False, message="it loaded")
    assert "the OOM demo did not show a kill here: it loaded" in memory_lines(result, survived)[2]
    assert memory_lines(result)[2].endswith("killed instead")


def test_killed_even_with_swap_is_reported_as_failed():
    dead = Outcome.failed("the container was killed by the kernel's OOM killer (exit code 137)")
    line = memory_lines(limits(swapping(0.0, p50_ms=[], outcome=dead)))[2]
    assert "the host's swap: failed: the container was killed" in line


def test_a_control_slower_beyond_the_spread_is_named_without_swap():
    line = memory_lines(limits(swapping(41.0), control_ms=[60.0, 61.0]))[1]
    assert "slower, beyond the spread, with no swap to page to" in line
    assert "can only drop page cache (50 MiB of file pages at the need)" in line


def test_one_round_says_more_rounds_would_tell():
    result = limits(swapping(41.0))
    result.points[0].p50_ms = [40.0]
    result.points[1].p50_ms = [41.0]
    assert "one round only" in memory_lines(result)[1]
    assert "more rounds would tell" in memory_lines(result)[1]


def test_an_engine_without_swap_limit_support_is_named():
    result = replace(limits(swapping(41.0)), swap_limit_support=False)
    assert "--memory-swap is ignored here" in memory_lines(result)[-1]
    assert "ignored" not in " ".join(memory_lines(limits(swapping(41.0))))


def test_an_experiment_that_could_not_read_the_need_says_so():
    result = MemoryLimits(Outcome.not_run("no high-water mark"), None, None, None, 8, 2)
    assert memory_lines(result) == ["memory limits: not run: no high-water mark"]


def test_rows_show_each_limit_with_its_ratio_and_spread():
    rows = limits(swapping(900.0)).rows()
    assert [r["limit"] for r in rows] == ["unlimited", "1.1 × need", "0.3 × need + swap"]
    assert rows[0]["--memory MiB"] == "none" and rows[0]["× unlimited"] == ""
    assert rows[2]["× unlimited"] == "21.95" and rows[2]["spread ±"] == "5 %"
    assert rows[2]["swap MiB"] == "600" and rows[2]["swap used MiB"] == "120"


@pytest.mark.parametrize(
    "changed", [{"requests": 0}, {"rounds": 0}, {"factors": (0.9,)}, {"swap_fractions": (1.2,)}]
)
def test_bad_arguments_are_refused_before_anything_starts(changed):
    with pytest.raises(InputError):
        memory_limits(tag="never-built", **changed)


@pytest.mark.docker
def test_memory_limits_on_the_engine(slim):
    result = memory_limits(slim, requests=3, rounds=2)
    assert result.outcome.ok, result.outcome
    assert result.needed_bytes and result.needed_bytes > 150 * MIB
    reference, *controls = (p for p in result.points if not p.swap_bytes)
    # before each limit in each round, and once more before the swap points
    assert reference.limit_bytes is None and len(reference.p50_ms) == 2 * len(controls) + 1
    for point in controls:
        assert point.outcome.ok, point.outcome
        assert point.limit_bytes > result.needed_bytes and len(point.p50_ms) == 2
    below = result.swap_points()
    assert [p.limit_bytes < result.needed_bytes for p in below] == [True, True]
    for point in below:
        if point.outcome.status == "not run":
            assert "no swap on this host" in point.outcome.reason
        elif point.outcome.ok:  # it ran with swap: the limit pushed memory out of RAM
            assert point.swapped_bytes and point.swapped_bytes > 0
    assert len(memory_lines(result)) >= 2 + len(controls)
    # a temporary swap file is switched off and gone, whatever happened
    assert not list(Path(SWAP_FOLDER).glob("mllab07-swap-*"))
    swaps = subprocess.run(["cat", "/proc/swaps"], capture_output=True, text=True).stdout
    assert "mllab07-swap-" not in swaps
