"""The Open Inference Protocol (v2) beside ``/predict``: the body codec alone, the routes in
process (errors answer the protocol's error object, 4xx), and the acceptance test — Triton's own
client, ``tritonclient[http]``, against ``python -m mllab.serve.app`` and the slim container."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from mllab.measure.drift import TUTORIAL_ATOL, compare
from mllab.serve.api import create_app
from mllab.serve.bodies import RequestError
from mllab.serve.client import predict_tensor
from mllab.serve.process import start_server
from mllab.serve.v2 import model_name_from_env
from mllab.serve.v2_binary import (
    DEFAULT_MODEL_NAME,
    HEADER_LENGTH,
    InferRequest,
    encode_response,
    parse_request,
)

NAME = "tiny"
MAX_BATCH = 4
INFER = f"/v2/models/{NAME}/infer"


def header(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def binary_request(x: np.ndarray, name: str = "input", **extra) -> tuple[bytes, dict]:
    """The binary extension by hand: JSON header + raw float32, and the length header."""
    payload = {
        "inputs": [
            {
                "name": name,
                "shape": list(x.shape),
                "datatype": "FP32",
                "parameters": {"binary_data_size": x.nbytes},
            }
        ],
        **extra,
    }
    text = header(payload)
    return text + x.astype("<f4").tobytes(), {HEADER_LENGTH: str(len(text))}


# --- the codec alone ---------------------------------------------------------------------------


def test_parse_request_splits_the_json_header_from_the_binary_inputs():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    body, headers = binary_request(x, parameters={"binary_data_output": True})
    request = parse_request(body, headers[HEADER_LENGTH])
    assert [t.name for t in request.inputs] == ["input"]
    assert bytes(request.inputs[0].binary) == x.tobytes()
    assert request.outputs is None and request.wants_binary("logits")


@pytest.mark.parametrize(
    "body, length, message",
    [
        (b"{}", None, '"inputs"'),
        (b"[1]", None, "JSON object"),
        (b"not json", None, "not valid JSON"),
        (b'{"inputs": []}xx', "999", HEADER_LENGTH),
        (b'{"inputs": []}xx', "-1", HEADER_LENGTH),
    ],
)
def test_parse_request_refuses_malformed_headers(body, length, message):
    with pytest.raises(RequestError, match=message):
        parse_request(body, length)


def test_binary_sizes_must_add_up_to_the_bytes_received():
    x = np.zeros((1, 3), np.float32)
    body, headers = binary_request(x)
    with pytest.raises(RequestError, match="add up"):
        parse_request(body + b"\0\0\0\0", headers[HEADER_LENGTH])
    with pytest.raises(RequestError, match="binary_data_size"):
        parse_request(body[:-4], headers[HEADER_LENGTH])


def test_encode_response_binary_and_json_outputs():
    logits = np.arange(10, dtype=np.float32).reshape(2, 5)
    binary = InferRequest(id="7", inputs=[], outputs={"logits": True})
    content, length = encode_response("m", binary, {"logits": logits})
    answer = json.loads(content[:length])
    assert answer["id"] == "7" and answer["model_name"] == "m"
    assert answer["outputs"][0]["parameters"]["binary_data_size"] == logits.nbytes
    assert np.frombuffer(content[length:], "<f4").tolist() == logits.ravel().tolist()
    content, length = encode_response("m", InferRequest(None, []), {"logits": logits})
    assert length is None
    assert json.loads(content)["outputs"][0]["data"] == logits.ravel().tolist()


def test_model_name_comes_from_the_environment():
    assert model_name_from_env({}) == DEFAULT_MODEL_NAME
    assert model_name_from_env({"MODEL_NAME": "other"}) == "other"


# --- the routes in process ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tiny_model):
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODEL_NAME", NAME)
        app = create_app(tiny_model, max_batch=MAX_BATCH)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_metadata_says_fp32_and_a_dynamic_batch(client):
    meta = client.get(f"/v2/models/{NAME}").json()
    assert meta["platform"] == "onnxruntime_onnx" and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}]
    assert meta["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]}]
    assert client.get(f"/v2/models/{NAME}/versions/1").json() == meta
    assert "binary_tensor_data" in client.get("/v2").json()["extensions"]


def test_json_tensors_equal_in_process_ort(client, reference, random_batch):
    x = random_batch(2)
    payload = {"id": "a", "inputs": [{"name": "input", "shape": [2, 3, 224, 224]}]}
    payload["inputs"][0] |= {"datatype": "FP32", "data": x.ravel().tolist()}
    response = client.post(INFER, content=header(payload))
    assert response.status_code == 200, response.text
    out = response.json()["outputs"][0]
    assert out["shape"] == [2, 1000] and response.json()["id"] == "a"
    logits = np.array(out["data"], np.float32).reshape(out["shape"])
    assert compare(logits, reference(x)).max_abs <= TUTORIAL_ATOL


@pytest.mark.parametrize(
    "path, status",
    [("/v2/models/other", 404), ("/v2/models/tiny/versions/2", 404), ("/v2/models/x/ready", 404)],
)
def test_unknown_models_and_versions_are_404_error_objects(client, path, status):
    response = client.get(path)
    assert response.status_code == status and set(response.json()) == {"error"}


def test_bad_requests_answer_the_error_object_with_4xx(client, random_batch):
    x = random_batch(1)
    good, headers = binary_request(x)
    wrong_name, _ = binary_request(x, name="pixels")
    nested = {"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [[1, 2]]}]}
    fp64 = {"inputs": [{"name": "input", "shape": [1, 3, 224, 224], "datatype": "FP64"}]}
    cases = {
        "unknown model": ("/v2/models/x/infer", good, headers, 404),
        "too many values": (INFER, good + b"\0" * 4, headers, 400),
        "wrong input name": (INFER, wrong_name, headers, 400),
        "wrong shape": (INFER, header(nested), {}, 400),
        "datatype": (
            INFER,
            header({**fp64, "inputs": [fp64["inputs"][0] | {"data": []}]}),
            {},
            400,
        ),
        "gzip": (INFER, good, {**headers, "Content-Encoding": "gzip"}, 415),
    }
    for what, (path, body, extra, status) in cases.items():
        response = client.post(path, content=body, headers=extra)
        assert response.status_code == status, (what, response.text)
        assert isinstance(response.json()["error"], str), what


def test_batch_over_max_batch_and_non_finite_values_are_refused(client):
    big = np.zeros((MAX_BATCH + 1, 3, 224, 224), np.float32)
    body, headers = binary_request(big)
    assert client.post(INFER, content=body, headers=headers).status_code == 400
    x = np.zeros((1, 3, 224, 224), np.float32)
    x[0, 0, 0, 0] = np.inf
    body, headers = binary_request(x)
    assert client.post(INFER, content=body, headers=headers).status_code == 422
    huge = {"name": "input", "shape": [1, 1, 1, 1], "datatype": "FP32", "data": [10**400]}
    response = client.post(INFER, content=header({"inputs": [huge]}))
    assert 400 <= response.status_code < 500


# --- tritonclient, the acceptance test ---------------------------------------------------------


def triton_round_trip(url: str, name: str, x: np.ndarray, reference, binary: bool) -> None:
    """Readiness, metadata and one inference through Triton's client, compared with ORT."""
    client = triton.InferenceServerClient(url.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready(name)
        meta = client.get_model_metadata(name)
        assert meta["inputs"][0]["shape"] == [-1, 3, 224, 224]
        tensor = triton.InferInput(meta["inputs"][0]["name"], list(x.shape), "FP32")
        tensor.set_data_from_numpy(x, binary_data=binary)
        output = triton.InferRequestedOutput(meta["outputs"][0]["name"], binary_data=binary)
        result = client.infer(name, [tensor], outputs=[output])
        logits = result.as_numpy(meta["outputs"][0]["name"])
        assert logits.shape == (x.shape[0], 1000)
        assert compare(logits, reference(x)).max_abs <= TUTORIAL_ATOL
        if binary:  # no outputs named: the client asks for all of them as binary data
            whole = client.infer(name, [tensor]).as_numpy(meta["outputs"][0]["name"])
            assert np.array_equal(whole, logits)
        with pytest.raises(InferenceServerException, match="unknown model"):
            client.get_model_metadata("nobody")
    finally:
        client.close()


@pytest.fixture(scope="module")
def host_server(tiny_model):
    with start_server(tiny_model, max_batch=MAX_BATCH, env={"MODEL_NAME": NAME}) as server:
        yield server


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_against_the_host_server(host_server, reference, random_batch, binary):
    triton_round_trip(host_server.url, NAME, random_batch(3, seed=4), reference, binary)


def test_v2_answers_what_predict_answers(host_server, random_batch):
    x = random_batch(2, seed=5)
    client = triton.InferenceServerClient(host_server.url.removeprefix("http://"))
    tensor = triton.InferInput("input", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    v2 = client.infer(NAME, [tensor]).as_numpy("logits")
    client.close()
    assert np.array_equal(v2, predict_tensor(host_server.url, x)["output"])


@pytest.fixture(scope="module")
def slim_v2():
    from mllab.containers.build import build_slim
    from mllab.containers.run import run

    with run(build_slim(on_log=None), name="mllab-test-slim-v2", read_only=True) as container:
        yield container


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_against_the_slim_container(slim_v2, binary):
    from mllab.model.artifacts import default_model
    from mllab.runtime.sessions import create_session

    session = create_session(default_model())
    x = np.random.default_rng(6).standard_normal((2, 3, 224, 224)).astype(np.float32)
    host = lambda batch: session.run(None, {session.get_inputs()[0].name: batch})[0]  # noqa: E731
    triton_round_trip(slim_v2.url, DEFAULT_MODEL_NAME, x, host, binary)
