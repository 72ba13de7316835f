"""Requests whose client has gone are dropped before inference, not computed for nobody.

A load generator that stops (locust at the end of a benchmark point), a client that times out,
a proxy that gives up: each leaves requests that wait for the session (its lock, or the
batcher's queue). Computing them costs the next requests their cores, and their answers go
nowhere. So every inference request carries a "has its client gone?" check
(:data:`CLIENT_GONE`, a context variable: it follows the request into the thread pool), and the
model runs it when the request leaves the wait for the session, just before ``session.run``
(:meth:`mllab.serve.model.Model.infer`, :class:`mllab.serve.batcher.Batcher`): a request whose
client has gone raises :class:`ClientGone` there instead, counted by the metrics as
``mllab_requests_dropped_total{reason="client_disconnected"}`` and answered 499 (nginx's
"client closed request"), which nobody reads.

* REST: :class:`ClientWatch` (ASGI middleware, inside admission control) listens, once the
  request's body has been read, for the server's ``http.disconnect`` message: uvicorn sends it
  when the connection closes before the answer started.
* gRPC: the call's handler is cancelled when its client cancels or its deadline passes
  (:mod:`mllab.serve.grpc_server` sets the same flag then).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Awaitable, Callable

from mllab.core.errors import MllabError
from mllab.serve.admission import InFlight
from mllab.serve.bodies import Message, Receive, Scope, Send

#: the reason label of ``mllab_requests_dropped_total`` for a request whose client has gone
CLIENT_DISCONNECTED = "client_disconnected"
#: the status a dropped request is answered with (nobody reads it; the logs and metrics do)
CLIENT_CLOSED_REQUEST = 499

#: the current request's "has its client gone?" flag (None outside a request: warm-up, probes)
CLIENT_GONE: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "mllab_client_gone", default=None
)

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ClientGone(MllabError):
    """The request's client disconnected before its inference started: dropped, not run."""

    def __init__(self) -> None:
        super().__init__("the client disconnected before its inference started: dropped")


def client_gone() -> Callable[[], bool] | None:
    """The current request's check (None outside a request): call it in any thread."""
    flag = CLIENT_GONE.get()
    return None if flag is None else flag.is_set


class ClientWatch:
    """ASGI middleware: sets the request's :data:`CLIENT_GONE` flag when its client disconnects
    before the answer starts (``POST`` only: inference requests), and counts it in
    ``state.disconnected``.

    The server's ``receive()`` answers ``http.disconnect`` once the connection closes; after the
    body it is awaited by one watcher task, and the app's own later ``receive()`` calls get the
    watcher's message instead of a second concurrent wait on the server's."""

    def __init__(self, app: ASGIApp, state: InFlight):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        flag = threading.Event()
        answered = False
        watcher: asyncio.Task[Message] | None = None

        async def watch() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect" and not answered:
                flag.set()  # an answer already started is not a drop: nothing to save
                self.state.disconnected += 1
            return message

        async def watched_receive() -> Message:
            nonlocal watcher
            if watcher is not None:
                return await asyncio.shield(watcher)
            message = await receive()
            if message["type"] == "http.disconnect":
                flag.set()
            elif not message.get("more_body", False):  # the body is complete: listen on
                watcher = asyncio.ensure_future(watch())
            return message

        async def noting_answer(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        token = CLIENT_GONE.set(flag)
        try:
            await self.app(scope, watched_receive, noting_answer)
        finally:
            CLIENT_GONE.reset(token)
            if watcher is not None and not watcher.done():
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
