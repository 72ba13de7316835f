"""The request log: every answer carries an ``X-Request-ID`` (the client's when sane, else a fresh
one), and every request, refused or failed too, writes one JSON line with its id, route, status,
model version and timings; queue and inference times come from the one inference wrapper."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import mllab.serve.metrics as metrics_module
from mllab.serve import request_log
from mllab.serve.api import create_app
from mllab.serve.request_log import MAX_ID_LENGTH, JsonFormatter, configure, request_id
from mllab.serve.v2_binary import binary_request

NPY = {"content-type": "application/x-npy"}
FRESH = re.compile(r"^[0-9a-f]{32}$")


def npy(x: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, x)
    return buffer.getvalue()


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The request logger writing JSON into a buffer for the test (as ``app.serve`` sets it up)."""
    logger = logging.getLogger(request_log.LOGGER)
    saved = logger.level, logger.propagate
    stream = io.StringIO()
    handler = configure(logging.INFO, stream)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line written so far, each parsed on its own (a line that is not JSON fails)."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def client(tiny_model) -> Iterator[TestClient]:
    app = create_app(tiny_model, max_batch=4, model_version="1.2.3-build.7")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_a_sane_client_id_is_kept_and_anything_else_replaced():
    assert request_id(b"order-42/retry.1") == "order-42/retry.1"
    assert request_id(b"a" * MAX_ID_LENGTH) == "a" * MAX_ID_LENGTH
    for hostile in (None, b"", b"a" * (MAX_ID_LENGTH + 1), b"x\nINFO forged", b"x\x1b[31m", b"a b"):
        assert FRESH.match(request_id(hostile)), hostile
    assert request_id(None) != request_id(None)


def test_a_prediction_writes_one_line_with_its_id_and_timings(client, lines, random_batch):
    sent = {**NPY, "x-request-id": "client-id-1"}
    response = client.post("/predict", content=npy(random_batch(2)), headers=sent)
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "client-id-1"
    [line] = records(lines)
    assert line["request_id"] == "client-id-1"
    assert (line["method"], line["route"], line["status"]) == ("POST", "/predict", 200)
    assert line["model_version"] == "1.2.3-build.7"
    assert line["level"] == "INFO" and line["logger"] == request_log.LOGGER
    # the same session.run the answer reports, not a second clock
    assert line["inference_ms"] == pytest.approx(response.json()["latency_ms"], abs=1e-3)
    assert line["queue_ms"] >= 0
    assert line["total_ms"] >= line["inference_ms"] + line["queue_ms"] - 1e-3


def test_every_route_gets_an_id_and_a_line_without_model_times(client, lines):
    paths = ["/health", "/ready", "/metadata", "/metrics", "/v2/health/live", "/nope"]
    ids = []
    for path in paths:
        response = client.get(path)
        ids.append(response.headers["x-request-id"])
        assert FRESH.match(ids[-1]), path
    assert len(set(ids)) == len(ids)
    logged = records(lines)
    assert [line["request_id"] for line in logged] == ids
    assert logged[-1]["route"] == "<unmatched>" and logged[-1]["status"] == 404
    assert all("inference_ms" not in line and "queue_ms" not in line for line in logged)


def test_the_v2_infer_route_is_logged_with_its_times(client, lines, random_batch):
    x = random_batch(1)
    body = {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                        "data": x.ravel().tolist()}]}  # fmt: skip
    response = client.post("/v2/models/resnet50/infer", json=body)
    assert response.status_code == 200, response.text
    [line] = records(lines)
    assert line["route"] == "/v2/models/{model_name}/infer" and line["status"] == 200
    assert line["inference_ms"] > 0


def test_a_refusal_503_is_logged_and_echoes_the_id(tiny_model, lines):
    with TestClient(create_app(tiny_model, max_in_flight=0)) as client:
        response = client.post("/predict", content=b"x", headers={**NPY, "x-request-id": "r-9"})
    assert response.status_code == 503
    assert response.headers["x-request-id"] == "r-9"
    [line] = records(lines)
    assert (line["request_id"], line["status"], line["level"]) == ("r-9", 503, "WARNING")
    assert "inference_ms" not in line  # refused before the model


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [("/predict", b"not an npy file", 400), ("/predict?k=0", b"\xff\xd8", 422)],
)
def test_bad_input_is_logged_without_telling_internals(client, lines, path, body, status):
    kind = "application/x-npy" if status == 400 else "image/jpeg"
    response = client.post(path, content=body, headers={"content-type": kind})
    assert response.status_code == status
    [line] = records(lines)
    assert line["status"] == status and line["request_id"] == response.headers["x-request-id"]
    assert set(response.json()) == {"error", "detail"}  # the answer's usual shape, no log fields


def test_a_hostile_id_is_replaced_in_the_header_and_the_log(client, lines):
    for hostile in ("a" * (MAX_ID_LENGTH + 1), "bad id with spaces", "x\x7fy"):
        response = client.get("/health", headers={"x-request-id": hostile})
        assert FRESH.match(response.headers["x-request-id"]), hostile
    assert all(FRESH.match(line["request_id"]) for line in records(lines))


def test_a_failed_inference_answers_500_with_the_id_and_logs_it(client, lines, random_batch):
    def broken(x):
        raise RuntimeError("the session broke")

    client.app.state.model._run_session = broken
    sent = {**NPY, "x-request-id": "r-500"}
    response = client.post("/predict", content=npy(random_batch(1)), headers=sent)
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "r-500"
    assert "session broke" not in response.text
    [line] = records(lines)
    assert (line["request_id"], line["status"]) == ("r-500", 500)


def test_times_reach_the_log_without_prometheus_client(
    tiny_model, lines, random_batch, monkeypatch
):
    monkeypatch.setattr(metrics_module, "AVAILABLE", False)
    with TestClient(create_app(tiny_model)) as client:
        response = client.post("/predict", content=npy(random_batch(1)), headers=NPY)
    assert response.status_code == 200
    [line] = records(lines)
    assert line["inference_ms"] == pytest.approx(response.json()["latency_ms"], abs=1e-3)


def test_at_warning_level_only_failures_are_written(client, lines, random_batch):
    logging.getLogger(request_log.LOGGER).setLevel(logging.WARNING)
    assert client.get("/health").status_code == 200
    assert client.post("/predict", content=b"junk", headers=NPY).status_code == 400
    assert [line["status"] for line in records(lines)] == [400]


def test_the_formatter_writes_one_json_line_even_for_odd_values():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m\nn", None, None)
    record.fields = {"value": object(), "text": "a\nb"}
    text = JsonFormatter().format(record)
    assert "\n" not in text
    assert json.loads(text)["text"] == "a\nb"


def timing(response: Any) -> dict[str, float]:
    """The answer's ``Server-Timing`` stages (ms), read as a client reads them."""
    return request_log.parse_server_timing(response.headers.get("server-timing"))


def test_an_inference_answer_carries_its_stage_times(client, random_batch):
    response = client.post("/predict", content=npy(random_batch(2)), headers=NPY)
    assert response.status_code == 200
    stages = timing(response)
    assert list(stages) == list(request_log.STAGES)  # every stage happened, in request order
    assert all(ms >= 0 for ms in stages.values())
    assert stages["infer"] == pytest.approx(response.json()["latency_ms"], abs=1e-3)
    assert stages["queue"] + stages["infer"] <= stages["app"]
    inside = sum(ms for name, ms in stages.items() if name != "app")
    assert inside <= stages["app"] + 0.005  # the pieces of app, rounded to 3 decimals each


def test_the_v2_route_and_the_raw_body_carry_them_too(client, random_batch):
    x = random_batch(1)
    body, headers = binary_request(x, "input")
    v2 = client.post("/v2/models/resnet50/infer", content=body, headers=headers)
    raw = {"content-type": "application/octet-stream", "x-shape": "1,3,224,224"}
    plain = client.post("/predict", content=x.tobytes(), headers=raw)
    for response in (v2, plain):
        assert response.status_code == 200, response.text
        stages = timing(response)
        assert {"recv", "queue", "infer", "app"} <= set(stages)
        assert stages["queue"] + stages["infer"] <= stages["app"]


def test_the_inference_stage_holds_the_sessions_time_and_no_other(client, random_batch):
    """A session slowed by 60 ms shows in ``infer`` (and so in ``app``), not in the stages
    around it: the cuts are where the work is, not spread over the request."""
    model = client.app.state.model
    run = model.session.run

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.06)
        return run(*args, **kwargs)

    model.session.run = slow
    try:
        response = client.post("/predict", content=npy(random_batch(1)), headers=NPY)
    finally:
        model.session.run = run
    stages = timing(response)
    assert stages["infer"] >= 60.0 and stages["app"] >= 60.0
    assert stages["app"] - stages["infer"] < stages["infer"]  # the rest is not the 60 ms
    assert max(stages["decode"], stages["encode"], stages["recv"]) < 60.0


def test_a_stage_that_did_not_happen_is_left_out(tiny_model, client):
    assert list(timing(client.get("/health"))) == ["app"]
    assert "infer" not in timing(client.post("/predict", content=b"junk", headers=NPY))
    with TestClient(create_app(tiny_model, max_in_flight=0)) as refusing:
        refused = refusing.post("/predict", content=b"x", headers=NPY)
    assert refused.status_code == 503 and list(timing(refused)) == ["app"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("queue;dur=0.01, infer;dur=39.2, app;dur=41", {"queue": 0.01, "infer": 39.2, "app": 41.0}),
        ('db;desc="a b";dur=2.5,cache;desc=hit', {"db": 2.5}),
        ('total;dur="3.0"', {"total": 3.0}),
        ("no duration, ;dur=1, x;dur=abc", {}),
        (None, {}),
    ],
)
def test_a_server_timing_header_is_read_back(value, expected):
    assert request_log.parse_server_timing(value) == expected


def test_the_written_header_reads_back_to_the_same_numbers():
    stages = {"recv": 0.25, "queue": 0.0, "infer": 12.5, "app": 13.125}
    text = request_log.server_timing(stages).decode()
    assert request_log.parse_server_timing(text) == stages
