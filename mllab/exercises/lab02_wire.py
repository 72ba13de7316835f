"""What a client puts on the wire: a recording proxy in front of a server, for lab 02's
binary-client exercise.

:class:`RecordingProxy` listens on a free local port, forwards every request unchanged to the
server behind it and keeps, per request, its method, path, content type and the size of its
body (:class:`Sent`): the check hands the student's function the proxy's URL, so it sees what
the function sent whatever library sent it (httpx, requests, urllib).

:func:`stand_in_server` is the server of the hidden cases, labelled as a stand-in: ResNet-50's
interface in three nodes (GlobalAveragePool, Flatten, Gemm 3 → 1000), served by the kit's own
server (``python -m mllab.serve.app``) in a subprocess, behind a recording proxy; started once
per process and stopped when the process ends.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort

from mllab.model.integrity import write_digest
from mllab.serve.process import start_server

#: headers that belong to one hop, not to the request (the proxy sets its own)
HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass(frozen=True)
class Sent:
    """One request as it reached the proxy."""

    method: str
    path: str
    content_type: str
    body_bytes: int
    v2_header_bytes: int | None  # Inference-Header-Content-Length, when the request had one
    status: int


class RecordingProxy:
    """A forwarding proxy on ``url`` to ``upstream`` that records each request (:meth:`take`)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._log: list[Sent] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=120)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — http.server's name
                proxy._forward(self, "GET")

            def do_POST(self) -> None:  # noqa: N802 — http.server's name
                proxy._forward(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _forward(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        body = _read_body(handler)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP}
        try:
            answer = self._client.request(
                method, self.upstream + handler.path, content=body, headers=headers
            )
            status, content, reply = answer.status_code, answer.content, answer.headers
        except httpx.HTTPError as error:
            status, content, reply = 502, f"proxy: {error}".encode(), httpx.Headers()
        length = handler.headers.get("Inference-Header-Content-Length")
        sent = Sent(
            method,
            handler.path,
            handler.headers.get("Content-Type", ""),
            len(body),
            int(length) if length and length.isdigit() else None,
            status,
        )
        with self._lock:
            self._log.append(sent)
        handler.send_response(status)
        for key, value in reply.items():
            if key.lower() not in HOP | {"content-encoding", "date", "server"}:
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    def take(self) -> list[Sent]:
        """The requests recorded since the last call (and forget them)."""
        with self._lock:
            taken, self._log = self._log, []
        return taken

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def __enter__(self) -> RecordingProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request's body: by Content-Length, or chunk by chunk."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(parts)
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


class StandIn:
    """The hidden cases' server (see the module's text): ``url`` is the proxy's."""

    def __init__(self, folder: Path) -> None:
        self.model = interface_model(folder / "stand-in.onnx")
        self._stack = contextlib.ExitStack()
        self._stack.callback(shutil.rmtree, folder, ignore_errors=True)  # closed last
        server = self._stack.enter_context(start_server(self.model))
        self.proxy = self._stack.enter_context(RecordingProxy(server.url))
        self.url = self.proxy.url

    def expected(self, x: np.ndarray) -> np.ndarray:
        """The logits of the stand-in model for ``x``, computed in this process."""
        session = ort.InferenceSession(str(self.model), providers=["CPUExecutionProvider"])
        batch = np.ascontiguousarray(x, dtype=np.float32)
        return np.asarray(session.run(None, {"input": batch})[0])

    def take(self) -> list[Sent]:
        """What reached the server since the last call."""
        return self.proxy.take()

    def close(self) -> None:
        """Stop the proxy and the server."""
        self._stack.close()


_STAND_IN: list[StandIn] = []


def stand_in_server() -> StandIn:
    """The stand-in server of this process (started at the first call, stopped at exit)."""
    if not _STAND_IN:
        folder = Path(tempfile.mkdtemp(prefix="mllab-stand-in-"))
        _STAND_IN.append(StandIn(folder))
        atexit.register(_STAND_IN[0].close)
    return _STAND_IN[0]


def interface_model(path: Path, seed: int = 2, name: str = "stand-in") -> Path:
    """ResNet-50's interface (``input`` (N, 3, 224, 224) → ``logits`` (N, 1000)) in three
    nodes, seeded, with its sha256 file (also the server tests' tiny model)."""
    from onnx import TensorProto, helper, numpy_helper, save  # the onnx package: cases only

    rng = np.random.default_rng(seed)
    weights = numpy_helper.from_array(rng.standard_normal((3, 1000)).astype(np.float32), "W")
    bias = numpy_helper.from_array(rng.standard_normal(1000).astype(np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Gemm", ["flat", "W", "B"], ["logits"]),
        ],
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
        [weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))
    write_digest(path)
    return path
