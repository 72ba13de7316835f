"""Hardening of the inference server: fuzzing its OpenAPI, malformed input, a locked-down container.

* schemathesis generates requests from ``/openapi.json``; no answer may be a 5xx. In-process
  (ASGI, a tiny model: fast) and against the real hardened container (``docker``).
* A malformed-input suite against the real container: each bad request gets a 4xx with a
  message, and ``/health`` still answers afterwards.
* The container runs ``--read-only``, as a non-root user, with ``no-new-privileges`` and every
  capability dropped: checked in ``docker inspect`` and from inside the container.
"""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from mllab.serve.api import create_app
from mllab.serve.client import predict_tensor

#: bounded fuzzing: enough to hit every body kind and parameter, short enough for CI
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
HARDENING = {
    "read_only": True,
    "user": "10001:10001",
    "security_opt": ["no-new-privileges"],
    "cap_drop": ["ALL"],
}


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asgi_schema(tiny_model):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(tiny_model))


@pytest.fixture(scope="module")
def hardened(docker_client):
    """The slim image's server, locked down as in production; stopped after the module."""
    from mllab.containers.run import run
    from mllab.experiments.resources.limits import slim_image

    with run(slim_image(), name="mllab06-hardened", **HARDENING) as server:
        yield server


@pytest.fixture(scope="module")
def container_schema(hardened):
    return schemathesis.openapi.from_url(f"{hardened.url}/openapi.json")


# --- schemathesis: no 5xx ------------------------------------------------------------------------

asgi = schemathesis.pytest.from_fixture("asgi_schema")
live = schemathesis.pytest.from_fixture("container_schema")


@asgi.parametrize()
@FUZZ
def test_fuzz_in_process_no_server_error(case):
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])


@pytest.mark.docker
@pytest.mark.slow
@live.parametrize()
@FUZZ
def test_fuzz_container_no_server_error(case, hardened):
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    assert _get(hardened.url, "/health").status_code == 200


# --- malformed inputs against the real container -----------------------------------------------


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _json(array: np.ndarray) -> bytes:
    return json.dumps({"input": array.tolist()}).encode()  # NaN as the bare word NaN


def _image() -> np.ndarray:
    return np.zeros((1, 3, 224, 224), dtype=np.float32)


def _with(value: float) -> np.ndarray:
    x = _image()
    x[0, 0, 0, 0] = value
    return x


NPY = {"Content-Type": "application/x-npy"}
RAW = {"Content-Type": "application/octet-stream", "X-Shape": "1,3,224,224"}
MB = 1024 * 1024

#: (case id, headers, body or a callable making it, query, expected status)
MALFORMED = [
    ("wrong shape", NPY, lambda: _npy(np.zeros((1, 3, 100, 100), np.float32)), {}, 422),
    ("wrong rank", NPY, lambda: _npy(np.zeros((3, 224, 224), np.float32)), {}, 422),
    ("dtype float64", NPY, lambda: _npy(_image().astype(np.float64)), {}, 422),
    ("dtype int32", NPY, lambda: _npy(_image().astype(np.int32)), {}, 422),
    ("object array (pickle)", NPY, lambda: _npy(np.array([{"a": 1}], dtype=object)), {}, 400),
    ("NaN", NPY, lambda: _npy(_with(np.nan)), {}, 422),
    ("+Inf", NPY, lambda: _npy(_with(np.inf)), {}, 422),
    ("NaN in JSON", {"Content-Type": "application/json"}, lambda: _json(_with(np.nan)), {}, 422),
    ("empty body", NPY, b"", {}, 400),
    ("empty multipart file", None, "empty-upload", {}, 400),
    ("20 MB batch of 33", NPY, lambda: _npy(np.zeros((33, 3, 224, 224), np.float32)), {}, 422),
    ("20 MB raw body", RAW, lambda: bytes(20 * MB), {}, 422),
    ("body over the limit", RAW, lambda: bytes(33 * MB), {}, 413),
    ("corrupt npy", NPY, b"\x93NUMPY garbage", {}, 400),
    ("corrupt image", {"Content-Type": "image/jpeg"}, b"\xff\xd8\xff not a jpeg", {}, 400),
    ("truncated PNG upload", None, "truncated-png", {}, 400),
    ("wrong content type", {"Content-Type": "text/plain"}, b"hello", {}, 415),
    ("no content type", {}, b"\x00" * 16, {}, 415),
    ("invalid JSON", {"Content-Type": "application/json"}, b'{"input": [1, 2', {}, 400),
    ("JSON without input", {"Content-Type": "application/json"}, b'{"x": 1}', {}, 422),
    ("ragged JSON", {"Content-Type": "application/json"}, b'{"input": [[1], [1, 2]]}', {}, 422),
    ("raw without shape", {"Content-Type": "application/octet-stream"}, b"\x00" * 16, {}, 400),
    ("raw negative shape", {**RAW, "X-Shape": "1,-3,224,224"}, b"\x00" * 16, {}, 422),
    ("k = 0", NPY, lambda: _npy(_image()), {"k": "0"}, 422),
    ("k not a number", NPY, lambda: _npy(_image()), {"k": "many"}, 422),
]


def _get(url: str, path: str):
    return httpx.get(url + path, timeout=30.0)


def _send(url: str, headers, body, query):
    if body == "empty-upload":
        files = {"file": ("x.jpg", b"", "image/jpeg")}
        return httpx.post(f"{url}/predict", files=files, params=query, timeout=60.0)
    if body == "truncated-png":
        files = {"file": ("x.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png")}
        return httpx.post(f"{url}/predict", files=files, params=query, timeout=60.0)
    content = body() if callable(body) else body
    return httpx.post(
        f"{url}/predict", content=content, headers=headers, params=query, timeout=60.0
    )


@pytest.mark.docker
@pytest.mark.parametrize(
    "headers, body, query, status", [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_input_gets_4xx_with_a_message(hardened, headers, body, query, status):
    response = _send(hardened.url, headers, body, query)
    assert response.status_code == status, response.text[:300]
    payload = response.json()
    assert isinstance(payload.get("error"), str) and len(payload["error"]) > 10, payload
    assert _get(hardened.url, "/health").status_code == 200
    assert hardened.exit_code() is None  # still running


@pytest.mark.docker
def test_a_good_request_still_works_after_the_malformed_ones(hardened):
    answer = predict_tensor(hardened.url, _image())
    assert answer["output"].shape == (1, 1000)
    assert np.isfinite(answer["output"]).all()


# --- the locked-down container -------------------------------------------------------------------


@pytest.mark.docker
def test_inspect_shows_read_only_non_root_no_new_privileges_no_capabilities(hardened):
    hardened.container.reload()
    attrs = hardened.container.attrs
    host = attrs["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert "no-new-privileges" in (host.get("SecurityOpt") or [])
    assert host.get("CapDrop") == ["ALL"]
    user = attrs["Config"]["User"]
    assert user and user.split(":")[0] not in ("0", "root")


@pytest.mark.docker
def test_inside_the_container_uid_is_not_root(hardened):
    code, output = hardened.exec(["id", "-u"])
    assert code == 0
    assert output.strip() != "0"


@pytest.mark.docker
def test_inside_the_container_the_root_filesystem_is_read_only(hardened):
    code, output = hardened.exec(["sh", "-c", "echo x > /mllab-probe"])
    assert code != 0
    assert "Read-only file system" in output
    code, _ = hardened.exec(["sh", "-c", "echo x > /app/model.onnx"])
    assert code != 0  # the model cannot be replaced


@pytest.mark.docker
def test_inside_the_container_no_capabilities_and_no_new_privileges(hardened):
    code, output = hardened.exec(["cat", "/proc/1/status"])
    assert code == 0
    status = dict(line.split(":", 1) for line in output.splitlines() if ":" in line)
    assert int(status["CapEff"].strip(), 16) == 0
    assert int(status["CapBnd"].strip(), 16) == 0
    assert status["NoNewPrivs"].strip() == "1"


@pytest.mark.docker
def test_metadata_of_the_hardened_server_reads_well(hardened):
    meta = json.loads(_get(hardened.url, "/metadata").text)
    assert meta["provider"] == "CPUExecutionProvider"
    assert meta["threads"] >= 1
