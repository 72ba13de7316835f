"""Load tests with locust in a subprocess (lab 06): loopback only, figures from the records,
and why locust never runs in this process."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tiny_models import tiny_resnet_interface

from mllab.core.errors import InputError
from mllab.experiments.resources.load import check_loopback, result_of, run_load, timeline
from mllab.experiments.resources.locust_run import payload
from mllab.serve.api import create_app


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.1:8080", "ftp://127.0.0.1"])
def test_load_goes_only_to_loopback(url):
    with pytest.raises(InputError):
        check_loopback(url)
    assert check_loopback("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"


@pytest.mark.parametrize("settings", [{"users": 0}, {"requests": 0}, {"payload": "video"}])
def test_run_load_refuses_bad_settings_before_starting_locust(settings):
    with pytest.raises(InputError):
        run_load("http://127.0.0.1:1", **settings)


def test_load_result_percentiles_and_timeline_from_records():
    records = [[0.1 * i, float(10 + i), 0] for i in range(1, 21)] + [[2.05, 5.0, 1]]
    raw = {
        "records": records,
        "url": "http://127.0.0.1:1",
        "users": 2,
        "spawn_rate": 2.0,
        "payload": "npy",
        "duration_s": 2.1,
        "stopped_by": "requests",
        "locust": {},
        "errors": {"ConnectionError": 1},
    }
    result = result_of(raw)
    assert result.requests == 21 and result.failures == 1
    assert result.p50_ms == pytest.approx(np.percentile(np.arange(11, 31), 50))
    assert result.rps == pytest.approx(21 / 2.1)
    rows = timeline(np.array([0.5, 0.6, 1.2, 2.0]), np.arange(1.0, 5.0), np.zeros(4, bool))
    assert [r["t_s"] for r in rows] == [1.0, 2.0]
    assert [r["rps"] for r in rows] == [2.0, 2.0]  # the last answer counts in the last window
    assert rows[0]["p50_ms"] == pytest.approx(1.5)
    sliver = timeline(np.array([0.5, 1.0, 1.1]), np.ones(3), np.zeros(3, bool))
    assert len(sliver) == 1 and sliver[0]["rps"] == pytest.approx(3 / 1.1)  # folded in


def test_importing_the_lab06_modules_does_not_import_locust_or_gevent():
    modules = "load, scaleout, overhead, cpu_sweep, threads, oom, locust_run, gevent_probe"
    code = (
        f"import sys; from mllab.experiments.resources import {modules}; "
        "import mllab.containers.monitor; "
        "print('gevent' in sys.modules, 'locust' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
    assert "locust" not in sys.modules  # nor in this pytest process


def test_importing_locust_turns_threads_into_greenlets():
    from mllab.experiments.resources.load import gevent_effect

    effect = gevent_effect()
    plain, patched = effect.of("plain"), effect.of("locust")
    assert not plain.threading_patched
    assert patched.threading_patched and patched.socket_patched
    assert plain.parallelism > 1.5  # two OS threads block side by side
    assert patched.parallelism < 1.3  # two greenlets block one after the other


@pytest.mark.docker
@pytest.mark.slow
def test_locust_500_requests_8_users_no_failures_with_docker_stats(slim):
    from mllab.containers.monitor import StatsMonitor
    from mllab.containers.run import run

    admit = {"MAX_IN_FLIGHT": "8"}  # all 8 users in flight: admission control answers no 503
    with run(slim, name="mllab06-test-load", read_only=True, env=admit) as server:
        with StatsMonitor(server.container) as monitor:
            result = run_load(server.url, users=8, requests=500, max_seconds=420)
    assert result.stopped_by == "requests", result.row()
    assert result.requests == 500
    assert result.failures == 0, result.errors
    assert result.rps > 0 and result.p50_ms <= result.p95_ms <= result.p99_ms
    assert result.locust["num_failures"] == 0
    assert monitor.error is None
    assert len(monitor.samples) >= 3
    assert max(s.cpu_percent for s in monitor.samples) > 10  # the server worked
    assert monitor.gpu_fields == []  # docker stats has no GPU memory (lecture's claim C13)


@pytest.mark.parametrize("kind", ["npy", "v2"])
def test_each_load_payload_is_a_request_the_server_answers(kind, tmp_path):
    """Lab 06's load can target either API: the request locust repeats gets a 200 from the
    real app (in-process, on a tiny model with ResNet-50's interface)."""
    method, path, body, headers = payload(kind)
    model = tiny_resnet_interface(tmp_path / "tiny.onnx")
    with TestClient(create_app(model)) as client:
        response = client.request(method, path, content=body, headers=headers)
    assert response.status_code == 200, response.text[:300]
    assert path == ("/predict" if kind == "npy" else "/v2/models/resnet50/infer")
