"""The server's lifecycle, on a real ``python -m mllab.serve.app`` process: admission control
(503 with ``Retry-After`` at once beyond ``MAX_IN_FLIGHT``), SIGTERM drains the requests in
flight before the process exits, readiness probes the session."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from mllab.serve.bodies import npy_bytes
from mllab.serve.process import start_server

NPY = {"Content-Type": "application/x-npy"}


class HeldBody:
    """A request body sent in two halves: the second only once :meth:`release` is called, so
    the request stays in flight (admitted, its body being read) as long as the test wants."""

    def __init__(self, body: bytes):
        self.body = body
        self.first_half_sent = threading.Event()
        self._release = threading.Event()

    def release(self) -> None:
        self._release.set()

    def __iter__(self) -> Iterator[bytes]:
        half = len(self.body) // 2
        yield self.body[:half]
        self.first_half_sent.set()
        self._release.wait(30)
        yield self.body[half:]


def _post_in_background(url: str, body: HeldBody) -> dict:
    """POST ``body`` from a thread; the dict gets the response (or the error) when it ends."""
    result: dict = {}

    def post() -> None:
        try:
            headers = {**NPY, "Content-Length": str(len(body.body))}
            result["response"] = httpx.post(
                f"{url}/predict", content=body, headers=headers, timeout=60
            )
        except httpx.HTTPError as error:  # the test reports it
            result["error"] = error

    result["thread"] = threading.Thread(target=post, daemon=True)
    result["thread"].start()
    return result


@pytest.fixture
def one_sample() -> bytes:
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    return npy_bytes(x)


def test_beyond_max_in_flight_503_with_retry_after_at_once(tiny_model, one_sample):
    env = {"MAX_IN_FLIGHT": "1", "RETRY_AFTER_S": "2"}
    with start_server(tiny_model, env=env) as server:
        held = HeldBody(one_sample)
        first = _post_in_background(server.url, held)
        assert held.first_half_sent.wait(30)
        time.sleep(0.2)  # the server has admitted it and is reading its body
        start = time.perf_counter()
        refused = httpx.post(f"{server.url}/predict", content=one_sample, headers=NPY, timeout=30)
        waited = time.perf_counter() - start
        assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
        assert "MAX_IN_FLIGHT" in refused.json()["error"]
        assert waited < 2.0  # answered at once, not queued behind the one in flight
        assert httpx.get(f"{server.url}/ready", timeout=10).status_code == 200  # GETs pass
        held.release()
        first["thread"].join(30)
        assert first["response"].status_code == 200
        again = httpx.post(f"{server.url}/predict", content=one_sample, headers=NPY, timeout=30)
        assert again.status_code == 200  # the slot was given back
        meta = httpx.get(f"{server.url}/metadata", timeout=10).json()["admission"]
        assert meta["refused"] == 1 and meta["peak"] == 1 and meta["in_flight"] == 0


def test_sigterm_drains_the_request_in_flight_then_exits(tiny_model, one_sample):
    with start_server(tiny_model) as server:
        held = HeldBody(one_sample)
        in_flight = _post_in_background(server.url, held)
        assert held.first_half_sent.wait(30)
        time.sleep(0.2)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.process.poll() is None  # still running: it waits for the request
        held.release()
        in_flight["thread"].join(30)
        assert "error" not in in_flight, in_flight.get("error")
        assert in_flight["response"].status_code == 200
        assert in_flight["response"].headers["content-type"] == "application/json"
        # uvicorn re-raises the signal it caught once drained: exit by SIGTERM, as Unix expects
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
        log = server.log()
        assert "SIGTERM: draining 1 request(s) in flight" in log


def test_ready_probes_the_session(tiny_model):
    with start_server(tiny_model) as server:
        ready = httpx.get(f"{server.url}/ready", timeout=10)
        assert ready.status_code == 200 and ready.json()["ready"] is True
