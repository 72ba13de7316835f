"""Lab 02's readings: HTTP overhead against the goal, and dynamic batching against the spread,
each case from a record built here."""

from __future__ import annotations

import pytest

from mllab.experiments.serving.batching import BatchingPoint, BatchingSweep
from mllab.experiments.serving.http_overhead import BodyOverhead, HttpOverhead
from mllab.report.interpret.serving import read_batching, read_overhead, relative_se


def body(name: str, http: float, local: float, ratio_min: float, server: float) -> BodyOverhead:
    return BodyOverhead(name, http, local, http / local, ratio_min, server, 602_240, 10)


def overhead(*bodies: BodyOverhead) -> HttpOverhead:
    return HttpOverhead(list(bodies), None)


def test_ratios_within_the_goal_meet_it() -> None:
    reading = read_overhead(overhead(body("npy", 50, 46, 1.05, 47), body("json", 150, 46, 3, 47)))
    assert reading.case == "goal met"
    assert "npy 1.09×" in reading.text("en") and "json" not in reading.text("en")


def test_a_median_over_the_goal_with_fast_calls_under_it_is_noise() -> None:
    reading = read_overhead(overhead(body("npy", 62, 46.6, 1.10, 50)), goal=1.15)
    assert reading.case == "within noise"
    assert "npy: 1.10×" in reading.text("en") and "load" in reading.text("en")


def test_a_miss_in_the_fastest_calls_is_split_between_model_and_http_path() -> None:
    # the run: 1.33×; the server's own session.run is the larger share
    reading = read_overhead(overhead(body("npy", 62, 46.6, 1.25, 57)))
    assert reading.case == "goal missed"
    text = reading.text("en")
    assert "Of its 15.4 ms extra, 10.4 ms is the model" in text and "5.0 ms is the HTTP" in text
    assert "contention" in text
    assert "конкуренцию" in reading.text("ru")


def test_the_http_path_is_the_reason_when_it_is_the_larger_share() -> None:
    reading = read_overhead(overhead(body("raw", 62, 46.6, 1.25, 48)))
    assert reading.case == "goal missed"
    assert "the HTTP path itself" in reading.text("en")


def test_without_a_goal_body_nothing_is_read() -> None:
    assert read_overhead(overhead(body("json", 150, 46, 3, 47))).case == "not measured"


def point(on: bool, c: int, t: float, p50: float, p99: float, rows: float | None = None):
    return BatchingPoint(on, c, 16, 0, t, p50, p99, rows if on else None, 1.0)


def sweep(*points: BatchingPoint) -> BatchingSweep:
    return BatchingSweep("v2", 8, 2.0, None, list(points))


def test_batching_alone_at_concurrency_1_lowers_throughput_by_its_own_cost() -> None:
    # the run: 20.6 -> 15.7 requests/s, p99 70 -> 103 ms, one row per batch
    run = sweep(point(False, 1, 20.6, 47, 70), point(True, 1, 15.7, 60, 103, 1.0))
    reading = read_batching(run)
    assert reading.case == "hurt"
    text = reading.text("en")
    assert "20.6 → 15.7 requests/s (−24 %" in text and "p99 70 → 103 ms" in text
    assert "nobody to batch with" in text and "+15.2 ms per request" in text
    assert "at most 2 ms" in text
    assert "20.6 → 15.7 запросов/с" in reading.text("ru") and "выборочный разброс" in reading.text(
        "ru"
    )


def test_a_gain_beyond_the_spread_helped_and_one_within_it_changed_nothing() -> None:
    helped = sweep(point(False, 8, 21.0, 370, 400), point(True, 8, 26.0, 300, 330, 5.2))
    assert read_batching(helped).case == "helped"
    flat = sweep(point(False, 4, 21.5, 180, 260), point(True, 4, 22.4, 175, 250, 3.1))
    reading = read_batching(flat)
    assert reading.case == "within spread"
    assert "3.1 rows on average and still bought no throughput" in reading.text("en")


def test_helped_at_one_concurrency_and_hurt_at_another_is_mixed() -> None:
    run = sweep(
        point(False, 1, 20.6, 47, 70),
        point(True, 1, 15.7, 60, 103, 1.0),
        point(False, 8, 21.0, 370, 400),
        point(True, 8, 26.0, 300, 330, 5.2),
    )
    assert read_batching(run).case == "mixed"


def test_points_without_latencies_are_not_read() -> None:
    run = sweep(point(False, 1, 20.6, 47, 70), point(True, 1, 0.0, None, None, None))
    assert read_batching(run).case == "not measured"
    assert read_batching(sweep(point(False, 1, 20.6, 47, 70))).case == "not measured"


def test_the_throughput_spread_grows_with_the_tail_and_shrinks_with_requests() -> None:
    narrow, wide = point(False, 1, 20, 50, 55), point(False, 1, 20, 50, 100)
    assert relative_se(narrow) < relative_se(wide)
    assert relative_se(wide) == pytest.approx(50 / 2.326 / 50 / 4)


def test_batching_alone_within_the_spread_names_its_cost_as_within_it() -> None:
    # a recorded run: 21.4 -> 20.7 requests/s at concurrency 1, one row per batch
    run = sweep(point(False, 1, 21.44, 43.6, 61.8), point(True, 1, 20.69, 47.1, 55.5, 1.0))
    reading = read_batching(run)
    assert reading.case == "within spread"
    text = reading.text("en")
    assert "nobody to batch with" in text and "(+1.7 ms per request) is within" in text
    assert "hand-off" not in text
