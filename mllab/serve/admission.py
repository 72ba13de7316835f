"""Admission control and lifecycle: a bounded number of requests in flight, draining on SIGTERM,
and readiness that means the session still answers.

* :class:`Admission` (ASGI middleware, outermost): at most ``MAX_IN_FLIGHT`` inference requests
  (every ``POST``: ``/predict`` and the v2 ``infer`` route) are read, parsed and run at a time;
  the next one is answered 503 with ``Retry-After`` at once, before its body is read, instead of
  queueing without bound (each queued body would hold memory). ``GET`` routes (health, ready,
  metadata) are never refused: a probe must see the server, busy or not.
* :class:`InFlight`: the counter and the draining flag. uvicorn's graceful shutdown stops
  accepting connections on SIGTERM and waits for the requests in flight; the app's server
  (:mod:`mllab.serve.app`) sets ``draining`` first, so ``/ready`` turns 503 and a request that
  still arrives on an open connection is refused with 503.
* :class:`Readiness`: ready = the warm-up inference succeeded, the server is not draining, and
  the session answered recently: a successful inference request, or else a tiny probe inference
  (``model.probe()`` when the model has one, else one zero sample), at most every
  ``interval_s`` seconds, with a timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from mllab.serve.bodies import Message, Receive, Scope, Send

log = logging.getLogger("mllab.serve")

#: seconds a successful inference (request or probe) vouches for the session
PROBE_INTERVAL_S = 5.0
#: a probe slower than this means the session does not answer
PROBE_TIMEOUT_S = 10.0


@dataclass
class InFlight:
    """Requests in flight now, the most seen, those refused, and whether the server drains."""

    limit: int
    retry_after_s: int = 1
    now: int = 0
    peak: int = 0
    refused: int = 0
    disconnected: int = 0  # admitted requests whose client left before their answer started
    draining: bool = False
    last_success: float = field(default=0.0)  # time.monotonic() of the last 2xx inference

    def as_dict(self) -> dict[str, Any]:
        """What ``/metadata`` shows."""
        return {
            "max_in_flight": self.limit,
            "in_flight": self.now,
            "peak": self.peak,
            "refused": self.refused,
            "disconnected": self.disconnected,
            "draining": self.draining,
        }


class Admission:
    """ASGI middleware: refuses an inference request beyond ``state.limit`` with 503 at once."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], state: InFlight):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        state = self.state
        if state.draining or state.now >= state.limit:
            state.refused += 1
            return await self._refuse(send)
        # No await between the check and the increment: one event loop, so this is atomic.
        state.now += 1
        state.peak = max(state.peak, state.now)

        async def noting_success(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                state.last_success = time.monotonic()
            await send(message)

        try:
            await self.app(scope, receive, noting_success)
        finally:
            state.now -= 1

    async def _refuse(self, send: Send) -> None:
        state = self.state
        why = (
            "the server is shutting down"
            if state.draining
            else f"the server is busy: {state.limit} requests in flight (MAX_IN_FLIGHT)"
        )
        body = json.dumps(
            {
                "error": f"{why}; retry after {state.retry_after_s} s",
                "detail": {"in_flight": state.now, "max_in_flight": state.limit},
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(state.retry_after_s).encode()),
        ]
        # The body is not read: uvicorn discards what the client still sends of it.
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class Readiness:
    """Whether the server should receive traffic (``/ready`` and v2's ready routes)."""

    def __init__(
        self,
        model: Any,
        state: InFlight,
        interval_s: float = PROBE_INTERVAL_S,
        timeout_s: float = PROBE_TIMEOUT_S,
    ):
        self.model = model
        self.state = state
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.why = "not checked yet"
        self._probing = False
        self._answer = False

    async def ready(self) -> bool:
        """True when the warm-up succeeded, the server does not drain and the session answers;
        :attr:`why` says what is wrong otherwise."""
        if not getattr(self.model, "ready", False):
            self.why = "the model is not loaded and warmed up yet"
            return False
        if self.state.draining:
            self.why = "the server is shutting down"
            return False
        if time.monotonic() - self.state.last_success < self.interval_s:
            return True
        if self._probing:  # one probe at a time; the others take the last answer
            return self._answer
        self._probing = True
        try:
            self._answer = await self._probe_once()
        finally:
            self._probing = False
        return self._answer

    async def _probe_once(self) -> bool:
        try:
            await asyncio.wait_for(run_in_threadpool(self._probe), self.timeout_s)
        except TimeoutError:
            self.why = f"the session did not answer a probe within {self.timeout_s:g} s"
            return False
        except Exception as error:  # the session is broken: say so, log the traceback
            log.exception("readiness probe failed")
            self.why = f"the probe inference failed: {type(error).__name__}"
            return False
        self.state.last_success = time.monotonic()
        return True

    def _probe(self) -> None:
        probe = getattr(self.model, "probe", None)
        if probe is not None:
            if not probe():
                raise RuntimeError("Model.probe() returned False")
            return
        self.model.run(np.zeros((1, *self.model.sample_shape), dtype=np.float32))
