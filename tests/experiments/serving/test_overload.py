"""Lab 02's overload demo on a tiny model: every request of the burst is answered 200 or 503,
each 503 carries Retry-After, and the server is alive and ready afterwards."""

from __future__ import annotations

from mllab.experiments.serving.overload import Overload, overload


def test_a_burst_over_max_in_flight_gets_200_or_503_and_leaves_the_server_ready(tiny_model):
    seen = overload(tiny_model, max_in_flight=1, concurrency=8, requests=24, batch=8)
    assert isinstance(seen, Overload) and str(seen.outcome) == "ran"
    assert sum(seen.statuses.values()) == 24
    assert set(seen.statuses) <= {"200", "503"}, seen.statuses
    assert seen.served >= 1
    assert bool(seen.retry_after) == (seen.rejected > 0)
    assert seen.ready_status == 200 and seen.alive_after
    assert set(seen.p50_ms) == set(seen.statuses)
