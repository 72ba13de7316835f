"""Where the time of a request goes (a tiny model: the mechanics and that the stages fit
together, never the figures): each body kind's request is answered and timed on both sides,
the server's stages lie inside its app time and that inside the round trip, a failed point has
no figures, and the record takes its place beside ``session.run`` in process."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from mllab.core.errors import InputError
from mllab.core.records import as_fields
from mllab.core.tables import format_table
from mllab.experiments.serving.batching import server_settings
from mllab.experiments.serving.cores import split_cores
from mllab.experiments.serving.stages import (
    BODIES,
    PARTS,
    STAGES,
    InProcessPoint,
    RequestTiming,
    StageBreakdown,
    body_request,
    measure_point,
    stage_breakdown,
    summarize_point,
)
from mllab.measure.closed_loop import Call
from mllab.serve.process import start_server

#: slack for the server's figures, each rounded to 3 decimals in its header
ROUNDING_MS = 0.01


@pytest.fixture(scope="module")
def served(tiny_model):
    with start_server(tiny_model, threads=1, env=server_settings(0, 0.0, 4)) as server:
        yield server


@pytest.fixture
def x() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)


@pytest.mark.parametrize("body", BODIES)
def test_each_body_kind_is_timed_on_both_sides_and_the_stages_fit(served, x, body):
    point, timings = measure_point(served.url, body, x, "input", concurrency=2, requests=6)
    assert (point.body, point.concurrency, point.requests, point.failures) == (body, 2, 6, 0)
    assert len(timings) == 6 and point.throughput is not None and point.client_cpu_ms > 0
    for t in timings:
        assert set(t.server) == {"recv", "decode", "queue", "infer", "encode", "app"}
        assert min(t.encode_ms, t.decode_ms, t.cpu_ms, *t.server.values()) >= 0
        app = t.server["app"]
        assert app <= t.round_trip_ms  # the server's part lies inside the client's wait
        assert t.server["queue"] + t.server["infer"] <= app
        inside = sum(ms for stage, ms in t.server.items() if stage != "app")
        assert inside <= app + ROUNDING_MS
    assert set(point.p50_ms) == set(STAGES)
    assert point.p50_ms["total"] >= point.p50_ms["round_trip"] >= point.p50_ms["server_app"]


def test_the_server_is_idle_after_a_point(served, x):
    measure_point(served.url, "npy", x, "input", concurrency=3, requests=5)
    meta = httpx.get(f"{served.url}/metadata", timeout=10).json()
    assert meta["admission"]["in_flight"] == 0


def timing(rt: float = 10.0) -> RequestTiming:
    server = {"recv": 0.5, "decode": 1.0, "queue": 0.0, "infer": 6.0, "encode": 0.5, "app": 8.0}
    return RequestTiming(1.0, rt, 0.5, 3.0, server)


def test_the_stages_of_a_request_add_up_to_its_total():
    t = timing()
    by = {stage: of(t) for stage, (_, of) in STAGES.items()}
    assert sum(by[stage] for stage in PARTS) == pytest.approx(by["total"]) == pytest.approx(11.5)
    assert by["transport"] == pytest.approx(2.0) and by["client_cpu"] == 3.0


def test_a_point_with_a_failed_request_has_no_figures():
    calls = [Call(i, 0, 0.01, 0.001, timing(), None) for i in range(3)]
    calls.append(Call(3, 0, 0.01, 0.001, None, "HTTP 503: busy"))
    point = summarize_point("npy", 1, calls, wall_s=0.05, process_cpu_s=0.004)
    assert point.failed and point.failures == 1 and point.errors == {"HTTP 503: busy": 1}
    assert point.throughput is None and point.p50_ms == {}
    fine = summarize_point("npy", 4, calls[:3], wall_s=0.03, process_cpu_s=0.003)
    assert fine.p50_ms["total"] == pytest.approx(11.5) and fine.throughput == pytest.approx(100)
    floors = [
        InProcessPoint(options, 2, spin, c, 5.0 + spin, 100.0)
        for options in ("server", "best")
        for spin in (False, True)
        for c in (1, 4)
    ]
    breakdown = StageBreakdown("m.onnx", 2, 2, 4, [point, fine], floors)
    rows = breakdown.table("npy")
    assert rows[0]["c=1 p50 ms"] == "failed 1/4" and rows[0]["c=4 p50 ms"] == pytest.approx(1.0)
    spins = [r["stage"].rsplit(" ", 1)[1] for r in rows[-3:]]
    assert spins == ["off", "on", "off"]  # the server's, then both candidates for the best
    assert breakdown.floor(1, "best").spinning is False  # the faster of the two is the best
    assert breakdown.summary("npy").startswith("npy c=1: 1/4 requests failed")
    summary = breakdown.summary("npy")
    assert max(map(len, summary.splitlines())) <= 100
    said = " ".join(summary.split("npy c=4: ")[1].split())  # the c=4 point, unwrapped
    assert "2.30x the best" in said and "the gap +6.5 ms" in said
    # the gap's pieces (medians of one request here) add up to it
    pieces = [float(part.rsplit(" ", 1)[1]) for part in said.split("(medians): ")[1].split(", ")]
    assert pieces == [1.5, 2.0, 2.0, 1.0] and sum(pieces) == pytest.approx(6.5)


def test_an_unknown_body_kind_is_refused(x):
    with pytest.raises(InputError, match="npy, raw, v2"):
        body_request("json", x, "input")


def test_the_breakdown_measures_every_point_beside_session_run(tiny_model):
    breakdown = stage_breakdown(tiny_model, threads=1, concurrency=(1, 2), requests=4)
    assert [(p.body, p.concurrency) for p in breakdown.points] == [
        (b, c) for b in BODIES for c in (1, 2)
    ]
    assert all(not p.failed for p in breakdown.points)
    assert {(p.options, p.spinning, p.concurrency) for p in breakdown.in_process} == {
        (o, s, c) for o, s in (("server", False), ("best", True), ("best", False)) for c in (1, 2)
    }
    for body in BODIES:
        rows = breakdown.table(body)
        assert len(rows) == len(STAGES) + 3 and "c=2 p50 ms" in rows[0]
        assert format_table(rows)
    assert as_fields(breakdown)["points"][0]["p50_ms"]["total"] > 0
    # one server thread: on a machine with a core to spare the client ran on the others
    split = split_cores(1) or (None, None)
    assert (breakdown.server_cores, breakdown.client_cores) == split
    assert StageBreakdown.SCHEMA_VERSION == 1
