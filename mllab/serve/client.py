"""A small client of the inference server, its HTTP overhead, and the lecture's Flask service.

Used by lab 02, the tests and the benchmarks:

* :func:`start_server` runs ``python -m mllab.serve.app`` in a subprocess (configured by ENV, as
  the container is) and waits until ``/ready`` answers; :func:`predict_image`,
  :func:`predict_tensor` and :func:`predict_json` send the three body kinds.
* :func:`measure_overhead` times the same inputs over HTTP and in this process, side by side
  and interleaved, so that the ratio HTTP / in-process is measured under the same conditions.
* :func:`run_lecture_flask` runs the lecture's Flask ``server.py`` as written (it never calls
  ``app.run``) and corrected.
"""

from __future__ import annotations

import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mllab.core.errors import MllabError

NPY = "application/x-npy"
#: the kinds of ``POST /predict`` body, in the order tables show them
BODY_KINDS = ("image", "npy", "raw", "json")
#: seconds between timed calls in :func:`measure_overhead` (idle ONNX Runtime pools stop spinning)
PAUSE = 0.02


class ServerError(MllabError):
    """The server answered an error (4xx/5xx); ``status`` and ``payload`` say which."""

    def __init__(self, status: int, payload: Any):
        message = payload.get("error") if isinstance(payload, dict) else str(payload)
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.payload = payload


# --- a server in a subprocess ------------------------------------------------------------------


@dataclass
class ServerProcess:
    """A running ``python -m mllab.serve.app``; a context manager that stops it on exit."""

    process: subprocess.Popen
    url: str
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def log(self) -> str:
        """What the server printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (uvicorn shuts down cleanly), SIGKILL after ``timeout``; the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def start_server(
    model: str | Path | None = None,
    port: int = 0,
    host: str = "127.0.0.1",
    device: str = "cpu",
    threads: int | None = None,
    max_body_mb: float | None = None,
    max_batch: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    python: str | None = None,
) -> ServerProcess:
    """Start ``python -m mllab.serve.app`` on ``model`` (default: the cached ResNet-50).

    ``port=0`` picks a free port. Waits until ``/ready`` answers 200; if the process exits
    first (a tampered model, a port in use) raises :class:`MllabError` with its last lines.
    """
    if model is None:
        from mllab.model.export import default_model

        model = default_model()
    port = port or free_port(host)
    settings = {"MODEL_PATH": str(model), "PORT": str(port), "HOST": host, "DEVICE": device}
    settings["LOG_LEVEL"] = "warning"  # no access log line per request in the timings
    if threads is not None:
        settings["ORT_THREADS"] = str(threads)
    if max_body_mb is not None:
        settings["MAX_BODY_MB"] = str(max_body_mb)
    if max_batch is not None:
        settings["MAX_BATCH"] = str(max_batch)
    settings.update(env or {})
    log_path = Path(tempfile.mkstemp(prefix="mllab-serving-", suffix=".log")[1])
    with log_path.open("wb") as log:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen(
            [python or sys.executable, "-m", "mllab.serve.app"],
            env={**os.environ, **settings},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(process, f"http://{host}:{port}", port, log_path, settings)
    try:
        wait_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def wait_ready(server: ServerProcess, timeout: float = 120.0) -> None:
    """Poll ``/ready`` until it answers 200, the process exits, or ``timeout`` passes."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            tail = "\n".join(server.log().strip().splitlines()[-5:])
            raise MllabError(f"the server exited with code {server.process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{server.url}/ready", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise MllabError(f"the server at {server.url} was not ready after {timeout:g} s")


# --- the three body kinds ----------------------------------------------------------------------


def _post(client, url: str, **kwargs):
    """POST with ``client`` (kept alive by the caller) or a one-off connection."""
    import httpx

    if client is not None:
        return client.post(url, **kwargs)
    with httpx.Client(timeout=120.0) as one_off:
        return one_off.post(url, **kwargs)


def _answer(response) -> dict[str, Any]:
    """The JSON answer, or :class:`ServerError` with the server's message."""
    try:
        payload = response.json()
    except ValueError:
        payload = response.text
    if response.status_code >= 400:
        raise ServerError(response.status_code, payload)
    return payload


def _image_bytes(image: str | Path | bytes) -> bytes:
    return image if isinstance(image, bytes) else Path(image).read_bytes()


def predict_image(url: str, image: str | Path | bytes, k: int = 5, client=None) -> dict[str, Any]:
    """POST an image file (multipart, field ``file``); the answer has ``top_k``."""
    data = _image_bytes(image)
    kind = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
    files = {"file": ("image", data, kind)}
    response = _post(client, f"{url}/predict", params={"k": k}, files=files)
    return _answer(response)


def predict_tensor(
    url: str, array: np.ndarray, fmt: str = "npy", accept_npy: bool = True, client=None
) -> dict[str, Any]:
    """POST a float32 tensor as ``.npy`` (``fmt="npy"``) or raw bytes with ``X-Shape``.

    With ``accept_npy`` the logits come back as ``.npy`` too (no float-to-text conversion on
    either side). The answer's ``output`` is a numpy array in both cases.
    """
    array = np.ascontiguousarray(array, dtype=np.float32)
    if fmt == "npy":
        headers, body = {"Content-Type": NPY}, _npy(array)
    elif fmt == "raw":
        shape = ",".join(map(str, array.shape))
        headers, body = (
            {"Content-Type": "application/octet-stream", "X-Shape": shape},
            (array.tobytes()),
        )
    else:
        raise ValueError(f"fmt must be 'npy' or 'raw', not {fmt!r}")
    if accept_npy:
        headers["Accept"] = NPY
    response = _post(client, f"{url}/predict", content=body, headers=headers)
    if response.status_code < 400 and response.headers.get("content-type", "").startswith(NPY):
        return {
            "output": np.load(io.BytesIO(response.content), allow_pickle=False),
            "latency_ms": float(response.headers["x-latency-ms"]),
            "sha256": response.headers["x-model-sha256"],
            "provider": response.headers["x-provider"],
        }
    answer = _answer(response)
    answer["output"] = np.asarray(answer["output"], dtype=np.float32)
    return answer


def predict_json(url: str, array: np.ndarray, client=None) -> dict[str, Any]:
    """POST the lecture's ``{"input": nested list}``; the answer's ``output`` as a numpy array."""
    body = json_body(array)
    headers = {"Content-Type": "application/json"}
    response = _post(client, f"{url}/predict", content=body, headers=headers)
    answer = _answer(response)
    answer["output"] = np.asarray(answer["output"], dtype=np.float32)
    return answer


def json_body(array: np.ndarray) -> bytes:
    """The lecture's request body: ``{"input": x.tolist()}`` as JSON text."""
    import json

    return json.dumps({"input": np.asarray(array, dtype=np.float32).tolist()}).encode()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


# --- HTTP versus in-process --------------------------------------------------------------------


def measure_overhead(
    url: str,
    model: str | Path,
    image: str | Path | bytes | None = None,
    repeats: int = 20,
    warmup: int = 3,
    threads: int | None = None,
    pause: float = PAUSE,
) -> dict[str, dict[str, Any]]:
    """HTTP and in-process latency of batch 1 for each body kind, measured interleaved.

    In-process is ``session.run`` on the same input (plus decoding and preprocessing for the
    image, which the server does too); HTTP is the client's whole round trip (serialising,
    sending, parsing on the server, inference, the answer). Each repeat times every kind both
    ways in turn, so that a slow moment of this shared machine hits both sides. ``ratio`` is
    the ratio of the medians; ``ratio_min`` that of the fastest calls, which other processes
    on a busy machine disturb least.
    """
    import httpx

    from mllab.model.preprocess import preprocess, sample_images
    from mllab.runtime.sessions import create_session

    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, not {repeats} and {warmup}")
    data = _image_bytes(image if image is not None else sample_images()[0])
    x = preprocess(data)[None]
    session = create_session(model, threads=threads)
    name = session.get_inputs()[0].name
    in_process = {
        "image": lambda: session.run(None, {name: preprocess(data)[None]}),
        **{kind: lambda: session.run(None, {name: x}) for kind in ("npy", "raw", "json")},
    }
    samples: dict[str, dict[str, list[float]]] = {k: {"http": [], "local": []} for k in BODY_KINDS}
    server_ms: dict[str, list[float]] = {k: [] for k in BODY_KINDS}
    with httpx.Client(timeout=120.0) as client:  # one connection, kept alive, as a real client
        over_http = {
            "image": lambda: predict_image(url, data, client=client),
            "npy": lambda: predict_tensor(url, x, "npy", client=client),
            "raw": lambda: predict_tensor(url, x, "raw", client=client),
            "json": lambda: predict_json(url, x, client=client),
        }
        for round_ in range(warmup + repeats):
            for kind in BODY_KINDS:
                # Alternate which side goes first, and pause before each timed call: an ONNX
                # Runtime pool spins for a while after a run, and on a 2-core machine those
                # spinning threads would slow whichever side runs next.
                order = (in_process[kind], over_http[kind])
                timed = [_timed(fn, pause) for fn in (order if round_ % 2 else order[::-1])]
                (local_ms, _), (http_ms, answer) = timed if round_ % 2 else timed[::-1]
                if round_ >= warmup:
                    samples[kind]["local"].append(local_ms)
                    samples[kind]["http"].append(http_ms)
                    server_ms[kind].append(answer["latency_ms"])
    sizes = {
        "image": len(data),
        "npy": len(_npy(x)),
        "raw": x.nbytes,
        "json": len(json_body(x)),
    }
    table = {}
    for kind in BODY_KINDS:
        http, local = samples[kind]["http"], samples[kind]["local"]
        table[kind] = {
            "http_ms": statistics.median(http),
            "in_process_ms": statistics.median(local),
            "ratio": statistics.median(http) / statistics.median(local),
            # the fastest call of each side: what is left when no other process interferes
            "ratio_min": min(http) / min(local),
            "server_inference_ms": statistics.median(server_ms[kind]),
            "body_bytes": sizes[kind],
            "repeats": repeats,
        }
    return table


def _timed(fn, pause: float = 0.0) -> tuple[float, Any]:
    time.sleep(pause)
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000.0, result


def http_overhead(
    model: str | Path | None = None,
    repeats: int = 20,
    warmup: int = 3,
    threads: int | None = None,
    pause: float = PAUSE,
) -> dict[str, dict[str, Any]]:
    """:func:`measure_overhead` against a server started here for the purpose (benchmarks)."""
    if model is None:
        from mllab.model.export import default_model

        model = default_model()
    with start_server(model, threads=threads) as server:
        return measure_overhead(server.url, model, None, repeats, warmup, threads, pause)


def overhead_rows(table: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`measure_overhead`'s answer as table rows (for ``drift.format_table``)."""
    return [{"body": kind, **values} for kind, values in table.items()]


# --- the lecture's Flask service ---------------------------------------------------------------

#: ``server.py`` exactly as the lecture prints it (section "Python-скрипт", lines 125–137)
LECTURE_FLASK_SERVER = """import onnxruntime as ort
from flask import Flask, request, jsonify
import numpy as np

app = Flask(__name__)
session = ort.InferenceSession("model.onnx")

@app.route("/predict", methods=["POST"])
def predict():
    x = np.array(request.json["input"],
                 dtype=np.float32)
    y = session.run(None, {"input": x})
    return jsonify({"output": y[0].tolist()})
"""

#: what the lecture's file lacks: the Dockerfile's ``CMD ["python", "server.py"]`` needs it
LECTURE_FLASK_FIX = """
if __name__ == "__main__":
    app.run(host="0.0.0.0", port={port})
"""

#: the lecture's ``EXPOSE 8080`` and ``docker run -p 8080:8080``
LECTURE_PORT = 8080


def write_lecture_flask(
    folder: str | Path, model: str | Path, corrected: bool = False, port: int = LECTURE_PORT
) -> Path:
    """``folder/server.py`` (the lecture's, or corrected) beside ``folder/model.onnx``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source = LECTURE_FLASK_SERVER + (LECTURE_FLASK_FIX.format(port=port) if corrected else "")
    script = folder / "server.py"
    script.write_text(source)
    link = folder / "model.onnx"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path(model).resolve())  # the script opens "model.onnx" from its folder
    return script


def run_lecture_flask(
    model: str | Path,
    folder: str | Path,
    corrected: bool = False,
    port: int = LECTURE_PORT,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Run the lecture's ``python server.py`` and find out whether it serves ``/predict``.

    As written the script defines the app and exits: the answer records the exit code, how
    long it ran, and that nothing listens on the port afterwards. Corrected, it is started,
    sent the lecture's JSON body for one zero image, and stopped; the answer holds the status
    code and the output's shape. When ``port`` is taken by another program, a free port is
    used instead (``port`` in the answer says which), so that the test is not confounded.
    """
    import httpx

    busy = port_open(port)
    if busy:
        port = free_port()
    script = write_lecture_flask(folder, model, corrected, port)
    result: dict[str, Any] = {"corrected": corrected, "port": port, "port_was_busy": busy}
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, script.name],
        cwd=script.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while process.poll() is None and not port_open(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        result["exited"] = process.poll() is not None
        result["exit_code"] = process.returncode
        result["seconds_until_exit_or_listen"] = time.perf_counter() - start
        result["listening"] = port_open(port)
        if result["listening"]:
            x = np.zeros((1, 3, 224, 224), dtype=np.float32)
            response = httpx.post(
                f"http://127.0.0.1:{port}/predict",
                content=json_body(x),
                headers={"Content-Type": "application/json"},
                timeout=120.0,
            )
            result["status"] = response.status_code
            if response.status_code == 200:
                result["output"] = np.asarray(response.json()["output"], dtype=np.float32)
                result["output_shape"] = list(result["output"].shape)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            output, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    result["log_tail"] = "\n".join((output or "").strip().splitlines()[-6:])
    return result


def flask_claim(as_written: dict[str, Any], corrected: dict[str, Any]) -> dict[str, Any]:
    """Claim C12 from two :func:`run_lecture_flask` answers: does the lecture's service serve?"""
    serves = bool(as_written["listening"])
    fixed = bool(corrected["listening"] and corrected.get("status") == 200)
    if serves:
        verdict = "holds: the lecture's server.py serves as written"
    elif fixed:
        verdict = (
            f"does not hold as written: python server.py exits (code {as_written['exit_code']}) "
            "without listening, app.run is never called; holds once "
            "app.run(host='0.0.0.0', port=8080) is added"
        )
    else:
        verdict = "does not hold, neither as written nor corrected (see the logs)"
    return {
        "claim": "the lecture's Flask service serves predictions on port 8080 with JSON lists",
        "lecture_lines": "121-150, 1031-1050",
        "holds": serves,
        "as_written_serves": serves,
        "as_written_exit_code": as_written["exit_code"],
        "corrected_serves": fixed,
        "corrected_status": corrected.get("status"),
        "port": corrected["port"],
        "port_was_busy": corrected["port_was_busy"],
        "verdict": verdict,
    }
