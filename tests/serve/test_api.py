"""The FastAPI app in process: every body kind, health/readiness/metadata, every client error
answered 4xx JSON (never 500), and the body limit for every content type."""

from __future__ import annotations

import io

import numpy as np
import pytest

from mllab.core.errors import IntegrityError
from mllab.measure.drift import TUTORIAL_ATOL, compare
from mllab.model.integrity import sha256_file
from mllab.model.preprocess import preprocess, sample_images, top_k
from mllab.serve.api import create_app
from mllab.serve.bodies import npy_bytes

NPY = {"Content-Type": "application/x-npy"}
MAX_BODY_MB = 4.0  # takes one JSON image (~3 MB), crossed with a few MB
MAX_BATCH = 4


@pytest.fixture(scope="module")
def client(tiny_model):
    """The app with small limits (MAX_BODY_MB, MAX_BATCH), in process."""
    from fastapi.testclient import TestClient

    app = create_app(tiny_model, max_body_mb=MAX_BODY_MB, max_batch=MAX_BATCH)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def batch(n: int = 1, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 224, 224)).astype(np.float32)


def assert_common(answer: dict, tiny_model) -> None:
    assert answer["sha256"] == sha256_file(tiny_model)
    assert answer["provider"] == "CPUExecutionProvider"
    assert answer["latency_ms"] > 0


# --- the three body kinds ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3])
def test_npy_body_equals_in_process_ort(client, reference, tiny_model, n):
    x = batch(n)
    answer = client.post("/predict", content=npy_bytes(x), headers=NPY).json()
    assert answer["shape"] == [n, 1000]
    assert_common(answer, tiny_model)
    assert (
        compare(np.array(answer["output"], dtype=np.float32), reference(x)).max_abs <= TUTORIAL_ATOL
    )


def test_npy_answer_when_accepted(client, reference, tiny_model):
    x = batch(2)
    response = client.post(
        "/predict", content=npy_bytes(x), headers={**NPY, "Accept": "application/x-npy"}
    )
    assert response.headers["content-type"] == "application/x-npy"
    assert response.headers["x-model-sha256"] == sha256_file(tiny_model)
    assert response.headers["x-provider"] == "CPUExecutionProvider"
    assert float(response.headers["x-latency-ms"]) > 0
    logits = np.load(io.BytesIO(response.content), allow_pickle=False)
    assert compare(logits, reference(x)).max_abs <= TUTORIAL_ATOL


@pytest.mark.parametrize("where", ["header", "query"])
def test_raw_float32_body_with_shape(client, reference, where):
    x = batch(2)
    headers = {"Content-Type": "application/octet-stream"}
    params = {}
    if where == "header":
        headers["X-Shape"] = "2,3,224,224"
    else:
        params["shape"] = "2,3,224,224"
    response = client.post("/predict", content=x.tobytes(), headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert compare(np.array(response.json()["output"]), reference(x)).max_abs <= TUTORIAL_ATOL


def test_lecture_json_body(client, reference, tiny_model):
    x = batch(1)
    answer = client.post("/predict", json={"input": x.tolist()}).json()
    assert_common(answer, tiny_model)
    assert (
        compare(np.array(answer["output"], dtype=np.float32), reference(x)).max_abs <= TUTORIAL_ATOL
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_image_upload_top_k(client, reference, tmp_path, fmt):
    from PIL import Image

    path = tmp_path / f"photo.{fmt.lower()}"
    Image.open(sample_images()[0]).save(path, fmt)
    data = path.read_bytes()
    expected = top_k(reference(preprocess(data)[None]), 3)[0]
    for kwargs in (
        {"files": {"file": (path.name, data, f"image/{fmt.lower()}")}},
        {"content": data, "headers": {"Content-Type": f"image/{fmt.lower()}"}},
    ):
        answer = client.post("/predict", params={"k": 3}, **kwargs).json()
        assert [e["label"] for e in answer["top_k"]] == [name for name, _ in expected]
        scores = [e["score"] for e in answer["top_k"]]
        assert scores == pytest.approx([score for _, score in expected], abs=1e-6)
        assert answer["preprocess_ms"] > 0 and answer["k"] == 3


# --- health, readiness, metadata ---------------------------------------------------------------


def test_health_ready_metadata(client, tiny_model):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["sha256"] == sha256_file(tiny_model)
    meta = client.get("/metadata").json()
    model = meta["model"]
    assert model["path"] == str(tiny_model) and model["sha256"] == sha256_file(tiny_model)
    assert model["input"] == {"name": "input", "shape": ["N", 3, 224, 224], "type": "tensor(float)"}
    assert model["output"]["name"] == "logits" and model["output"]["shape"] == ["N", 1000]
    assert model["opsets"] == {"ai.onnx": 17} and model["ir_version"] == 8
    assert meta["provider"] == "CPUExecutionProvider" and meta["threads"] >= 1
    limits = meta["limits"]
    assert (limits["max_body_mb"], limits["max_batch"]) == (MAX_BODY_MB, MAX_BATCH)
    assert limits["max_image_mp"] > 0 and limits["max_json_depth"] >= 5
    assert meta["admission"]["max_in_flight"] >= 1 and meta["admission"]["in_flight"] == 0
    assert {"python", "numpy", "onnxruntime"} <= set(meta["versions"])


# --- client errors: 4xx JSON with a message, never 500, and the server stays healthy ----------


def _pickled_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def _nan_batch() -> np.ndarray:
    x = batch(1)
    x[0, 1, 2, 3] = np.nan
    return x


RAW = "application/octet-stream"
BAD_REQUESTS = {
    "empty body": ({"content": b"", "headers": NPY}, 400, "empty"),
    "no content type": ({"content": b"abc"}, 415, "not supported"),
    "text/plain": ({"content": b"abc", "headers": {"Content-Type": "text/plain"}}, 415, "send"),
    "form fields": ({"data": {"a": "1"}}, 415, "not supported"),
    "corrupt image": (
        {"content": b"\xff\xd8junk", "headers": {"Content-Type": "image/jpeg"}},
        400,
        "image",
    ),  # noqa: E501
    "corrupt upload": (
        {"files": {"file": ("x.png", b"\x89PNG\r\n\x1a\nxx", "image/png")}},
        400,
        "image",
    ),  # noqa: E501
    "empty upload": ({"files": {"file": ("x.png", b"", "image/png")}}, 400, "empty"),
    "multipart without boundary": (
        {"content": b"abc", "headers": {"Content-Type": "multipart/form-data"}},
        400,
        "boundary",
    ),  # noqa: E501
    "two files": (
        {"files": [("file", ("a", b"1", "image/png")), ("file", ("b", b"2", "image/png"))]},
        400,
        "files",
    ),  # noqa: E501
    "not npy": ({"content": b"abcd" * 100, "headers": NPY}, 400, ".npy"),
    "pickled npy": ({"content": _pickled_npy(), "headers": NPY}, 400, "pickle"),
    "float64 npy": (
        {"content": npy_bytes(batch(1).astype(np.float64)), "headers": NPY},
        422,
        "float32",
    ),  # noqa: E501
    "int npy": (
        {"content": npy_bytes(np.zeros((1, 3, 224, 224), np.int32)), "headers": NPY},
        422,
        "dtype",
    ),  # noqa: E501
    "wrong shape": (
        {"content": npy_bytes(np.zeros((1, 3, 32, 32), np.float32)), "headers": NPY},
        422,
        "shape",
    ),  # noqa: E501
    "no batch axis": (
        {"content": npy_bytes(np.zeros((3, 224, 224), np.float32)), "headers": NPY},
        422,
        "(N, 3, 224, 224)",
    ),  # noqa: E501
    "empty batch": (
        {"content": npy_bytes(np.zeros((0, 3, 224, 224), np.float32)), "headers": NPY},
        422,
        "batch",
    ),  # noqa: E501
    "batch too large": (
        {"content": npy_bytes(np.zeros((MAX_BATCH + 1, 3, 224, 224), np.float32)), "headers": NPY},
        422,
        "MAX_BATCH",
    ),  # noqa: E501
    "NaN": ({"content": npy_bytes(_nan_batch()), "headers": NPY}, 422, "NaN"),
    "raw without shape": (
        {"content": batch(1).tobytes(), "headers": {"Content-Type": RAW}},
        400,
        "X-Shape",
    ),  # noqa: E501
    "raw bad shape text": (
        {"content": batch(1).tobytes(), "headers": {"Content-Type": RAW, "X-Shape": "1,3,a"}},
        400,
        "shape",
    ),  # noqa: E501
    "raw byte count": (
        {
            "content": batch(1).tobytes()[:-4],
            "headers": {"Content-Type": RAW, "X-Shape": "1,3,224,224"},
        },
        422,
        "bytes",
    ),  # noqa: E501
    "raw zero dim": (
        {"content": b"\0\0\0\0", "headers": {"Content-Type": RAW, "X-Shape": "0,1"}},
        422,
        "positive",
    ),  # noqa: E501
    "bad json": (
        {"content": b'{"input": [1,', "headers": {"Content-Type": "application/json"}},
        400,
        "JSON",
    ),  # noqa: E501
    "json without input": ({"json": {"x": [1]}}, 422, '"input"'),
    "json list": ({"json": [1, 2]}, 422, '"input"'),
    "ragged json": ({"json": {"input": [[1, 2], [3]]}}, 422, "rectangular"),
    "json strings": ({"json": {"input": ["a"]}}, 422, "rectangular"),
    "json wrong shape": ({"json": {"input": [[1.0, 2.0]]}}, 422, "shape"),
    "deep json": (
        {
            "content": b'{"input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "headers": {"Content-Type": "application/json"},
        },
        400,
        "JSON",
    ),  # noqa: E501
    "k zero": ({"content": b"x", "params": {"k": 0}, "headers": NPY}, 422, "k"),
    "k not a number": ({"content": b"x", "params": {"k": "many"}, "headers": NPY}, 422, "k"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_client_errors_are_4xx_json_and_harmless(client, case):
    kwargs, status, fragment = BAD_REQUESTS[case]
    response = client.post("/predict", **kwargs)
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"error", "detail"} and fragment in payload["error"]
    assert client.get("/health").status_code == 200
    ok = client.post("/predict", content=npy_bytes(batch(1)), headers=NPY)
    assert ok.status_code == 200


def test_unknown_route_and_method_are_json(client):
    assert client.get("/nope").status_code == 404
    response = client.get("/predict")
    assert response.status_code == 405 and "error" in response.json()


# --- the body limit, enforced while reading ----------------------------------------------------


def test_body_limit_by_content_length(client):
    too_big = b"\0" * int((MAX_BODY_MB + 0.5) * 1024 * 1024)
    response = client.post("/predict", content=too_big, headers=NPY)
    assert response.status_code == 413 and "MAX_BODY_MB" in response.json()["error"]


def test_body_limit_applies_to_multipart(client):
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * int(MAX_BODY_MB * 1024 * 1024)
    response = client.post("/predict", files={"file": ("big.png", big, "image/png")})
    assert response.status_code == 413
    assert client.get("/health").status_code == 200


def test_create_app_refuses_a_tampered_model(tampered):
    with pytest.raises(IntegrityError, match="sha256"):
        create_app(tampered)
