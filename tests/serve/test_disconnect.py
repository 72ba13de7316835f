"""A request whose client has gone is dropped before inference and counted: a real uvicorn
server (in a thread of this process, so the test can hold the session), one request holding the
session, a second whose client sends it whole and disconnects while it waits. The session then
runs once, not twice, and ``mllab_requests_dropped_total{reason="client_disconnected"}`` says 1;
the request that stayed is answered (the control)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn

from mllab.core.poll import until
from mllab.serve.api import create_app
from mllab.serve.bodies import npy_bytes
from mllab.serve.process import free_port
from tests.serve.gated import DROPPED, GatedSession, metric

NPY = "application/x-npy"


class Held:
    """An app served by uvicorn in a thread, its session gated, its inference calls counted."""

    def __init__(self, app: Any):
        self.app = app
        model = app.state.model
        self.session = GatedSession(model.session)
        model.session = self.session
        self.arrived = 0  # requests that reached Model.infer (waiting for the session or in it)
        infer = model.infer

        def counted(x: np.ndarray) -> Any:
            self.arrived += 1
            return infer(x)

        model.infer = counted
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        until(lambda: self.server.started, timeout=30, interval=0.05, what="uvicorn started")
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.session.open()
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(params=[0, 4], ids=["batching-off", "batching-on"])
def held(request, tiny_model) -> Iterator[Held]:
    held = Held(create_app(tiny_model, batch_max_size=request.param))
    yield held
    held.close()


def post(url: str, body: bytes, result: dict) -> threading.Thread:
    """``POST /predict`` with ``body`` from a thread; ``result["response"]`` once answered."""

    def send() -> None:
        result["response"] = httpx.post(
            f"{url}/predict", content=body, headers={"Content-Type": NPY}, timeout=60
        )

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_a_request_whose_client_left_is_dropped_before_inference(held):
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    body = npy_bytes(x)
    result: dict = {}
    first = post(held.url, body, result)
    assert held.session.started.wait(30)  # the first request holds the session
    state = held.app.state.in_flight
    before = httpx.get(f"{held.url}/metrics", timeout=10).text
    assert metric(before, DROPPED) == 0.0

    head = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {NPY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    leaving = socket.create_connection(("127.0.0.1", held.port), timeout=30)
    leaving.sendall(head + body)
    until(lambda: held.arrived == 2, timeout=30, interval=0.02, what="second request waiting")
    leaving.close()  # the client goes while its request waits for the session
    until(lambda: state.disconnected == 1, timeout=30, interval=0.02, what="disconnect seen")

    held.session.open()
    first.join(30)
    assert result["response"].status_code == 200  # the request that stayed is answered
    until(lambda: state.now == 0, timeout=30, interval=0.02, what="nothing in flight")
    after = httpx.get(f"{held.url}/metrics", timeout=10).text
    assert metric(after, DROPPED) == 1.0
    assert held.session.runs == 1  # two requests reached the model, one ran
    assert 'route="/predict"' in after and 'code="499"' in after
    assert metric(after, "mllab_inference_requests_total") == 1.0


def test_a_client_that_stays_is_not_dropped(held):
    """The control: the same requests, nobody leaves: both run, nothing is dropped."""
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    results: list[dict] = [{}, {}]
    first = post(held.url, npy_bytes(x), results[0])
    assert held.session.started.wait(30)
    second = post(held.url, npy_bytes(x), results[1])
    until(lambda: held.arrived == 2, timeout=30, interval=0.02, what="second request waiting")
    held.session.open()
    for thread in (first, second):
        thread.join(30)
    assert [r["response"].status_code for r in results] == [200, 200]
    text = httpx.get(f"{held.url}/metrics", timeout=10).text
    assert metric(text, DROPPED) == 0.0
    assert held.app.state.in_flight.disconnected == 0
    assert held.session.runs == 2  # the second waited for the first, then ran
