"""benchmarks/bench_servers.py without servers: a point with failed requests reports its failures
and no throughput (the issue's "40 of 40 failed, 279.6 requests/s" row cannot be printed), a
ratio built on it is missing and a goal on it is never "met"; each point waits until every
server is idle, by the mllab server's own in-flight counter or by a quiet process. The gRPC
rows follow the same rules: measured by tritonclient against a real gRPC server (in process),
their refusals make a ``failed N/M`` row, never a throughput."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from mllab.core.paths import ROOT
from mllab.core.poll import TimedOut
from mllab.experiments.serving.peer import Point
from mllab.serve.api import create_app


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """The script, imported as a module (benchmarks/ is not a package)."""
    path = ROOT / "benchmarks" / "bench_servers.py"
    spec = importlib.util.spec_from_file_location("bench_servers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves its annotations there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def point(target: str, c: int = 16, errors: int = 0, rps: float = 20.0) -> Point:
    return Point(target, c, 40, errors, rps, 50.0, 90.0, 0.5)


def test_a_point_whose_requests_failed_reports_failures_and_no_throughput(bench):
    row = bench.merge(
        [point("mllab v2 batch ≤8", errors=0), point("mllab v2 batch ≤8", errors=40, rps=279.6)]
    )
    assert (row.requests, row.failures) == (80, 40)
    assert row.throughput is None and row.p50_ms is None and row.p99_ms is None
    printed = row.printed()
    assert printed["throughput"] == "failed 40/80"
    assert "279.6" not in bench.format_table([printed])


def test_a_point_without_failures_gives_the_medians_of_its_rounds(bench):
    row = bench.merge([point("kserve v2", rps=r) for r in (10.0, 30.0, 20.0)])
    assert (row.failures, row.throughput, row.p50_ms) == (0, 20.0, 50.0)
    assert row.printed()["throughput"] == 20.0


def rows(bench, failed: str | None, mllab_rps: float = 30.0) -> list:
    names = {
        "onnxruntime in-process": 25.0,
        "kserve v2": 20.0,
        "mllab predict batch off": mllab_rps,
    }
    return [
        bench.merge([point(name, errors=40 if name == failed else 0, rps=rps)])
        for name, rps in names.items()
    ]


@pytest.mark.parametrize("failed", ["mllab predict batch off", "kserve v2"])
def test_a_failed_side_gives_no_ratio_and_no_met_goal(bench, failed):
    [ratio] = bench.ratios(rows(bench, failed), [16])
    assert ratio["thr/kserve"] is None and ratio["p99/kserve"] is None
    peer_goal, floor_goal = bench.goals_line([ratio]).splitlines()
    assert "not measured" in peer_goal and ": met" not in peer_goal
    # against in-process only the failed mllab row has no figure; KServe's failure is not ours
    mllab_failed = failed.startswith("mllab")
    assert (ratio["thr/in-process"] is None) == mllab_failed
    assert floor_goal.endswith("not measured (failed points)" if mllab_failed else ": met")


def test_goals_are_met_or_not_by_the_ratios(bench):
    [fast] = bench.ratios(rows(bench, None, mllab_rps=30.0), [16])
    assert fast["thr/kserve"] == pytest.approx(1.5)
    assert "not" not in bench.goals_line([fast])
    [slow] = bench.ratios(rows(bench, None, mllab_rps=10.0), [16])
    assert bench.goals_line([slow]).count("not met") == 3


@pytest.fixture
def grpc_served(tiny_model):
    """The app's OIP v2 gRPC server on the tiny model, in a loop of its own thread."""
    pytest.importorskip("tritonclient.grpc")
    from tests.serve.test_grpc import Served

    served = Served(create_app(tiny_model))
    yield served
    served.close()


def test_a_grpc_point_counts_every_call_and_leaves_nothing_in_flight(bench, grpc_served):
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    state = grpc_served.app.state.in_flight
    p = bench.load_grpc(grpc_served.url, "mllab grpc batch off", x, c=3, n=7)
    assert (p.target, p.concurrency, p.requests, p.errors) == ("mllab grpc batch off", 3, 7, 0)
    assert p.throughput > 0 and p.p50_ms is not None and p.p50_ms <= p.p99_ms
    assert state.now == 0 and 1 <= state.peak <= 3  # closed loop: at most one call per user
    row = bench.merge([p])
    assert row.printed()["throughput"] == row.throughput


def test_a_grpc_point_whose_calls_were_refused_reports_failed_n_of_m(bench, grpc_served):
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    grpc_served.app.state.in_flight.draining = True  # every ModelInfer answers UNAVAILABLE
    p = bench.load_grpc(grpc_served.url, "mllab grpc batch off", x, c=2, n=5)
    assert (p.requests, p.errors) == (5, 5)
    row = bench.merge([point("mllab grpc batch off", c=2), p])
    assert row.throughput is None and row.p50_ms is None
    assert row.printed()["throughput"] == "failed 5/45"
    [ratio] = bench.ratios(
        [
            row,
            bench.merge([point("kserve v2", c=2)]),
            bench.merge([point("onnxruntime in-process", c=2)]),
        ],
        [2],
    )
    assert ratio["target"] == "mllab grpc batch off" and ratio["thr/kserve"] is None
    assert "not measured" in bench.goals_line([ratio])


def test_waiting_for_idle_returns_once_every_server_is_idle(bench):
    answers = iter([False, False, True])
    calls = []

    def settling() -> bool:
        calls.append(1)
        return next(answers)

    bench.wait_idle([lambda: True, settling], timeout=30)
    assert len(calls) == 3
    with pytest.raises(TimedOut, match="idle"):
        bench.wait_idle([lambda: False], timeout=0.1)


def test_in_flight_reads_the_servers_admission_counter(bench, tiny_model, monkeypatch):
    app = create_app(tiny_model)
    with TestClient(app) as client:
        monkeypatch.setattr(httpx, "get", lambda url, timeout: client.get(url[len("x") :]))
        assert bench.in_flight("x") == 0
        app.state.in_flight.now = 3  # as while requests run
        assert bench.in_flight("x") == 3


def test_a_busy_process_is_not_quiet_and_a_sleeping_one_is(bench):
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    sleeping = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert bench.cpu_seconds(busy.pid) >= 0
        assert not bench.cpu_quiet(busy.pid)
        bench.wait_idle([lambda: bench.cpu_quiet(sleeping.pid)], timeout=20)
    finally:
        for process in (busy, sleeping):
            process.kill()
            process.wait()


def test_without_the_peer_its_ratios_are_not_measured_and_never_met(bench):
    measured = [r for r in rows(bench, None) if r.target != "kserve v2"]
    [ratio] = bench.ratios(measured, [16])
    assert ratio["thr/kserve"] is None and ratio["thr/in-process"] == pytest.approx(30 / 25)
    peer_goal, floor_goal = bench.goals_line([ratio], peer_measured=False).splitlines()
    assert peer_goal.endswith("not measured (KServe left out: --no-peer)")
    assert floor_goal.endswith(": met")


def test_the_stage_tables_are_printed_per_body_kind(bench, capsys):
    from mllab.experiments.serving.stages import (
        STAGES,
        InProcessPoint,
        RequestTiming,
        StageBreakdown,
        summarize_point,
    )
    from mllab.measure.closed_loop import Call

    server = {"recv": 0.5, "decode": 1.0, "queue": 0.0, "infer": 6.0, "encode": 0.5, "app": 8.0}
    calls = [Call(0, 0, 0.01, 0.001, RequestTiming(1.0, 10.0, 0.5, 3.0, server), None)]
    points = [summarize_point(b, c, calls, 0.01, 0.001) for b in ("npy", "v2") for c in (1, 4)]
    floors = [
        InProcessPoint(o, 2, spin, c, 5.0, 200.0)
        for o in ("server", "best")
        for spin in (False, True)
        for c in (1, 4)
    ]
    bench.print_stages(StageBreakdown("m.onnx", 2, 2, 1, points, floors))
    out = capsys.readouterr().out
    assert out.count("where the time of one batch-1 request goes") == 2
    assert ": npy body" in out and ": v2 body" in out and "c=4 p50 ms" in out
    assert all(label in out for label, _ in STAGES.values())
    assert "2.30x the best" in out
