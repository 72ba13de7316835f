"""The load generator (locust in a subprocess): loopback only, the request it is given and
nothing else, figures from the per-request records, and why locust never runs in this process."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import numpy as np
import pytest

from mllab.core.errors import InputError
from mllab.measure import load, locust_run
from mllab.measure.load import LoadRequest, check_loopback, result_of, run_load, timeline

HEALTH = LoadRequest("GET", "/health")


def _raw(**changes: Any) -> dict[str, Any]:
    """What the locust subprocess writes: 20 answers 0.1 s apart, then one failure."""
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
        "cpu_s": 0.75,
    }
    return {**raw, **changes}


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.1:8080", "ftp://127.0.0.1"])
def test_load_goes_only_to_loopback(url):
    with pytest.raises(InputError):
        check_loopback(url)
    assert check_loopback("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"


@pytest.mark.parametrize("settings", [{"users": 0}, {"requests": 0}, {"max_seconds": 0}])
def test_run_load_refuses_bad_settings_before_starting_locust(settings, monkeypatch):
    monkeypatch.setattr(load, "_locust", lambda *a: pytest.fail("locust must not start"))
    with pytest.raises(InputError):
        run_load("http://127.0.0.1:1", HEALTH, **settings)


@pytest.mark.parametrize("method, path", [("DELETE", "/x"), ("POST", "predict")])
def test_a_load_request_is_a_method_and_an_absolute_path(method, path):
    with pytest.raises(InputError, match="path starting with '/'"):
        LoadRequest(method, path)
    assert LoadRequest("POST", "/predict").name == "/predict"
    assert LoadRequest("POST", "/predict", label="npy").name == "npy"


def test_run_load_hands_locust_the_request_it_was_given(monkeypatch):
    """The subprocess gets the method, path, headers, label and the body's exact bytes; the
    response header is asked for only when told."""
    seen: list[dict[str, Any]] = []

    def fake(url, requests, max_seconds, settings, python):
        with open(settings["body_file"], "rb") as body:
            seen.append({**settings, "body": body.read(), "url": url, "requests": requests})
        return _raw()

    monkeypatch.setattr(load, "_locust", fake)
    request = LoadRequest("POST", "/predict", b"\x00\x01tensor", {"Content-Type": "x"}, "npy")
    result = run_load("http://localhost:1/", request, users=3, requests=7)
    run_load("http://127.0.0.1:1", request, users=2, requests=5, header="X-Model-Version")
    first, second = seen
    assert first["url"] == "http://localhost:1" and first["requests"] == 7
    assert (first["method"], first["path"], first["label"]) == ("POST", "/predict", "npy")
    assert first["body"] == b"\x00\x01tensor" and first["headers"] == {"Content-Type": "x"}
    assert first["users"] == 3 and first["spawn_rate"] == 3.0  # all users at once by default
    assert "header" not in first and second["header"] == "X-Model-Version"
    assert result.load_cpu_s == 0.75  # the load generator's own CPU seconds


def test_load_result_percentiles_and_timeline_from_records():
    result = result_of(_raw())
    assert result.requests == 21 and result.failures == 1
    assert result.p50_ms == pytest.approx(np.percentile(np.arange(11, 31), 50))
    assert result.rps == pytest.approx(21 / 2.1)
    rows = timeline(np.array([0.5, 0.6, 1.2, 2.0]), np.arange(1.0, 5.0), np.zeros(4, bool))
    assert [r["t_s"] for r in rows] == [1.0, 2.0]
    assert [r["rps"] for r in rows] == [2.0, 2.0]  # the last answer counts in the last window
    assert rows[0]["p50_ms"] == pytest.approx(1.5)
    sliver = timeline(np.array([0.5, 1.0, 1.1]), np.ones(3), np.zeros(3, bool))
    assert len(sliver) == 1 and sliver[0]["rps"] == pytest.approx(3 / 1.1)  # folded in


def test_a_run_where_every_request_failed_has_no_percentiles():
    result = result_of(_raw(records=[[0.5, 3.0, 1], [1.0, 4.0, 1]], duration_s=1.0))
    assert result.failures == 2 and result.p50_ms is None and result.max_ms is None


class _Response:
    def __init__(self, headers):
        self.headers = headers


def test_the_locust_side_reads_the_header_or_none():
    assert locust_run._header(_Response({"x-model-version": "1.1.0"}), "X-Model-Version") == "1.1.0"
    assert locust_run._header(_Response({"X-Model-Version": "1.0.0"}), "X-Model-Version") == "1.0.0"
    assert locust_run._header(_Response({}), "X-Model-Version") is None
    assert locust_run._header(None, "X-Model-Version") is None  # no answer at all


def test_the_locust_program_says_what_its_settings_lack(capsys):
    assert locust_run.main(['{"url": "http://127.0.0.1:1"}']) == 2
    assert "missing" in capsys.readouterr().out


def test_importing_the_load_modules_does_not_import_locust_or_gevent():
    code = (
        "import sys; from mllab.measure import load, locust_run, gevent_probe; "
        "print('gevent' in sys.modules, 'locust' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
    assert "locust" not in sys.modules  # nor in this pytest process


def test_importing_locust_turns_threads_into_greenlets():
    effect = load.gevent_effect()
    plain, patched = effect.of("plain"), effect.of("locust")
    assert not plain.threading_patched
    assert patched.threading_patched and patched.socket_patched
    assert plain.parallelism > 1.5  # two OS threads block side by side
    assert patched.parallelism < 1.3  # two greenlets block one after the other


@pytest.mark.slow  # locust's start-up: a few seconds
def test_locust_loads_a_real_server_and_counts_its_own_cpu(tiny_model):
    from mllab.serve.process import start_server

    with start_server(tiny_model, threads=1) as server:
        result = run_load(server.url, HEALTH, users=2, requests=20, max_seconds=60)
    assert result.stopped_by == "requests" and result.requests == 20
    assert result.failures == 0, result.errors
    assert result.payload == "/health" and result.locust["num_requests"] >= 20
    assert result.p50_ms <= result.p95_ms <= result.p99_ms and result.load_cpu_s > 0


@pytest.mark.slow  # locust's start-up: a few seconds
def test_a_stop_file_ends_the_load_before_its_time(tiny_model, tmp_path):
    from mllab.serve.process import start_server

    stop = tmp_path / "stop"
    with start_server(tiny_model, threads=1) as server:
        threading.Timer(3.0, stop.touch).start()
        result = run_load(
            server.url, HEALTH, users=2, requests=10**6, max_seconds=60, stop_file=stop
        )
    assert result.stopped_by == "stop" and result.failures == 0, result.errors
    assert 2.0 < result.duration_s < 30.0 and result.requests > 0
