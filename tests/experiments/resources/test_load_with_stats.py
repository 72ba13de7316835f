"""Lab 07's load in a container: locust (its own process) loads the read-only slim server while
``docker stats`` is sampled in this one."""

from __future__ import annotations

import pytest

from mllab.measure.load import run_load
from mllab.serve.requests import load_request


@pytest.mark.docker
@pytest.mark.slow
def test_locust_500_requests_8_users_no_failures_with_docker_stats(slim):
    from mllab.containers.docker_stats import StatsMonitor  # deferred: the docker SDK
    from mllab.containers.run import run

    admit = {"MAX_IN_FLIGHT": "8"}  # all 8 users in flight: admission control answers no 503
    with run(slim, name="mllab07-test-load", read_only=True, env=admit) as server:
        with StatsMonitor(server.container) as monitor:
            result = run_load(server.url, load_request("npy"), 8, requests=500, max_seconds=420)
    assert result.stopped_by == "requests", result.row()
    assert result.requests == 500
    assert result.failures == 0, result.errors
    assert result.rps > 0 and result.p50_ms <= result.p95_ms <= result.p99_ms
    assert result.locust["num_failures"] == 0
    assert monitor.error is None
    assert len(monitor.samples) >= 3
    assert max(s.cpu_percent for s in monitor.samples) > 10  # the server worked
    assert monitor.gpu_fields == []  # docker stats has no GPU memory (lecture's claim C13)
