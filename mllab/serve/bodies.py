"""Request bodies of ``POST /predict``: reading a tensor from ``.npy``, raw float32 or the
lecture's JSON list, checking the batch, and limiting the body size while it is read.

Every client mistake is a :class:`~mllab.serve.limits.RequestError` carrying its HTTP status
(400 unreadable, 413 too large, 415 unsupported type, 422 invalid), which the app answers as JSON.
Declared sizes are checked by :mod:`mllab.serve.limits` before anything is allocated.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np

from mllab.serve.limits import (
    Limits,
    RequestError,
    check_shape,
    parse_json,
    parse_shape,
    read_npy,
)

NPY = "application/x-npy"
IMAGE_TYPES = ("image/jpeg", "image/png")
TENSOR_TYPES = (NPY, "application/octet-stream", "application/json")
SUPPORTED_TYPES = ("multipart/form-data", *IMAGE_TYPES, *TENSOR_TYPES)

# ASGI's three callables, as Starlette spells them
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: the limits of a server started with the defaults (tests and callers that pass none)
DEFAULT_LIMITS = Limits()
__all__ = ["RequestError"]  # re-exported: the app and v2 import it from here or from limits


def tensor_from_npy(body: bytes, limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """The array in ``.npy`` bytes, its header (shape, dtype) checked before the data is read."""
    return read_npy(body, limits)


def tensor_from_raw(
    body: bytes, shape_text: str | None, limits: Limits = DEFAULT_LIMITS
) -> np.ndarray:
    """Little-endian float32 bytes reshaped to ``shape_text`` (``"1,3,224,224"``)."""
    shape = check_shape(parse_shape(shape_text), np.float32, limits)
    if not shape or any(d < 1 for d in shape):
        raise RequestError(f"shape {shape_text!r} must have positive dimensions", 422)
    expected = math.prod(shape) * 4
    if len(body) != expected:
        raise RequestError(
            f"the body has {len(body)} bytes but float32 of shape {shape} needs {expected}",
            422,
            {"bytes": len(body), "expected_bytes": expected, "shape": list(shape)},
        )
    return np.frombuffer(body, dtype="<f4").reshape(shape)


def tensor_from_json(body: bytes, limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """The lecture's ``{"input": nested list}`` as float32, parsed within ``limits``."""
    payload = parse_json(body, limits)
    if not isinstance(payload, dict) or "input" not in payload:
        raise RequestError('the JSON body must be an object {"input": [[[[...]]]]}', 422)
    try:
        return np.array(payload["input"], dtype=np.float32)
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        raise RequestError(
            f'"input" is not a rectangular list of numbers ({error}): send {{"input": x.tolist()}}'
            " for x of shape (N, 3, 224, 224)",
            422,
        ) from None


def json_body(array: np.ndarray) -> bytes:
    """The lecture's request body: ``{"input": x.tolist()}`` as JSON text."""
    return json.dumps({"input": np.asarray(array, dtype=np.float32).tolist()}).encode()


def check_batch(x: np.ndarray, sample_shape: tuple[int, ...], max_batch: int) -> np.ndarray:
    """``x`` as a C-contiguous float32 ``(N, *sample_shape)`` batch, 1 ≤ N ≤ ``max_batch``."""
    want = f"(N, {', '.join(map(str, sample_shape))})"
    if x.dtype != np.float32:
        raise RequestError(
            f"the tensor has dtype {x.dtype}, the model takes float32", 422, {"dtype": str(x.dtype)}
        )
    if x.ndim != len(sample_shape) + 1 or tuple(x.shape[1:]) != sample_shape:
        raise RequestError(
            f"the tensor has shape {tuple(x.shape)}, the model takes {want}",
            422,
            {"shape": list(x.shape), "expected": ["N", *sample_shape]},
        )
    if not 1 <= x.shape[0] <= max_batch:
        raise RequestError(
            f"the batch has {x.shape[0]} samples; this server takes 1 to {max_batch} (MAX_BATCH)",
            422,
        )
    if not np.isfinite(x).all():
        raise RequestError("the tensor contains NaN or infinity", 422)
    return np.ascontiguousarray(x, dtype=np.float32)


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` serialised as ``.npy``."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class BodyLimit:
    """ASGI middleware: reads the request body, answering 413 as soon as it passes the limit.

    The limit is enforced on the bytes as they arrive (and on ``Content-Length`` before any),
    before a parser sees them, for every content type, multipart included.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1").strip()
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(send, int(declared))
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self._reject(send, size)
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # the body was delivered: wait for the disconnect as the server would
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, send: Send, size: int) -> None:
        limit_mb = self.max_bytes / 1024 / 1024
        body = json.dumps(
            {
                "error": f"the request body is larger than this server's limit of "
                f"{limit_mb:g} MB (MAX_BODY_MB)",
                "detail": {"bytes_at_least": size, "limit_bytes": self.max_bytes},
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
