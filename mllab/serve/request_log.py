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
adds them to the current request's times (a context variable: the route's thread inherits it).
``route`` is the route's template (bounded: ``<unmatched>`` for any other path), never the raw
path. A 2xx/3xx answer logs at INFO, a 4xx/5xx at WARNING, so ``LOG_LEVEL=warning`` keeps the
refusals and failures and drops the per-request lines of a benchmark.

The same times go back to the client in a standard ``Server-Timing`` header (W3C Server
Timing: ``name;dur=ms``), so that a client can split its round trip without reading the log::

    Server-Timing: recv;dur=0.41, decode;dur=0.22, queue;dur=0.01, infer;dur=39.2,
                   encode;dur=0.35, app;dur=40.19

``app`` runs from the middleware's entry (uvicorn has parsed the request's head) to the start
of the response; inside it ``recv`` ends when the app has read the body's last byte,
``queue`` and ``infer`` are the inference wrapper's figures, ``encode`` runs from the end of
the inference to the response's start, and ``decode`` is the rest (parsing and checking the
body, the route). A stage that did not happen (no body, no inference: ``/health``, a
refusal) is left out. Durations only: no names, paths or versions (:func:`server_timing`;
:func:`parse_server_timing` reads it back).

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
from dataclasses import dataclass
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
#: the response header of the stage times (W3C Server Timing)
TIMING_HEADER = b"server-timing"
#: the stages of ``Server-Timing``, in the order of a request (``app`` holds the others)
STAGES = ("recv", "decode", "queue", "infer", "encode", "app")
_TIMING_ENTRY = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*((?:;[^,]*)?)")
_DURATION = re.compile(r";\s*dur\s*=\s*\"?([0-9.eE+-]+)\"?")

log = logging.getLogger(LOGGER)


@dataclass
class _Times:
    """What one request's stages noted so far: the log's figures (ms) and the clock readings
    (``time.perf_counter``) the ``Server-Timing`` stages are cut at."""

    queue_ms: float | None = None
    inference_ms: float | None = None
    body_read: float | None = None  # the app read the body's last byte
    inferred: float | None = None  # the last inference returned


_current: contextvars.ContextVar[_Times | None] = contextvars.ContextVar(
    "mllab_request_times", default=None
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
    times = _current.get()
    if times is None:
        return
    times.inferred = time.perf_counter()  # called as the inference returns: encoding starts
    times.queue_ms = (times.queue_ms or 0.0) + queue_ms
    times.inference_ms = (times.inference_ms or 0.0) + inference_ms


def stage_times(times: _Times, start: float, now: float) -> dict[str, float]:
    """The request's stages in ms (:data:`STAGES`, those that happened), cut from ``start``
    (the middleware's entry) to ``now`` (the response's start). The pieces of ``app`` are
    clamped at 0 (two clocks' roundings) and never sum to more than ``app``."""
    app = max(0.0, (now - start) * 1000.0)
    stages: dict[str, float] = {}
    if times.body_read is not None:
        stages["recv"] = min(app, max(0.0, (times.body_read - start) * 1000.0))
    if times.inferred is not None and times.queue_ms is not None:
        queue, infer = times.queue_ms, times.inference_ms or 0.0
        encode = max(0.0, (now - times.inferred) * 1000.0)
        before = app - stages.get("recv", 0.0) - encode - queue - infer
        stages["decode"] = max(0.0, before)
        stages["queue"], stages["infer"], stages["encode"] = queue, infer, encode
    stages["app"] = max(app, sum(stages.values()))
    return {name: stages[name] for name in STAGES if name in stages}


def server_timing(stages: dict[str, float]) -> bytes:
    """The ``Server-Timing`` header's value for ``stages`` (ms, three decimals)."""
    return ", ".join(f"{name};dur={ms:.3f}" for name, ms in stages.items()).encode("ascii")


def parse_server_timing(value: str | None) -> dict[str, float]:
    """A ``Server-Timing`` header's durations by metric name (a client's side; an entry
    without ``dur`` is left out, an unreadable value gives an empty dict)."""
    found: dict[str, float] = {}
    for entry in (value or "").split(","):
        head = _TIMING_ENTRY.match(entry)
        duration = _DURATION.search(head.group(2)) if head else None
        if head and duration:
            try:
                found[head.group(1)] = float(duration.group(1))
            except ValueError:
                continue
    return found


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
    """ASGI middleware: an id per HTTP request, echoed in ``X-Request-ID``, its stage times in
    ``Server-Timing``, and one log line when the request ends (also when it was refused or
    failed)."""

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
        times = _Times()
        token = _current.set(times)
        status = 500  # an exception that escapes is answered 500 outside this middleware
        header = (HEADER, rid.encode("ascii"))
        ours = (HEADER, TIMING_HEADER)

        async def timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                timing = server_timing(stage_times(times, start, time.perf_counter()))
                headers = [h for h in message.get("headers", []) if h[0].lower() not in ours]
                message = {**message, "headers": [*headers, header, (TIMING_HEADER, timing)]}
            await send(message)

        body = 0  # bytes of the request's body read so far: no body, no ``recv`` stage

        async def reading() -> Message:
            nonlocal body
            message = await receive()
            if message["type"] == "http.request" and times.body_read is None:
                body += len(message.get("body", b""))
                if body and not message.get("more_body", False):
                    times.body_read = time.perf_counter()
            return message

        try:
            await self.app(scope, reading, timed)
        finally:
            _current.reset(token)
            self._write(scope, rid, status, times, time.perf_counter() - start)

    def _write(self, scope: Scope, rid: str, status: int, times: _Times, seconds: float) -> None:
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
        for name, ms in (("queue_ms", times.queue_ms), ("inference_ms", times.inference_ms)):
            if ms is not None:
                fields[name] = round(ms, 3)
        fields["total_ms"] = round(seconds * 1000.0, 3)
        log.log(level, "request", extra={"fields": fields})
