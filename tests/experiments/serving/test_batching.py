"""Lab 02's batching sweep and the peer benchmark's parts (a tiny model: the mechanics, not
ResNet-50's figures): the requests each API is loaded with, locust's run, the server's batch
counters, ONNX Runtime in process, and KServe's ModelServer in its own environment (slow)."""

from __future__ import annotations

import io
import json

import httpx
import matplotlib
import numpy as np
import pytest

from mllab.core.errors import InputError
from mllab.core.records import as_fields
from mllab.experiments.serving.batching import (
    BatchingPoint,
    BatchingSweep,
    api_request,
    batching_sweep,
    load_point,
    plot_batching,
    server_settings,
)
from mllab.experiments.serving.peer import in_process, start_kserve
from mllab.measure.load import LoadRequest, run_load
from mllab.serve.process import start_server
from mllab.serve.v2_binary import HEADER_LENGTH, read_response

matplotlib.use("Agg")


@pytest.fixture
def x() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)


def test_each_api_is_loaded_with_a_binary_request(x):
    npy = api_request("predict", x)
    assert npy.path == "/predict" and npy.headers["Content-Type"] == "application/x-npy"
    assert np.array_equal(np.load(io.BytesIO(npy.body)), x) and npy.label == "predict"
    v2 = api_request("v2", x)
    assert v2.path == "/v2/models/resnet50/infer" and v2.label == "v2"
    size = int(v2.headers[HEADER_LENGTH])
    header = json.loads(v2.body[:size])
    assert header["inputs"][0]["parameters"]["binary_data_size"] == x.nbytes == len(v2.body) - size
    with pytest.raises(InputError, match="predict, v2"):
        api_request("grpc", x)


def test_server_settings_leave_room_for_the_load():
    env = server_settings(8, 2.0, 16)
    assert env["BATCH_MAX_SIZE"] == "8" and env["BATCH_MAX_QUEUE_DELAY_MS"] == "2.0"
    assert int(env["MAX_IN_FLIGHT"]) > 16  # admission must not refuse the load itself


def test_locust_refuses_a_host_off_this_machine(x):
    with pytest.raises(InputError, match="127.0.0.1"):
        run_load("http://10.0.0.1:8080", LoadRequest("POST", "/predict"), 1, requests=1)


def test_in_process_counts_every_call(tiny_model, x):
    point = in_process(tiny_model, x, threads=1, concurrency=3, requests=12)
    assert point.requests == 12 and point.errors == 0 and point.throughput > 0
    assert 0 < point.p50_ms <= point.p99_ms


def test_a_load_point_counts_the_batches_the_server_formed(tiny_model, x):
    with start_server(tiny_model, threads=1, env=server_settings(4, 50.0, 4)) as server:
        point = load_point(server.url, "v2", x, concurrency=4, requests=16, batching=True)
    assert point.errors == 0 and point.requests == 16 and point.load_cpu_s > 0
    assert 1.0 < point.mean_batch_rows <= 4  # four clients inside 50 ms: shared batches


@pytest.mark.slow
def test_the_sweep_measures_both_settings_and_the_batches_formed(tiny_model):
    sweep = batching_sweep(
        tiny_model, (1, 4), requests=24, batch_max_size=4, max_queue_delay_ms=50, threads=1
    )
    assert [(p.batching, p.concurrency) for p in sweep.points] == [
        (False, 1),
        (False, 4),
        (True, 1),
        (True, 4),
    ]
    for point in sweep.points:
        assert point.errors == 0 and point.requests == 24 and point.throughput > 0
        assert point.p50_ms <= point.p99_ms and point.load_cpu_s > 0
    off, on = sweep.of(False), sweep.of(True)
    assert all(p.mean_batch_rows is None for p in off)
    assert on[0].mean_batch_rows == 1.0  # one client: nobody to batch with
    assert 1.0 < on[1].mean_batch_rows <= 4  # four clients inside 50 ms: shared batches
    assert as_fields(sweep)["points"][3]["mean_batch_rows"] == on[1].mean_batch_rows
    assert len(plot_batching(sweep).axes) == 2


def test_plot_takes_a_recorded_sweep():
    def point(batching, c, rate):
        return BatchingPoint(batching, c, 10, 0, rate, 10.0 * c, 20.0 * c, None, 0.1)

    sweep = BatchingSweep("v2", 8, 2.0, 2, [point(False, 1, 5.0), point(True, 1, 4.0)])
    assert sweep.rows()[1]["throughput"] == 4.0
    figure = plot_batching(sweep)
    assert "v2" in figure.axes[0].get_title()


@pytest.mark.slow
def test_kserve_answers_the_same_logits_as_in_process(tiny_model, x):
    """The peer (its virtual environment is made on first use: pip, a minute) serves the same
    session: the binary v2 answer equals ``session.run`` here, bit for bit."""
    from mllab.runtime.sessions import SessionConfig, create_session

    session = create_session(tiny_model, SessionConfig(threads=1, allow_spinning=False))
    expected = session.run(None, {"input": x})[0]
    with start_kserve(tiny_model, threads=1) as server:
        v2 = api_request("v2", x)
        answer = httpx.post(server.url + v2.path, content=v2.body, headers=v2.headers, timeout=60)
        assert answer.status_code == 200, answer.text
        outputs = read_response(answer.content, answer.headers.get(HEADER_LENGTH))
    assert np.array_equal(outputs["logits"], expected)
