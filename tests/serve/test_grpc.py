"""The Open Inference Protocol's gRPC service beside REST, tested with Triton's own client
(``tritonclient.grpc``): health, metadata, inference with raw tensors (and ``fp32_contents``),
the same model as REST (bit-identical answers), the same admission control (``UNAVAILABLE``
beyond ``MAX_IN_FLIGHT`` and while draining), the same limits (``MAX_BODY_MB`` is the largest
message, ``MAX_BATCH``), and ``python -m mllab.serve.app`` with ``GRPC_PORT``."""

from __future__ import annotations

import asyncio
import io
import signal
import threading

import numpy as np
import pytest

grpc = pytest.importorskip("grpc")
tritongrpc = pytest.importorskip("tritonclient.grpc")

from fastapi.testclient import TestClient  # noqa: E402
from tritonclient.grpc import service_pb2, service_pb2_grpc  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

from mllab.core.errors import MllabError  # noqa: E402
from mllab.core.poll import until  # noqa: E402
from mllab.serve.api import create_app  # noqa: E402
from mllab.serve.grpc_server import grpc_port_from_env, grpc_server  # noqa: E402
from mllab.serve.process import free_port, start_server  # noqa: E402
from tests.serve.gated import DROPPED, GatedSession, metric  # noqa: E402

NAME = "resnet50"
MAX_BATCH = 4


class Served:
    """An app (REST, in process) and its gRPC server in a loop of its own thread."""

    def __init__(self, app):
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = grpc_server(app, NAME, free_port(), host="127.0.0.1")
        self.call(self.server.start())
        self.url = f"127.0.0.1:{self.server.port}"
        self.client = tritongrpc.InferenceServerClient(self.url)

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def close(self):
        self.client.close()
        self.call(self.server.stop(None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture
def served(tiny_model):
    served = Served(create_app(tiny_model, max_batch=MAX_BATCH))
    yield served
    served.close()


def infer(client, x: np.ndarray, name: str = NAME, version: str = ""):
    tensor = tritongrpc.InferInput("input", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    wanted = [tritongrpc.InferRequestedOutput("logits")]
    return client.infer(name, [tensor], model_version=version, outputs=wanted).as_numpy("logits")


def code_of(error: InferenceServerException) -> str:
    return str(error.status())


def test_health_and_metadata_through_tritonclient(served):
    client = served.client
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(NAME) and client.is_model_ready(NAME, "1")
    server = client.get_server_metadata()
    assert server.name == "mllab" and server.version
    meta = client.get_model_metadata(NAME, as_json=True)
    assert meta["name"] == NAME and meta["versions"] == ["1"]
    assert meta["inputs"] == [
        {"name": "input", "datatype": "FP32", "shape": ["-1", "3", "224", "224"]}
    ]
    assert meta["outputs"][0]["name"] == "logits"


def test_infer_with_raw_tensors_answers_what_rest_answers(served, random_batch):
    x = random_batch(3, seed=4)
    logits = infer(served.client, x)
    assert logits.shape == (3, 1000) and logits.dtype == np.float32
    assert np.array_equal(logits, served.app.state.model.run(x)[0])  # same model, same batch
    buffer = io.BytesIO()
    np.save(buffer, x)
    rest = TestClient(served.app)  # no lifespan: its shutdown drains the app
    answer = rest.post(
        "/predict",
        content=buffer.getvalue(),
        headers={"content-type": "application/x-npy", "accept": "application/x-npy"},
    )
    assert np.array_equal(logits, np.load(io.BytesIO(answer.content)))


def test_fp32_contents_are_accepted_as_raw_contents_are(served, random_batch):
    x = random_batch(1, seed=2)
    request = service_pb2.ModelInferRequest(model_name=NAME, id="req-7")
    tensor = request.inputs.add(name="input", datatype="FP32", shape=list(x.shape))
    tensor.contents.fp32_contents.extend(x.ravel().tolist())
    with grpc.insecure_channel(served.url) as channel:
        response = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request)
    assert response.id == "req-7" and response.model_version == "1"
    assert list(response.outputs[0].shape) == [1, 1000]
    logits = np.frombuffer(response.raw_output_contents[0], "<f4").reshape(1, 1000)
    assert np.array_equal(logits, infer(served.client, x))


@pytest.mark.parametrize(
    ("name", "version", "code"),
    [("nobody", "", "NOT_FOUND"), (NAME, "2", "NOT_FOUND")],
)
def test_another_model_or_version_is_not_found(served, random_batch, name, version, code):
    with pytest.raises(InferenceServerException) as error:
        infer(served.client, random_batch(1), name, version)
    assert code in code_of(error.value)
    with pytest.raises(InferenceServerException, match="unknown"):
        served.client.get_model_metadata(name, version)


@pytest.mark.parametrize(
    ("shape", "words"),
    [((1, 3, 32, 32), "shape"), ((MAX_BATCH + 1, 3, 224, 224), "MAX_BATCH")],
)
def test_a_wrong_tensor_is_invalid_argument_with_a_message(served, shape, words):
    with pytest.raises(InferenceServerException, match=words) as error:
        infer(served.client, np.zeros(shape, np.float32))
    assert "INVALID_ARGUMENT" in code_of(error.value)


def test_a_bug_is_internal_with_an_error_id_only(served, random_batch, caplog):
    def broken(x):
        raise RuntimeError("secret internals")

    served.app.state.model._run_session = broken
    with pytest.raises(InferenceServerException, match="internal error") as error:
        infer(served.client, random_batch(1))
    assert "INTERNAL" in code_of(error.value) and "secret" not in str(error.value)
    assert "secret internals" in caplog.text  # the traceback is in the server's log
    # the slot is given back (the status reaches the client as the handler unwinds)
    assert until(lambda: served.app.state.in_flight.now == 0, timeout=10, interval=0.01)


def test_a_message_beyond_max_body_mb_is_refused(tiny_model, random_batch):
    served = Served(create_app(tiny_model, max_batch=MAX_BATCH, max_body_mb=1.0))
    try:
        with pytest.raises(InferenceServerException) as error:
            infer(served.client, random_batch(2))  # 1.2 MB: beyond MAX_BODY_MB=1
        assert "RESOURCE_EXHAUSTED" in code_of(error.value)
        assert infer(served.client, random_batch(1)).shape == (1, 1000)  # 0.6 MB passes
    finally:
        served.close()


@pytest.mark.parametrize("why", ["busy", "draining"])
def test_admission_control_is_shared_with_rest(served, random_batch, why):
    state = served.app.state.in_flight
    if why == "busy":
        state.now = state.limit  # every slot held (by REST requests, say)
    else:
        state.draining = True
    with pytest.raises(InferenceServerException, match="retry after") as error:
        infer(served.client, random_batch(1))
    assert "UNAVAILABLE" in code_of(error.value)
    assert state.refused == 1
    rest = TestClient(served.app)  # no lifespan: its shutdown drains the app
    # REST is refused by the same state
    assert (
        rest.post(
            "/predict", content=b"x", headers={"content-type": "application/x-npy"}
        ).status_code
        == 503
    )
    metrics = rest.get("/metrics").text
    assert "mllab_admission_rejections_total 2.0" in metrics
    if why == "busy":
        state.now = 0
        assert infer(served.client, random_batch(1)).shape == (1, 1000)
        assert (state.now, state.refused) == (0, 2)


def test_grpc_inferences_show_in_the_metrics(served, random_batch):
    rest = TestClient(served.app)  # no lifespan: its shutdown drains the app
    before = rest.get("/metrics").text
    infer(served.client, random_batch(2, seed=3)[:1])
    after = rest.get("/metrics").text
    assert "mllab_inference_requests_total 0.0" in before
    assert "mllab_inference_requests_total 1.0" in after
    assert 'mllab_grpc_requests_total{code="OK",method="ModelInfer"} 1.0' in after


def test_refused_and_unknown_calls_count_by_their_status_code(served, random_batch):
    served.app.state.in_flight.draining = True
    for name in (NAME, "nobody"):
        with pytest.raises(InferenceServerException):
            infer(served.client, random_batch(1), name)
    metrics = TestClient(served.app).get("/metrics").text
    assert 'mllab_grpc_requests_total{code="UNAVAILABLE",method="ModelInfer"} 1.0' in metrics
    assert 'mllab_grpc_requests_total{code="NOT_FOUND",method="ModelInfer"} 1.0' in metrics


def test_a_call_whose_deadline_passed_while_it_waited_is_dropped_before_inference(
    served, random_batch
):
    model = served.app.state.model
    session = model.session = GatedSession(model.session)
    arrived = []
    infer_model = model.infer
    model.infer = lambda x: (arrived.append(1), infer_model(x))[1]
    first: dict = {}
    holder = threading.Thread(
        target=lambda: first.setdefault("logits", infer(served.client, random_batch(1))),
        daemon=True,
    )
    holder.start()
    try:
        assert session.started.wait(30)  # the first call holds the session
        tensor = tritongrpc.InferInput("input", [1, 3, 224, 224], "FP32")
        tensor.set_data_from_numpy(random_batch(1, seed=2))
        with pytest.raises(InferenceServerException) as error:  # gone while it waited
            served.client.infer(NAME, [tensor], client_timeout=1.0)
        assert "DEADLINE_EXCEEDED" in code_of(error.value) and len(arrived) == 2
        state = served.app.state.in_flight
        until(lambda: state.disconnected == 1, timeout=30, interval=0.02, what="cancel seen")
    finally:
        session.open()
        holder.join(30)
    assert first["logits"].shape == (1, 1000)  # the call that stayed is answered
    rest = TestClient(served.app)  # no lifespan: its shutdown drains the app
    until(
        lambda: metric(rest.get("/metrics").text, DROPPED) == 1.0,
        timeout=30,
        interval=0.05,
        what="the dropped call counted",
    )
    assert session.runs == 1  # two calls reached the model, one ran


@pytest.mark.parametrize(
    ("value", "port"), [("", None), ("0", None), ("8081", 8081), (" 50051 ", 50051)]
)
def test_grpc_port_from_env(value, port):
    assert grpc_port_from_env({"GRPC_PORT": value}) == port


@pytest.mark.parametrize("value", ["http", "-1", "70000"])
def test_a_bad_grpc_port_is_a_clear_error(value):
    with pytest.raises(MllabError, match="GRPC_PORT"):
        grpc_port_from_env({"GRPC_PORT": value})


def test_the_server_process_serves_grpc_beside_rest(tiny_model, random_batch):
    port = free_port()
    with start_server(
        tiny_model, max_batch=MAX_BATCH, env={"GRPC_PORT": str(port), "LOG_LEVEL": "info"}
    ) as server:
        client = tritongrpc.InferenceServerClient(f"127.0.0.1:{port}")
        try:
            assert client.is_server_ready() and client.is_model_ready(NAME)
            x = random_batch(2, seed=6)
            logits = infer(client, x)
        finally:
            client.close()
        assert logits.shape == (2, 1000)
        assert f"grpc://127.0.0.1:{port}" in server.log()
        # SIGTERM: gRPC drains, then HTTP; uvicorn re-raises the signal once drained
        assert server.stop() in (0, -signal.SIGTERM)
        assert "Finished server process" in server.log()
