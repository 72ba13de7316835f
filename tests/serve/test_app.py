"""The inference server: every body kind, every client error, limits, integrity, imports.

A tiny ONNX model with ResNet-50's interface (input ``input`` (N, 3, 224, 224) float32, output
``logits`` (N, 1000)) keeps these tests fast; lab 02 runs the same server on ResNet-50.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from tiny_models import tiny_resnet_interface

from mllab.measure.drift import compare
from mllab.core.errors import IntegrityError, MllabError
from mllab.model.integrity import sha256_file, write_digest
from mllab.model.preprocess import preprocess, sample_images, top_k
from mllab.serve.app import ServerConfig, create_app, npy_bytes, onnx_header
from mllab.serve.client import (
    http_overhead,
    predict_image,
    predict_json,
    predict_tensor,
    run_lecture_flask,
    start_server,
)

NPY = {"Content-Type": "application/x-npy"}
MAX_BODY_MB = 4.0  # takes one JSON image (~3 MB), crossed with a few MB
MAX_BATCH = 4


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """ResNet-50's interface in three nodes, with its sha256 file."""
    return tiny_resnet_interface(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def client(tiny_model):
    from fastapi.testclient import TestClient

    app = create_app(tiny_model, max_body_mb=MAX_BODY_MB, max_batch=MAX_BATCH)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def reference(tiny_model):
    """In-process ONNX Runtime on the same file: what the server must answer."""
    from mllab.runtime.sessions import create_session

    session = create_session(tiny_model)
    return lambda x: session.run(None, {"input": x})[0]


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
    assert compare(np.array(answer["output"], dtype=np.float32), reference(x)).max_abs <= 1e-5


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
    assert compare(logits, reference(x)).max_abs <= 1e-5


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
    assert compare(np.array(response.json()["output"]), reference(x)).max_abs <= 1e-5


def test_lecture_json_body(client, reference, tiny_model):
    x = batch(1)
    answer = client.post("/predict", json={"input": x.tolist()}).json()
    assert_common(answer, tiny_model)
    assert compare(np.array(answer["output"], dtype=np.float32), reference(x)).max_abs <= 1e-5


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
    assert meta["limits"] == {"max_body_mb": MAX_BODY_MB, "max_batch": MAX_BATCH}
    assert {"python", "numpy", "onnxruntime"} <= set(meta["versions"])


def test_onnx_header_matches_onnx(tiny_model):
    import onnx

    proto = onnx.load(tiny_model)
    header = onnx_header(tiny_model)
    assert header["ir_version"] == proto.ir_version
    assert header["opsets"] == {(o.domain or "ai.onnx"): o.version for o in proto.opset_import}


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


def test_body_limit_stops_reading_a_stream_at_the_limit():
    """A chunked body has no Content-Length: the limit is counted as the chunks arrive, the
    rest is never read and the application never sees the request."""
    import asyncio

    from mllab.serve.app import BodyLimit

    received, sent, app_calls = [], [], []

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b"\0" * 1000, "more_body": True}  # endless

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        app_calls.append(scope)

    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": []}
    asyncio.run(BodyLimit(app, max_bytes=10_500)(scope, receive, send))
    assert len(received) == 11 and not app_calls
    assert sent[0]["status"] == 413


def test_body_limit_applies_to_multipart(client):
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * int(MAX_BODY_MB * 1024 * 1024)
    response = client.post("/predict", files={"file": ("big.png", big, "image/png")})
    assert response.status_code == 413
    assert client.get("/health").status_code == 200


# --- configuration -----------------------------------------------------------------------------


def test_config_from_env_defaults_are_the_lecture():
    config = ServerConfig.from_env({})
    assert (config.port, config.host, config.device, config.threads) == (
        8080,
        "0.0.0.0",
        "cpu",
        None,
    )
    assert str(config.model_path) == "model.onnx"


def test_config_from_env_reads_every_variable():
    env = {
        "MODEL_PATH": "/models/m.onnx",
        "PORT": "9000",
        "HOST": "127.0.0.1",
        "THREADS": "3",
        "PROVIDER": "CUDAExecutionProvider",
        "MAX_BODY_MB": "4.5",
        "MAX_BATCH": "8",
    }
    config = ServerConfig.from_env(env)
    assert str(config.model_path) == "/models/m.onnx" and config.port == 9000
    assert config.host == "127.0.0.1" and config.threads == 3 and config.device == "cuda"
    assert config.max_body_mb == 4.5 and config.max_batch == 8
    assert ServerConfig.from_env({**env, "ORT_THREADS": "2"}).threads == 2  # ORT_THREADS first
    assert ServerConfig.from_env({"DEVICE": "auto", "PROVIDER": "cuda"}).device == "auto"


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"PORT": "http"}, "PORT must be a number"),
        ({"PORT": "70000"}, "at most 65535"),
        ({"THREADS": "0"}, "at least 1"),
        ({"DEVICE": "gpu"}, "DEVICE/PROVIDER"),
        ({"MAX_BODY_MB": "nan"}, "MAX_BODY_MB"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ],
)
def test_config_from_env_rejects_bad_values(env, fragment):
    with pytest.raises(MllabError, match=fragment):
        ServerConfig.from_env(env)


# --- integrity: a tampered model never serves --------------------------------------------------


@pytest.fixture
def tampered(tiny_model, tmp_path):
    path = tmp_path / "model.onnx"
    shutil.copy(tiny_model, path)
    shutil.copy(f"{tiny_model}.sha256", tmp_path / "model.onnx.sha256")
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(data))
    return path


def test_tampered_model_refused_by_create_app(tampered):
    with pytest.raises(IntegrityError, match="sha256"):
        create_app(tampered)


def test_tampered_model_stops_python_m_serving(tampered, tmp_path):
    env = {"MODEL_PATH": str(tampered), "PORT": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "mllab.serve.app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one clear line, no traceback
    assert "refusing to load" in lines[0] and "sha256" in lines[0] and str(tampered) in lines[0]


def test_missing_digest_is_refused(tiny_model, tmp_path):
    path = tmp_path / "nodigest.onnx"
    shutil.copy(tiny_model, path)
    with pytest.raises(IntegrityError, match="digest"):
        create_app(path)


def test_mllab_serve_refuses_tampered_model(tampered, capsys):
    from mllab.cli.main import main

    assert main(["serve", "--model", str(tampered), "--port", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mllab serve: error: refusing to load")


def test_unloadable_model_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"not a protobuf" * 10)
    write_digest(path)  # the digest matches: the file is intact, just not a model
    with pytest.raises(MllabError, match="ONNX Runtime cannot load"):
        create_app(path)


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(MllabError, match="no model file"):
        create_app(tmp_path / "absent.onnx")


# --- over a real socket, in a subprocess as the container runs it ------------------------------


def test_server_process_equals_host_ort(tiny_model, reference):
    import httpx

    with start_server(tiny_model, max_body_mb=MAX_BODY_MB, max_batch=MAX_BATCH) as server:
        x, one = batch(2), batch(1)  # one JSON image is ~3 MB of text
        for answer, sent in (
            (predict_tensor(server.url, x, "npy"), x),
            (predict_tensor(server.url, x, "raw", accept_npy=False), x),
            (predict_json(server.url, one), one),
        ):
            assert compare(answer["output"], reference(sent)).max_abs <= 1e-5
            assert answer["sha256"] == sha256_file(tiny_model)
        image = predict_image(server.url, sample_images()[0], k=2)
        assert len(image["top_k"]) == 2
        assert httpx.get(f"{server.url}/metadata").json()["limits"]["max_batch"] == MAX_BATCH
        with ThreadPoolExecutor(8) as pool:  # concurrent clients: each gets its own answer
            inputs = [batch(1, seed) for seed in range(16)]
            outputs = list(pool.map(lambda a: predict_tensor(server.url, a)["output"], inputs))
        for sent, got in zip(inputs, outputs, strict=True):
            assert compare(got, reference(sent)).max_abs <= 1e-5
        chunks = (b"\0" * (1024 * 1024) for _ in range(int(MAX_BODY_MB) + 4))  # chunked
        response = httpx.post(f"{server.url}/predict", content=chunks, headers=NPY)
        assert response.status_code == 413 and httpx.get(f"{server.url}/health").is_success
    assert not server.alive()


def test_start_server_reports_why_it_died(tampered):
    with pytest.raises(MllabError, match="refusing to load"):
        start_server(tampered, timeout=60)


def test_serving_imports_no_torch_onnx_or_docker(tiny_model):
    """The slim image has neither torch nor onnx nor docker: nothing reachable may import them."""
    code = f"""
import sys
from fastapi.testclient import TestClient
from mllab.serve.app import create_app, main
import mllab.serve.client
client = TestClient(create_app({str(tiny_model)!r}))
data = open({str(sample_images()[0])!r}, "rb").read()
assert client.post("/predict", content=data, headers={{"Content-Type": "image/jpeg"}}).is_success
assert client.post("/predict", json={{"input": [[[[0.0] * 224] * 224] * 3]}}).is_success
assert client.get("/metadata").is_success
heavy = ("torch", "onnx", "onnxscript", "docker")
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


# --- measurements and the lecture's Flask service ----------------------------------------------


def test_http_overhead_measures_every_body_kind(tiny_model):
    table = http_overhead(tiny_model, repeats=2, warmup=1)
    assert list(table) == ["image", "npy", "raw", "json"]
    for row in table.values():
        assert row["http_ms"] > 0 and row["in_process_ms"] > 0
        assert row["ratio"] == pytest.approx(row["http_ms"] / row["in_process_ms"])
    assert table["json"]["body_bytes"] > 4 * table["raw"]["body_bytes"]  # text is ~5x the bytes


def test_lecture_flask_as_written_never_listens(tiny_model, tmp_path):
    result = run_lecture_flask(tiny_model, tmp_path / "as_written", corrected=False, timeout=60)
    assert result["exited"] and result["exit_code"] == 0, result["log_tail"]
    assert result["listening"] is False and "status" not in result


def test_lecture_flask_corrected_serves_json(tiny_model, tmp_path, reference):
    result = run_lecture_flask(tiny_model, tmp_path / "corrected", corrected=True, timeout=60)
    assert result["listening"] and result["status"] == 200, result["log_tail"]
    zeros = np.zeros((1, 3, 224, 224), np.float32)
    assert compare(result["output"], reference(zeros)).max_abs <= 1e-5


def test_benchmark_script_prints_every_ratio(tiny_model):
    import json

    from mllab.core.paths import ROOT

    script = ROOT / "benchmarks" / "bench_serving.py"
    command = [sys.executable, str(script), "--model", str(tiny_model), "--repeats", "1", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["goal_met"]) == {"image", "npy", "raw"} and report["goal"] == 1.15
    assert all(report["overhead"][kind]["ratio"] > 0 for kind in ("image", "npy", "raw", "json"))


@pytest.mark.slow
def test_resnet50_server_equals_host_ort():
    """The real model (lab 01's cached export) over a real socket, all three body kinds."""
    from mllab.model.export import default_model
    from mllab.runtime.sessions import create_session

    model = default_model()
    session = create_session(model)
    image = sample_images()[0]
    x = np.concatenate([preprocess(image)[None], batch(1)])
    expected = session.run(None, {"input": x})[0]
    with start_server(model) as server:
        assert compare(predict_tensor(server.url, x)["output"], expected).max_abs <= 1e-5
        raw = predict_tensor(server.url, x, "raw", accept_npy=False)["output"]
        assert compare(raw, expected).max_abs <= 1e-5
        assert compare(predict_json(server.url, x[:1])["output"], expected[:1]).max_abs <= 1e-5
        best = predict_image(server.url, image, k=5)["top_k"]
        assert [e["label"] for e in best] == [name for name, _ in top_k(expected[0], 5)[0]]
