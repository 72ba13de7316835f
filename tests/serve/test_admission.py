"""Admission control and readiness, on the ASGI level (fast, no server process): beyond
``MAX_IN_FLIGHT`` a POST is refused 503 with ``Retry-After`` before its body is read, GETs are
never refused, draining refuses everything new; readiness probes the session, rate-limited."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from mllab.serve.admission import Admission, InFlight, Readiness


async def _call(app, method: str) -> tuple[int, dict, bool]:
    """One request through ``app``: (status, headers, whether the body was read)."""
    sent: list[dict] = []
    read = False

    async def receive():
        nonlocal read
        read = True
        return {"type": "http.request", "body": b"x", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/predict", "headers": []}
    await app(scope, receive, send)
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, read


def _held_app(gate: asyncio.Event):
    async def app(scope, receive, send):
        await receive()
        await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def test_beyond_the_limit_503_with_retry_after_before_reading_the_body():
    async def scenario():
        gate = asyncio.Event()
        state = InFlight(limit=2, retry_after_s=3)
        app = Admission(_held_app(gate), state)
        held = [asyncio.create_task(_call(app, "POST")) for _ in range(2)]
        await asyncio.sleep(0.01)
        assert state.now == 2
        status, headers, read = await _call(app, "POST")
        assert (status, headers["retry-after"], read) == (503, "3", False)
        gate.set()
        assert [(await task)[0] for task in held] == [200, 200]
        assert (state.now, state.peak, state.refused) == (0, 2, 1)
        assert state.last_success > 0  # a 2xx vouches for the session
        assert (await _call(app, "POST"))[0] == 200  # the slots were given back

    asyncio.run(scenario())


def test_gets_are_never_refused_and_draining_refuses_new_posts():
    async def scenario():
        gate = asyncio.Event()
        gate.set()
        state = InFlight(limit=1)
        app = Admission(_held_app(gate), state)
        state.now = 1  # full
        assert (await _call(app, "GET"))[0] == 200
        state.now, state.draining = 0, True
        status, _, _ = await _call(app, "POST")
        assert status == 503

    asyncio.run(scenario())


class FakeModel:
    def __init__(self, ready=True, fail=False, delay=0.0):
        self.ready, self.fail, self.delay = ready, fail, delay
        self.sample_shape = (3, 4, 4)
        self.runs = 0

    def run(self, x):
        self.runs += 1
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("session lost")
        return np.zeros((x.shape[0], 2), np.float32), 0.1


def test_readiness_probes_the_session_at_most_every_interval():
    model = FakeModel()
    readiness = Readiness(model, InFlight(limit=1), interval_s=60)

    async def twice():
        return await readiness.ready(), await readiness.ready()

    assert asyncio.run(twice()) == (True, True)
    assert model.runs == 1  # the second answer used the first probe


def test_readiness_is_false_before_warm_up_when_draining_failing_or_hung():
    not_warm = Readiness(FakeModel(ready=False), InFlight(limit=1))
    assert not asyncio.run(not_warm.ready()) and "warmed up" in not_warm.why
    draining = Readiness(FakeModel(), InFlight(limit=1, draining=True))
    assert not asyncio.run(draining.ready()) and "shutting down" in draining.why
    broken = Readiness(FakeModel(fail=True), InFlight(limit=1))
    assert not asyncio.run(broken.ready()) and "RuntimeError" in broken.why
    hung = Readiness(FakeModel(delay=1.0), InFlight(limit=1), timeout_s=0.1)
    assert not asyncio.run(hung.ready()) and "did not answer" in hung.why


def test_readiness_uses_model_probe_when_there_is_one():
    model = FakeModel()
    model.probe = lambda: False
    readiness = Readiness(model, InFlight(limit=1))
    assert not asyncio.run(readiness.ready()) and model.runs == 0
