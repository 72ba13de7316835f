"""Hardening of the inference server, per class of hostile input, for ``/predict`` and the
Open Inference Protocol v2 routes.

* Every hostile request class (:data:`HOSTILE`: a few bytes that declare gigabytes — an
  extreme aspect ratio PNG, a ``.npy`` or raw shape header, a JSON integer of 100 000 digits,
  JSON nested 100 000 deep, millions of JSON values, a multipart form of 1000 parts, and v2
  requests declaring huge shapes or binary sizes) gets a 4xx with a message, in process, in a
  real server process whose resident memory is sampled (``/proc/<pid>/status`` VmRSS) during
  the hostile run, and in the slim container under ``--memory 1g --read-only``.
* Property-based fuzzing (schemathesis + hypothesis, health checks left on) of the whole
  OpenAPI (``/predict`` and ``/v2/...``): no 5xx, the process alive, its RSS under a bound.
* The slim container under ``--memory 1g``: 64 concurrent 3 MB JSON requests each get 200 or
  503 (admission control), and the container is ready afterwards; it runs ``--read-only``, as a
  non-root user, with ``no-new-privileges`` and every capability dropped.
"""

from __future__ import annotations

import functools
import json
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import settings
from sample_bodies import npy_header, png
from schemathesis.checks import not_a_server_error

from mllab.serve.api import create_app
from mllab.serve.bodies import json_body
from mllab.serve.client import predict_tensor
from mllab.serve.process import start_server

#: bounded fuzzing: enough to hit every body kind and route, short enough for CI; hypothesis'
#: health checks stay on (a strategy that filters too much or is too slow fails the test)
FUZZ = settings(max_examples=20, deadline=None, derandomize=True)
MB = 1024 * 1024
#: the server process (tiny model) may hold at most this much resident memory during the
#: hostile run: its bodies are at most MAX_BODY_MB (32) and nothing they declare is allocated
RSS_BOUND_MB = 400
#: this test process (pytest + the in-process app) may grow by at most this much
IN_PROCESS_GROWTH_MB = 200
HARDENING = {
    "read_only": True,  # plain --read-only: no tmpfs, the server writes nothing
    "user": "10001:10001",
    "security_opt": ["no-new-privileges"],
    "cap_drop": ["ALL"],
    "mem_limit": "1g",
}
V2_INFER = "/v2/models/resnet50/infer"


# --- hostile bodies ------------------------------------------------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` followed by one empty IDAT: 60 bytes
    that a careless server would decode into gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _multipart(parts: int) -> tuple[dict, bytes]:
    boundary = "hostileboundary"
    fields = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nx\r\n'
        for i in range(parts)
    )
    body = (fields + f"--{boundary}--\r\n").encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body


def _v2(shape: list[int], data: list | None = None) -> bytes:
    tensor = {"name": "input", "shape": shape, "datatype": "FP32", "data": data or [0.0]}
    return json.dumps({"inputs": [tensor]}).encode()


def _v2_binary_lie() -> tuple[dict, bytes]:
    """A binary-extension request whose JSON header declares 600 KB of tensor but sends 8 bytes."""
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [1, 3, 224, 224],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": 602112},
                }
            ]
        }
    ).encode()
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }
    return headers, header + b"\0" * 8


#: the bodies of these tests (tests/sample_bodies.py): PNGs compressed hard, and ``.npy``
#: headers followed by 64 bytes
hard_png = functools.partial(png, optimize=True)
lying_npy = functools.partial(npy_header, data=b"\0" * 64)

JSON = {"Content-Type": "application/json"}
NPY = {"Content-Type": "application/x-npy"}
RAW = {"Content-Type": "application/octet-stream"}
PNG = {"Content-Type": "image/png"}

#: (case id, path, headers, body maker, expected status: an int, or None for "any 4xx")
HOSTILE = [
    ("png 1 x 4M: resize to 256 x 1G", "/predict", PNG, lambda: hard_png(1, 4_000_000), 413),
    ("png 4M x 1: resize to 1G x 256", "/predict", PNG, lambda: hard_png(4_000_000, 1), 413),
    ("png header 60000^2", "/predict", PNG, lambda: _png_header_only(60_000, 60_000), 413),
    ("png header 5000^2 (25 MP)", "/predict", PNG, lambda: _png_header_only(5000, 5000), 413),
    ("npy header 10^6 x 10^6", "/predict", NPY, lambda: lying_npy((10**6, 10**6)), 413),
    ("npy header 10^5 images", "/predict", NPY, lambda: lying_npy((10**5, 3, 224, 224)), 413),
    ("npy header float64", "/predict", NPY, lambda: lying_npy((1, 3, 224, 224), "<f8"), 422),
    ("npy header lies", "/predict", NPY, lambda: lying_npy((1, 3, 224, 224)), 400),
    ("npy header of objects", "/predict", NPY, lambda: lying_npy((10**9,), "|O"), 400),
    ("raw X-Shape 10^5 images", "/predict", {**RAW, "X-Shape": "100000,3,224,224"}, b"\0", 413),
    ("raw X-Shape 5000 digits", "/predict", {**RAW, "X-Shape": "9" * 5000}, b"\0", 400),
    ("json int of 10^5 digits", "/predict", JSON, lambda: b'{"input": ' + b"9" * 10**5 + b"}", 422),
    ("json nested 10^5 deep", "/predict", JSON, lambda: b"[" * 10**5 + b"]" * 10**5, 400),
    ("json 2M values", "/predict", JSON, lambda: b'{"input": [' + b"0," * 2 * 10**6 + b"0]}", 413),
    ("json 1M lists", "/predict", JSON, lambda: b'{"input": [' + b"[0]," * 10**6 + b"[0]]}", 413),
    ("json NaN", "/predict", JSON, b'{"input": [NaN]}', 422),
    ("multipart 1000 parts", "/predict", *_multipart(1000), 413),
    ("v2 shape 10^5 images", V2_INFER, JSON, lambda: _v2([100000, 3, 224, 224]), None),
    ("v2 shape 10^12", V2_INFER, JSON, lambda: _v2([10**6, 10**6]), None),
    ("v2 nested 10^5 deep", V2_INFER, JSON, lambda: b"[" * 10**5 + b"]" * 10**5, None),
    (
        "v2 int of 10^5 digits",
        V2_INFER,
        JSON,
        lambda: _v2([1], None).replace(b"0.0", b"9" * 10**5),
        None,
    ),
    ("v2 binary size lies", V2_INFER, *_v2_binary_lie(), None),
]


def _body(make) -> bytes:
    return make() if callable(make) else make


def _assert_4xx(response: httpx.Response, status: int | None, case: str) -> None:
    if status is None:
        assert 400 <= response.status_code < 500, (case, response.status_code, response.text[:300])
    else:
        assert response.status_code == status, (case, response.text[:300])
    payload = response.json()
    assert isinstance(payload.get("error"), str) and len(payload["error"]) > 10, payload


def vm_rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB, from ``/proc/<pid>/status`` (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


class PeakRss:
    """Samples a process's VmRSS every 20 ms in a thread; ``peak`` is the largest seen."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, vm_rss_mb(self.pid))
            except (OSError, AssertionError):
                return
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- in process: every hostile class, fuzzing ----------------------------------------------------


@pytest.fixture(scope="module")
def app(tiny_model):
    return create_app(tiny_model)


@pytest.fixture(scope="module")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def baseline_rss(client) -> float:
    client.get("/ready")
    return vm_rss_mb()


@pytest.mark.parametrize(
    "path, headers, body, status", [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_request_in_process_is_4xx_without_allocating(
    client, baseline_rss, path, headers, body, status
):
    response = client.post(path, content=_body(body), headers=headers)
    _assert_4xx(response, status, path)
    assert vm_rss_mb() - baseline_rss < IN_PROCESS_GROWTH_MB
    assert client.get("/ready").status_code == 200


def test_an_unexpected_error_is_500_with_an_id_only_and_logged(tiny_model, caplog):
    from fastapi.testclient import TestClient

    app = create_app(tiny_model)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret internals /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/boom")
    assert response.status_code == 500
    payload = response.json()
    assert "secret" not in response.text and "RuntimeError" not in response.text
    error_id = payload["detail"]["id"]
    assert error_id in payload["error"]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info and "secret internals" in str(logged[0].exc_info[1])


@pytest.fixture(scope="module")
def asgi_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


asgi = schemathesis.pytest.from_fixture("asgi_schema")


@asgi.parametrize()
@FUZZ
def test_fuzz_in_process_no_server_error(case, baseline_rss):
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    assert vm_rss_mb() - baseline_rss < IN_PROCESS_GROWTH_MB


def test_openapi_documents_both_apis(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/predict" in paths and any(p.startswith("/v2/models/") for p in paths)


# --- a real server process: hostile run with its RSS sampled -------------------------------------


@pytest.fixture(scope="module")
def server(tiny_model):
    with start_server(tiny_model) as running:
        yield running


def test_hostile_run_against_a_server_process_stays_4xx_and_bounded(server):
    with PeakRss(server.process.pid) as rss:
        for case, path, headers, body, status in HOSTILE:
            response = httpx.post(
                server.url + path, content=_body(body), headers=headers, timeout=60
            )
            _assert_4xx(response, status, case)
            assert server.alive(), case
    assert 0 < rss.peak < RSS_BOUND_MB, f"peak VmRSS {rss.peak:.0f} MB"
    assert httpx.get(f"{server.url}/ready", timeout=30).status_code == 200


@pytest.mark.slow  # 16 x 3 MB of JSON: the container test does 64
def test_concurrent_3mb_json_requests_get_200_or_503_never_a_broken_connection(server):
    """More clients than MAX_IN_FLIGHT (4): the rest get 503 at once, while their 3 MB bodies
    are still on the way; every client reads an answer, and the server stays ready."""
    body = json_body(np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32))

    def post(_: int) -> int:
        return httpx.post(
            f"{server.url}/predict", content=body, headers=JSON, timeout=120
        ).status_code

    with PeakRss(server.process.pid) as rss, ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(post, range(16)))
    assert set(statuses) <= {200, 503} and 200 in statuses, statuses
    assert rss.peak < RSS_BOUND_MB
    assert httpx.get(f"{server.url}/ready", timeout=30).status_code == 200


@pytest.fixture(scope="module")
def process_schema(server):
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


live_process = schemathesis.pytest.from_fixture("process_schema")


@pytest.mark.slow
@live_process.parametrize()
@FUZZ
def test_fuzz_server_process_no_server_error_bounded_rss(case, server):
    response = case.call(timeout=60)
    case.validate_response(response, checks=[not_a_server_error])
    assert server.alive() and vm_rss_mb(server.process.pid) < RSS_BOUND_MB


@pytest.fixture(scope="module")
def container_schema(hardened):
    return schemathesis.openapi.from_url(f"{hardened.url}/openapi.json")


live = schemathesis.pytest.from_fixture("container_schema")


# --- the slim container under --memory 1g --read-only --------------------------------------------


@pytest.fixture(scope="module")
def hardened(docker_client):
    """The slim image's server, locked down as in production, 1 GB; stopped after the module."""
    from mllab.containers.run import run
    from mllab.experiments.resources.container_limits import slim_image

    with run(slim_image(), name="mllab11-hardened", **HARDENING) as container:
        yield container


def _oom_killed(container) -> bool:
    container.container.reload()
    return bool(container.container.attrs["State"].get("OOMKilled"))


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize(
    "path, headers, body, status", [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_request_in_the_1g_container_is_4xx_never_a_kill(
    hardened, path, headers, body, status
):
    response = httpx.post(hardened.url + path, content=_body(body), headers=headers, timeout=60)
    _assert_4xx(response, status, path)
    assert hardened.exit_code() is None and not _oom_killed(hardened)


@pytest.mark.docker
@pytest.mark.slow
def test_64_concurrent_3mb_json_requests_get_200_or_503_and_leave_it_ready(hardened):
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    body = json_body(x)
    assert len(body) > 2.5 * MB

    def post(_: int) -> int:
        response = httpx.post(f"{hardened.url}/predict", content=body, headers=JSON, timeout=120)
        if response.status_code == 503:
            assert int(response.headers["retry-after"]) >= 0
        return response.status_code

    with ThreadPoolExecutor(64) as pool:
        statuses = list(pool.map(post, range(64)))
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 1
    assert hardened.exit_code() is None and not _oom_killed(hardened)
    assert httpx.get(f"{hardened.url}/ready", timeout=30).status_code == 200


@pytest.mark.docker
@pytest.mark.slow
def test_an_image_upload_works_under_plain_read_only(hardened):
    files = {"file": ("cat.png", hard_png(640, 480), "image/png")}
    response = httpx.post(f"{hardened.url}/predict", files=files, timeout=60)
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["top_k"]) == 5


@pytest.mark.docker
@pytest.mark.slow
@live.parametrize()
@FUZZ
def test_fuzz_container_no_server_error(case, hardened):
    response = case.call(timeout=60)
    case.validate_response(response, checks=[not_a_server_error])
    assert hardened.exit_code() is None


@pytest.mark.docker
@pytest.mark.slow
def test_a_good_request_still_works_after_the_hostile_ones(hardened):
    answer = predict_tensor(hardened.url, np.zeros((1, 3, 224, 224), dtype=np.float32))
    assert answer["output"].shape == (1, 1000)
    assert np.isfinite(answer["output"]).all()


# --- the locked-down container -------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
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
@pytest.mark.slow
def test_inside_the_container_uid_is_not_root(hardened):
    code, output = hardened.exec(["id", "-u"])
    assert code == 0
    assert output.strip() != "0"


@pytest.mark.docker
@pytest.mark.slow
def test_inside_the_container_the_root_filesystem_is_read_only(hardened):
    code, output = hardened.exec(["sh", "-c", "echo x > /mllab-probe"])
    assert code != 0
    assert "Read-only file system" in output
    code, _ = hardened.exec(["sh", "-c", "echo x > /app/model.onnx"])
    assert code != 0  # the model cannot be replaced


@pytest.mark.docker
@pytest.mark.slow
def test_inside_the_container_no_capabilities_and_no_new_privileges(hardened):
    code, output = hardened.exec(["cat", "/proc/1/status"])
    assert code == 0
    status = dict(line.split(":", 1) for line in output.splitlines() if ":" in line)
    assert int(status["CapEff"].strip(), 16) == 0
    assert int(status["CapBnd"].strip(), 16) == 0
    assert status["NoNewPrivs"].strip() == "1"


@pytest.mark.docker
@pytest.mark.slow
def test_metadata_of_the_hardened_server_reads_well(hardened):
    meta = httpx.get(f"{hardened.url}/metadata", timeout=30).json()
    assert meta["provider"] == "CPUExecutionProvider"
    assert meta["threads"] >= 1
