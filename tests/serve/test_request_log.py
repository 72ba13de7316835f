"""The request log: every answer carries an ``X-Request-ID`` (the client's when sane, else a fresh
one), and every request, refused or failed too, writes one JSON line with its id, route, status,
model version and timings; queue and inference times come from the one inference wrapper."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import mllab.serve.metrics as metrics_module
from mllab.serve import request_log
from mllab.serve.api import create_app
from mllab.serve.request_log import MAX_ID_LENGTH, JsonFormatter, configure, request_id

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
