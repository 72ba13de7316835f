"""Logs a machine can read: one JSON line per HTTP request, and its id echoed to the client.

:class:`RequestLog` (ASGI middleware, outermost of the app's own) gives every request an id:
the client's ``X-Request-ID`` when it is sane (1 to :data:`MAX_ID_LENGTH` visible ASCII
characters), else a fresh ``uuid4`` hex, so a hostile header can neither flood the log nor
forge lines in it. The id goes back in the response's ``X-Request-ID`` (refusals included) and
into one line of the ``mllab.serve.requests`` logger, which :func:`configure` writes as JSON::

    {"ts": "2026-12-06T00:41:07.123Z", "level": "INFO", "logger": "mllab.serve.requests",
     "msg": "request", "request_id": "…", "method": "POST", "route": "/predict",
     "status": 200, "model_version": "1.0.0", "queue_ms": 0.01, "inference_ms": 3.2,
     "total_ms": 5.9}

``queue_ms`` and ``inference_ms`` appear only when the request reached the model. They are not
timed again here: the one wrapper around ``Model.infer`` (:func:`mllab.serve.metrics.watch`,
which also feeds the Prometheus histograms) hands its figures to :func:`note_inference`, which
adds them to the current request's record (a context variable: the route's thread inherits it).
``route`` is the route's template (bounded: ``<unmatched>`` for any other path), never the raw
path. A 2xx/3xx answer logs at INFO, a 4xx/5xx at WARNING, so ``LOG_LEVEL=warning`` keeps the
refusals and failures and drops the per-request lines of a benchmark.

Standard library only (``logging``, ``json``): nothing to install in the slim image.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from mllab.serve.bodies import Message, Receive, Scope, Send

#: the header a client may send and every response carries
HEADER = b"x-request-id"
#: where the middleware leaves the id in the ASGI scope (the 500 handler quotes it)
SCOPE_KEY = "mllab.request_id"
#: longest client id kept: a UUID with dashes is 36, a W3C trace id 32
MAX_ID_LENGTH = 128
#: visible ASCII only: no control characters, spaces or bytes a terminal or a parser trips on
_SANE_ID = re.compile(rb"[\x21-\x7e]{1,%d}" % MAX_ID_LENGTH)
#: the logger of the per-request lines
LOGGER = "mllab.serve.requests"
#: the methods logged by name; any other is logged as ``OTHER`` (a client picks the method)
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"})

log = logging.getLogger(LOGGER)
_current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "mllab_request_record", default=None
)

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_id(sent: bytes | None) -> str:
    """The client's ``X-Request-ID`` when it is sane, else a fresh uuid4 hex."""
    if sent is not None and _SANE_ID.fullmatch(sent):
        return sent.decode("ascii")
    return uuid.uuid4().hex


def request_id_of(scope: Scope) -> str | None:
    """The id :class:`RequestLog` gave the request of ``scope`` (None outside it)."""
    found = scope.get(SCOPE_KEY)
    return found if isinstance(found, str) else None


def note_inference(queue_ms: float, inference_ms: float) -> None:
    """Add one inference's times to the current request's log line (no-op outside a request:
    gRPC, the readiness probe). Several inferences in one request add up."""
    record = _current.get()
    if record is None:
        return
    record["queue_ms"] = record.get("queue_ms", 0.0) + queue_ms
    record["inference_ms"] = record.get("inference_ms", 0.0) + inference_ms


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object on one line: time (UTC, ms), level, logger, message,
    the fields passed as ``extra={"fields": {...}}``, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, Any] = {
            "ts": stamp.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        # default=str: a stray non-JSON value is written as text, never a lost line
        return json.dumps(line, default=str, ensure_ascii=True)


def configure(level: int | str = logging.INFO, stream: TextIO | None = None) -> logging.Handler:
    """Write the request lines as JSON to ``stream`` (default stderr), alone on their lines
    (not through the root logger's text format); the handler, for a caller to remove."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    if isinstance(level, str):  # uvicorn's names; its "trace" is below DEBUG
        named = logging.getLevelName(level.upper())
        level = named if isinstance(named, int) else logging.DEBUG
    log.setLevel(level)
    log.propagate = False
    return handler


class RequestLog:
    """ASGI middleware: an id per HTTP request, echoed in ``X-Request-ID``, and one log line
    when the request ends (also when it was refused or failed)."""

    def __init__(self, app: ASGIApp, version: str, route: Callable[[str], str]):
        self.app = app
        self.version = version
        self.route = route  # path -> route template (bounded labels)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        sent = [value for name, value in scope.get("headers", []) if name.lower() == HEADER]
        rid = request_id(sent[0] if len(sent) == 1 else None)  # two ids: neither is trusted
        scope[SCOPE_KEY] = rid
        record: dict[str, Any] = {}
        token = _current.set(record)
        status = 500  # an exception that escapes is answered 500 outside this middleware
        header = (HEADER, rid.encode("ascii"))

        async def with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            _current.reset(token)
            self._write(scope, rid, status, record, time.perf_counter() - start)

    def _write(
        self, scope: Scope, rid: str, status: int, record: dict[str, Any], seconds: float
    ) -> None:
        level = logging.INFO if status < 400 else logging.WARNING
        if not log.isEnabledFor(level):
            return
        fields: dict[str, Any] = {
            "request_id": rid,
            "method": method if (method := scope.get("method")) in METHODS else "OTHER",
            "route": self.route(str(scope.get("path", ""))),
            "status": status,
            "model_version": self.version,
        }
        fields.update({name: round(ms, 3) for name, ms in record.items()})
        fields["total_ms"] = round(seconds * 1000.0, 3)
        log.log(level, "request", extra={"fields": fields})
