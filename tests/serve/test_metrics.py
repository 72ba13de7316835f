"""``GET /metrics``: the counters move by exactly what a few requests move them by, a refused
request counts as refused, labels stay bounded, the exposition parses, a broken collector is a
failed scrape (not a 500), and a server without prometheus-client still starts (404 there)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

import mllab.serve.metrics as metrics_module
from mllab.serve.admission import InFlight
from mllab.serve.api import create_app
from mllab.serve.metrics import UNMATCHED, Metrics, watch
from mllab.serve.model import Model

NPY = {"content-type": "application/x-npy"}
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def npy(x: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, x)
    return buffer.getvalue()


def parse(text: str) -> Series:
    """Every sample of an exposition: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: TestClient) -> Series:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(series: Series, name: str, **labels: str) -> float:
    """One sample's value; 0 for a labelled series that has not appeared yet."""
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Series, after: Series, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def client(tiny_model):
    app = create_app(tiny_model, max_batch=4, model_version="1.2.3-build.7")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_requests_move_the_counters_by_exactly_what_they_did(client, random_batch):
    before = scrape(client)
    for seed in range(3):  # three /predict of 2 rows each
        assert client.post("/predict", content=npy(random_batch(2, seed)), headers=NPY).is_success
    payload = {
        "inputs": [
            {"name": "input", "shape": [1, 3, 224, 224], "datatype": "FP32",
             "data": random_batch(1).ravel().tolist()}
        ]
    }  # fmt: skip
    assert client.post("/v2/models/resnet50/infer", content=json.dumps(payload)).is_success
    assert (
        client.post("/predict", content=b"x", headers={"content-type": "text/csv"}).status_code
        == 415
    )
    after = scrape(client)

    predict = {"method": "POST", "route": "/predict"}
    assert moved(before, after, "mllab_http_requests_total", **predict, code="200") == 3
    assert moved(before, after, "mllab_http_requests_total", **predict, code="415") == 1
    infer = {"method": "POST", "route": "/v2/models/{model_name}/infer", "code": "200"}
    assert moved(before, after, "mllab_http_requests_total", **infer) == 1
    assert moved(before, after, "mllab_http_request_duration_seconds_count", **predict) == 4
    # the scrape before this one counts, under its own route
    scrapes = {"method": "GET", "route": "/metrics", "code": "200"}
    assert moved(before, after, "mllab_http_requests_total", **scrapes) == 1

    # 4 requests reached the model (the 415 did not): 7 samples in 4 executions (no batching)
    assert moved(before, after, "mllab_inference_requests_total") == 4
    assert moved(before, after, "mllab_inference_count_total") == 7
    assert moved(before, after, "mllab_inference_exec_count_total") == 4
    assert moved(before, after, "mllab_inference_batch_rows_count") == 4
    assert moved(before, after, "mllab_inference_batch_rows_sum") == 7
    assert moved(before, after, "mllab_inference_queue_seconds_count") == 4
    assert moved(before, after, "mllab_inference_compute_seconds_count") == 4
    assert moved(before, after, "mllab_inference_compute_seconds_sum") > 0
    assert moved(before, after, "mllab_inference_request_failures_total") == 0
    assert value(after, "mllab_admission_rejections_total") == 0
    assert value(after, "mllab_http_requests_in_flight") == 1  # the scrape itself
    assert value(after, "mllab_inference_requests_in_flight") == 0


def test_the_server_side_total_holds_the_inference_it_timed(client, random_batch):
    before = scrape(client)
    client.post("/predict", content=npy(random_batch(1)), headers=NPY)
    after = scrape(client)
    total = moved(
        before, after, "mllab_http_request_duration_seconds_sum", method="POST", route="/predict"
    )
    inside = moved(before, after, "mllab_inference_compute_seconds_sum") + moved(
        before, after, "mllab_inference_queue_seconds_sum"
    )
    assert 0 < inside <= total


@pytest.mark.parametrize("why", ["busy", "draining"])
def test_a_refused_request_counts_as_refused_and_never_reaches_the_model(tiny_model, why):
    app = create_app(tiny_model, max_in_flight=0 if why == "busy" else 4)
    app.state.in_flight.draining = why == "draining"
    with TestClient(app) as client:
        before = scrape(client)
        assert client.post("/predict", content=b"x", headers=NPY).status_code == 503
        after = scrape(client)
    assert moved(before, after, "mllab_admission_rejections_total") == 1
    refused = {"method": "POST", "route": "/predict", "code": "503"}
    assert moved(before, after, "mllab_http_requests_total", **refused) == 1
    assert moved(before, after, "mllab_inference_requests_total") == 0
    assert value(after, "mllab_server_draining") == (1 if why == "draining" else 0)


def test_labels_stay_bounded_whatever_paths_and_methods_clients_send(client):
    before = scrape(client)
    for path in ("/nope", "/nope/1", "/v2/models/x/versions/1/ready/extra"):
        assert client.get(path).status_code == 404
    assert client.request("BREW", "/predict").status_code == 405
    after = scrape(client)
    assert (
        moved(before, after, "mllab_http_requests_total", method="GET", route=UNMATCHED, code="404")
        == 3
    )
    brew = {"method": "OTHER", "route": "/predict", "code": "405"}
    assert moved(before, after, "mllab_http_requests_total", **brew) == 1
    routes = {dict(labels).get("route") for (name, labels) in after if "http" in name}
    assert not any(route and "nope" in route for route in routes)


def test_a_failed_inference_counts_as_a_failure_and_a_500(client, random_batch):
    model = client.app.state.model

    def broken(x):
        raise RuntimeError("the session broke")

    model._run_session = broken  # under the metered Model.infer
    before = scrape(client)
    assert client.post("/predict", content=npy(random_batch(1)), headers=NPY).status_code == 500
    after = scrape(client)
    assert moved(before, after, "mllab_inference_request_failures_total") == 1
    assert moved(before, after, "mllab_inference_requests_total") == 0
    failed = {"method": "POST", "route": "/predict", "code": "500"}
    assert moved(before, after, "mllab_http_requests_total", **failed) == 1


def test_the_exposition_parses_and_names_the_model(client):
    response = client.get("/metrics")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    expected = {
        "mllab_http_requests", "mllab_http_request_duration_seconds",
        "mllab_http_requests_in_flight", "mllab_inference_requests",
        "mllab_inference_request_failures", "mllab_inference_count",
        "mllab_inference_exec_count", "mllab_inference_batch_rows",
        "mllab_inference_queue_seconds", "mllab_inference_compute_seconds",
        "mllab_inference_requests_in_flight", "mllab_inference_max_in_flight",
        "mllab_admission_rejections", "mllab_server_draining", "mllab_model_info",
        "mllab_model_load_seconds",
    }  # fmt: skip
    assert expected <= names, expected - names
    series = parse(response.text)
    model = client.app.state.model
    (info,) = [dict(labels) for (name, labels) in series if name == "mllab_model_info"]
    assert info["sha256"] == model.sha256 and info["model_version"] == "1.2.3-build.7"
    assert info["provider"] == model.provider and info["name"] == "resnet50"
    assert value(series, "mllab_model_load_seconds") > 0
    assert value(series, "mllab_inference_max_in_flight") == 4


def test_a_broken_collector_is_a_failed_scrape_not_a_500(client, caplog):
    class Broken(Collector):
        def collect(self):
            raise RuntimeError("cannot read")

    client.app.state.metrics.registry.register(Broken())
    response = client.get("/metrics")
    assert response.status_code == 503
    assert "collecting the metrics failed" in response.json()["error"]
    assert "cannot read" in caplog.text  # the traceback is in the server's log


def test_batched_executions_count_once_per_batch(tiny_model, random_batch):
    """With dynamic batching, count / exec_count is the mean batch size the batcher formed."""
    model = Model(tiny_model, batch_max_size=4, batch_max_queue_delay_ms=50)
    metrics = Metrics(InFlight(limit=8))
    watch(model, metrics)
    threads = [threading.Thread(target=model.run, args=(random_batch(1, s),)) for s in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    model.close()
    series = parse(metrics.exposition().decode())
    batching = model.batching
    assert batching is not None
    assert value(series, "mllab_inference_requests_total") == 6
    assert value(series, "mllab_inference_count_total") == 6
    assert value(series, "mllab_inference_exec_count_total") == batching["batches"]
    assert value(series, "mllab_inference_batch_rows_count") == batching["batches"]
    assert value(series, "mllab_inference_batch_rows_sum") == batching["rows"] == 6


def test_without_prometheus_client_the_server_starts_and_metrics_answer_404(
    tiny_model, monkeypatch
):
    monkeypatch.setattr(metrics_module, "AVAILABLE", False)
    with TestClient(create_app(tiny_model)) as client:
        assert client.get("/health").status_code == 200
        response = client.get("/metrics")
    assert response.status_code == 404
    assert "prometheus-client is not installed" in response.json()["error"]


def test_the_module_imports_where_prometheus_client_is_missing():
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "import mllab.serve.metrics as m; print(m.AVAILABLE)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
