"""The inference server: f(x; θ, E) behind HTTP, as the lecture's Flask service means it to be.

The lecture's ``server.py`` (Flask, ``POST /predict`` with ``{"input": nested list}``) never
calls ``app.run`` and turns a 600 KB tensor into 3 MB of JSON text. This server keeps its
contract (same route, same JSON body, same ``{"output": ...}`` answer) and adds what a
production service needs:

* three body kinds on ``POST /predict``: an image upload (JPEG/PNG, preprocessed here with the
  one ``mllab.model.preprocess``; answers the top-k classes), a binary float32 tensor (``.npy`` or raw
  bytes with an ``X-Shape`` header; answers logits, as ``.npy`` too when asked with
  ``Accept: application/x-npy``) and the lecture's JSON list;
* every answer carries ``latency_ms`` (time in ``session.run``), the model's ``sha256`` and the
  execution provider ONNX Runtime really used;
* ``GET /health`` (the process answers), ``/ready`` (the model is loaded and warmed up),
  ``/metadata`` (model, input/output, opsets, provider, threads, versions);
* configuration from ENV as in the lecture's ``docker run`` (``MODEL_PATH``, ``PORT``, ...);
* client errors answer 4xx JSON ``{"error": ..., "detail": ...}``, never 500; the body size is
  limited while it is read; the model's sha256 is checked before it is loaded.

Only numpy, Pillow, onnxruntime, fastapi and uvicorn are imported, never torch, onnx or docker:
``python -m mllab.serve.app`` is the CMD of the slim serving image. FastAPI itself is imported
inside :func:`create_app` so that ``mllab --help`` stays instant (and this module does not use
``from __future__ import annotations``: FastAPI reads the endpoints' annotations at runtime).
"""

import argparse
import io
import json
import math
import os
import platform
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mllab.core.errors import InputError, MllabError

if TYPE_CHECKING:
    from fastapi import FastAPI

#: the lecture's ``EXPOSE 8080`` / ``docker run -p 8080:8080``
DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"
#: the lecture's Dockerfile copies the model to ``/app/model.onnx`` and runs from ``/app``
DEFAULT_MODEL = "model.onnx"
#: one JSON-list image is ~3 MB of text: 32 MB takes a JSON batch of 8 or a binary batch of 32
DEFAULT_MAX_BODY_MB = 32.0
DEFAULT_MAX_BATCH = 32
DEVICES = ("cpu", "cuda", "tensorrt", "auto")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
NPY = "application/x-npy"
IMAGE_TYPES = ("image/jpeg", "image/png")
TENSOR_TYPES = (NPY, "application/octet-stream", "application/json")
SUPPORTED_TYPES = ("multipart/form-data", *IMAGE_TYPES, *TENSOR_TYPES)


class RequestError(InputError):
    """A client error with its HTTP status (400 unreadable, 415 unsupported type, 422 invalid)."""

    def __init__(self, message: str, status: int = 400, detail: Any = None):
        super().__init__(message)
        self.status = status
        self.detail = detail


# --- configuration ---------------------------------------------------------------------------


@dataclass
class ServerConfig:
    """Everything the server needs; :meth:`from_env` reads it as the container's ENV sets it."""

    model_path: Path
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    device: str = "cpu"
    threads: int | None = None  # None: ONNX Runtime's pool sized from the cgroup CPU quota
    max_body_mb: float = DEFAULT_MAX_BODY_MB
    max_batch: int = DEFAULT_MAX_BATCH
    log_level: str = "info"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ServerConfig":
        """Read ``MODEL_PATH``, ``PORT``, ``HOST``, ``ORT_THREADS``/``THREADS``,
        ``DEVICE``/``PROVIDER``, ``MAX_BODY_MB``, ``MAX_BATCH`` and ``LOG_LEVEL``."""
        env = os.environ if env is None else env
        threads = _env_number(env, ("ORT_THREADS", "THREADS"), None, int, minimum=1)
        return cls(
            model_path=Path(env.get("MODEL_PATH") or DEFAULT_MODEL),
            port=_env_number(env, ("PORT",), DEFAULT_PORT, int, minimum=1, maximum=65535),
            host=env.get("HOST") or DEFAULT_HOST,
            device=parse_device(env.get("DEVICE") or env.get("PROVIDER") or "cpu"),
            threads=threads,
            max_body_mb=_env_number(env, ("MAX_BODY_MB",), DEFAULT_MAX_BODY_MB, float, 0.001),
            max_batch=_env_number(env, ("MAX_BATCH",), DEFAULT_MAX_BATCH, int, minimum=1),
            log_level=parse_log_level(env.get("LOG_LEVEL") or "info"),
        )


def parse_device(value: str) -> str:
    """``cpu|cuda|tensorrt|auto``; ONNX Runtime provider names (``CUDAExecutionProvider``) too."""
    name = value.strip().lower().removesuffix("executionprovider")
    if name not in DEVICES:
        raise MllabError(f"DEVICE/PROVIDER must be one of {', '.join(DEVICES)}, not {value!r}")
    return name


def parse_log_level(value: str) -> str:
    """One of uvicorn's log levels (``warning`` drops the access line per request)."""
    name = value.strip().lower()
    if name not in LOG_LEVELS:
        raise MllabError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return name


def _env_number(env, names, default, kind, minimum=None, maximum=None):
    """The first of ``names`` set in ``env`` as a number, checked; a clear error otherwise."""
    for name in names:
        text = env.get(name)
        if text is None or text.strip() == "":
            continue
        try:
            value = kind(text)
        except ValueError:
            raise MllabError(f"{name} must be a number, not {text!r}") from None
        if not math.isfinite(value) or (minimum is not None and value < minimum):
            raise MllabError(f"{name} must be at least {minimum}, not {text!r}")
        if maximum is not None and value > maximum:
            raise MllabError(f"{name} must be at most {maximum}, not {text!r}")
        return value
    return default


# --- the model ---------------------------------------------------------------------------------


class Model:
    """A model file whose sha256 was checked, and its ONNX Runtime session."""

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = None):
        from mllab.runtime.cgroup import usable_cpus
        from mllab.model.integrity import verify_model
        from mllab.runtime.sessions import create_session

        self.path = Path(path)
        if not self.path.is_file():
            raise MllabError(f"no model file at {self.path} (set MODEL_PATH or --model)")
        # The digest is checked before ONNX Runtime parses a byte of the file: a tampered
        # model must never serve, not even once.
        self.sha256 = verify_model(self.path)
        try:
            # no spinning: a server shares its cores (and its --cpus quota) with the HTTP stack
            self.session = create_session(
                self.path, device=device, threads=threads, allow_spinning=False
            )
        except MllabError:
            raise
        except Exception as error:  # onnxruntime's own errors: not a model it can run
            raise MllabError(f"ONNX Runtime cannot load {self.path}: {error}") from None
        self.provider = self.session.get_providers()[0]
        self.threads = threads or usable_cpus()
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        self.input_name, self.output_name = inputs[0].name, outputs[0].name
        if inputs[0].type != "tensor(float)":
            raise MllabError(f"{self.path} takes {inputs[0].type}; the server sends float32")
        self.sample_shape = _sample_shape(inputs[0].shape, self.path)
        # One inference at a time: the intra-op pool already uses every core the quota
        # allows, and two runs sharing them would only make both slower.
        self._lock = threading.Lock()
        try:  # warm-up: arenas and kernels are set up before the first client waits for them
            self.run(np.zeros((1, *self.sample_shape), dtype=np.float32))
        except Exception as error:
            raise MllabError(f"{self.path} fails on a zero input: {error}") from None
        self.ready = True

    def run(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """Logits for a checked batch and the milliseconds ``session.run`` took."""
        with self._lock:
            start = time.perf_counter()
            logits = self.session.run([self.output_name], {self.input_name: x})[0]
            return logits, (time.perf_counter() - start) * 1000.0

    def metadata(self) -> dict[str, Any]:
        """What ``GET /metadata`` answers (without the server's limits and versions)."""
        meta = self.session.get_modelmeta()
        inputs, outputs = self.session.get_inputs()[0], self.session.get_outputs()[0]
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "size_bytes": self.path.stat().st_size,
            **onnx_header(self.path),
            "producer": meta.producer_name,
            "graph_name": meta.graph_name,
            "metadata_props": dict(meta.custom_metadata_map),
            "input": {"name": inputs.name, "shape": inputs.shape, "type": inputs.type},
            "output": {"name": outputs.name, "shape": outputs.shape, "type": outputs.type},
        }


def _sample_shape(shape: list, path: Path) -> tuple[int, ...]:
    """The per-sample shape of an ``(N, C, H, W)`` input whose C, H, W are fixed."""
    rest = shape[1:]
    if len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in rest):
        raise MllabError(f"{path} takes input of shape {shape}; the server needs (N, C, H, W)")
    return tuple(rest)


def onnx_header(path: str | Path) -> dict[str, Any]:
    """``ir_version``, ``producer_version`` and ``opsets`` ({domain: version}) of an ONNX file.

    ONNX Runtime does not expose the opset and the ``onnx`` package is not in the serving image,
    so the top-level protobuf fields of ``ModelProto`` are read directly; the graph (field 7,
    the weights) is skipped with a seek, not read.
    """
    header: dict[str, Any] = {"ir_version": None, "producer_version": None, "opsets": {}}
    try:
        with open(path, "rb") as handle:
            for number, value in _proto_fields(handle, skip={7}):
                if number == 1:
                    header["ir_version"] = value
                elif number == 3:
                    header["producer_version"] = value.decode("utf-8", "replace")
                elif number == 8:
                    fields = dict(_proto_fields(io.BytesIO(value)))
                    domain = fields.get(1, b"").decode("utf-8", "replace") or "ai.onnx"
                    header["opsets"][domain] = fields.get(2)
    except (OSError, ValueError):  # not protobuf as expected: the session loaded it anyway
        pass
    return header


def _proto_fields(handle, skip=frozenset()):
    """(field number, value) of one protobuf message: varints as int, the rest as bytes."""
    while True:
        key = _varint(handle)
        if key is None:
            return
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, _varint(handle)
        elif wire == 2:
            size = _varint(handle)
            if number in skip:
                handle.seek(size, io.SEEK_CUR)
            else:
                yield number, handle.read(size)
        elif wire in (1, 5):
            handle.read(8 if wire == 1 else 4)
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")


def _varint(handle) -> int | None:
    result, shift = 0, 0
    while True:
        byte = handle.read(1)
        if not byte:
            if shift:
                raise ValueError("truncated varint")
            return None
        result |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            return result


# --- request bodies ----------------------------------------------------------------------------


def tensor_from_npy(body: bytes) -> np.ndarray:
    """The array in ``.npy`` bytes (no pickles: an object array could run code)."""
    try:
        return np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise RequestError(f"the body is not a readable .npy array: {error}") from None


def tensor_from_raw(body: bytes, shape_text: str | None) -> np.ndarray:
    """Little-endian float32 bytes reshaped to ``shape_text`` (``"1,3,224,224"``)."""
    if not shape_text:
        raise RequestError(
            "a raw float32 body needs its shape: send the header 'X-Shape: 1,3,224,224' "
            "or the query ?shape=1,3,224,224 (or send .npy as application/x-npy)"
        )
    try:
        shape = tuple(int(part) for part in shape_text.replace("x", ",").split(","))
    except ValueError:
        raise RequestError(f"shape {shape_text!r} is not a comma-separated list of ints") from None
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


def tensor_from_json(body: bytes) -> np.ndarray:
    """The lecture's ``{"input": nested list}`` as float32 (``np.array(..., dtype=np.float32)``)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise RequestError(f"the body is not valid JSON: {error}") from None
    if not isinstance(payload, dict) or "input" not in payload:
        raise RequestError('the JSON body must be an object {"input": [[[[...]]]]}', 422)
    try:
        return np.array(payload["input"], dtype=np.float32)
    except (ValueError, TypeError, RecursionError) as error:
        raise RequestError(f'"input" is not a rectangular list of numbers: {error}', 422) from None


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


# --- the application ---------------------------------------------------------------------------


class BodyLimit:
    """ASGI middleware: reads the request body, answering 413 as soon as it passes the limit.

    The limit is enforced on the bytes as they arrive (and on ``Content-Length`` before any),
    before a parser sees them, for every content type, multipart included.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
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

        async def replay():
            nonlocal replayed
            if replayed:  # the body was delivered: wait for the disconnect as the server would
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, send, size: int) -> None:
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


def create_app(
    model_path: str | Path,
    device: str = "cpu",
    threads: int | None = None,
    max_body_mb: float = DEFAULT_MAX_BODY_MB,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> "FastAPI":
    """The FastAPI app serving ``model_path``; :class:`IntegrityError` on a tampered model."""
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    import mllab

    model = Model(model_path, device=parse_device(device), threads=threads)
    app = FastAPI(title="mllab inference server", version=mllab.__version__)
    app.state.model = model
    max_body_bytes = int(max_body_mb * 1024 * 1024)
    common = {"sha256": model.sha256, "provider": model.provider}

    def error(status: int, message: str, detail: Any = None) -> JSONResponse:
        return JSONResponse({"error": message, "detail": detail}, status_code=status)

    @app.exception_handler(InputError)
    async def _input_error(request, exc: InputError):
        return error(getattr(exc, "status", 400), str(exc), getattr(exc, "detail", None))

    @app.exception_handler(HTTPException)
    async def _http_error(request, exc: HTTPException):
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc: RequestValidationError):
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        return error(422, "invalid request: " + "; ".join(problems), jsonable(exc.errors()))

    @app.exception_handler(Exception)
    async def _internal_error(request, exc: Exception):
        # Only a bug lands here: client errors are InputError. Keep the JSON shape anyway.
        return error(500, f"internal error: {type(exc).__name__}: {exc}")

    @app.get("/health")
    async def health() -> dict:
        """Liveness: the process answers (it does not touch the model)."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready():
        """Readiness: the model passed its sha256 check, loaded, and ran once."""
        if not getattr(model, "ready", False):
            return error(503, "the model is not loaded yet")
        return {"ready": True, **common}

    @app.get("/metadata")
    async def metadata() -> dict:
        """Model, input/output, provider, threads, limits and versions."""
        return {
            "model": model.metadata(),
            "provider": model.provider,
            "providers": model.session.get_providers(),
            "threads": model.threads,
            "limits": {"max_body_mb": max_body_mb, "max_batch": max_batch},
            "content_types": list(SUPPORTED_TYPES),
            "versions": versions(),
        }

    def predict_tensor(x: np.ndarray, accept: str) -> Response:
        x = check_batch(x, model.sample_shape, max_batch)
        logits, latency = model.run(x)
        if NPY in accept:  # binary answer: no float-to-text cost on either side
            headers = {
                "X-Latency-Ms": f"{latency:.4f}",
                "X-Model-Sha256": model.sha256,
                "X-Provider": model.provider,
            }
            return Response(npy_bytes(logits), media_type=NPY, headers=headers)
        body = {"output": logits.tolist(), "shape": list(logits.shape), "latency_ms": latency}
        return JSONResponse({**body, **common})

    def predict_image(data: bytes, k: int) -> Response:
        from mllab.model.preprocess import preprocess, top_k

        start = time.perf_counter()
        try:
            x = preprocess(data)[None]
        except InputError as error:  # the details (Pillow's words) go in "detail"
            raise RequestError(
                f"the body is not a readable JPEG or PNG image ({len(data)} bytes)",
                400,
                str(error),
            ) from None
        preprocess_ms = (time.perf_counter() - start) * 1000.0
        logits, latency = model.run(check_batch(x, model.sample_shape, max_batch))
        best = [{"label": name, "score": score} for name, score in top_k(logits, k)[0]]
        body = {"top_k": best, "k": k, "latency_ms": latency, "preprocess_ms": preprocess_ms}
        return JSONResponse({**body, **common})

    @app.post("/predict", openapi_extra={"requestBody": _openapi_body()})
    async def predict(
        request: Request,
        k: int = Query(5, ge=1, le=1000, description="classes to return for an image"),
        shape: str | None = Query(None, description="shape of a raw float32 body: 1,3,224,224"),
    ) -> Response:
        """Logits for a tensor (``.npy``, raw float32, JSON list) or top-k for an image."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if not body:
            raise RequestError("the request body is empty: send an image, .npy or JSON")
        accept = request.headers.get("accept", "")
        if kind == "multipart/form-data":
            data = await _uploaded_file(request)
            return await run_in_threadpool(predict_image, data, k)
        if kind in IMAGE_TYPES:
            return await run_in_threadpool(predict_image, body, k)
        if kind == NPY:
            return await run_in_threadpool(lambda: predict_tensor(tensor_from_npy(body), accept))
        if kind == "application/octet-stream":
            dims = request.headers.get("x-shape") or shape
            return await run_in_threadpool(
                lambda: predict_tensor(tensor_from_raw(body, dims), accept)
            )
        if kind == "application/json":
            return await run_in_threadpool(lambda: predict_tensor(tensor_from_json(body), accept))
        raise RequestError(
            f"Content-Type {kind or '(none)'!r} is not supported; send one of "
            + ", ".join(SUPPORTED_TYPES),
            415,
        )

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app


async def _uploaded_file(request) -> bytes:
    """The bytes of the one file in a multipart form (field ``file``, or the only file)."""
    form = await request.form(max_files=1, max_fields=10)
    files = [value for value in form.values() if hasattr(value, "read")]
    if not files:
        raise RequestError("the multipart form has no file: send the image as the field 'file'")
    data = await files[0].read()
    if not data:
        raise RequestError("the uploaded file is empty")
    return data


def _openapi_body() -> dict:
    """The request body of ``POST /predict`` for the OpenAPI schema (parsed by hand)."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            **{kind: binary for kind in (*IMAGE_TYPES, NPY, "application/octet-stream")},
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"input": {"type": "array", "items": {}}},
                    "required": ["input"],
                }
            },
        },
    }


def jsonable(value: Any) -> Any:
    """``value`` with anything JSON cannot hold turned into text (validation error details)."""
    return json.loads(json.dumps(value, default=str))


def versions() -> dict[str, str]:
    """Versions of the runtime stack the answers depend on (part of E)."""
    from importlib import metadata

    found = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("onnxruntime", "onnxruntime-gpu", "fastapi", "uvicorn", "pillow", "mllab"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    import onnxruntime

    found["onnxruntime"] = onnxruntime.__version__
    return found


# --- running it --------------------------------------------------------------------------------


def serve(
    model: str | Path,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    device: str = "cpu",
    threads: int | None = None,
    max_body_mb: float = DEFAULT_MAX_BODY_MB,
    max_batch: int = DEFAULT_MAX_BATCH,
    log_level: str = "info",
) -> None:
    """Check and load ``model``, then serve it with uvicorn until interrupted (SIGINT/SIGTERM)."""
    import uvicorn

    app = create_app(model, device, threads, max_body_mb, max_batch)
    loaded = app.state.model
    print(
        f"mllab.serve.app: {loaded.path} sha256 {loaded.sha256[:12]}… on {loaded.provider} "
        f"({loaded.threads} threads), listening on http://{host}:{port}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def serve_config(config: ServerConfig) -> None:
    """:func:`serve` with a :class:`ServerConfig`."""
    serve(
        config.model_path,
        config.port,
        config.host,
        config.device,
        config.threads,
        config.max_body_mb,
        config.max_batch,
        config.log_level,
    )


def main() -> int:
    """``python -m mllab.serve.app``: the container's CMD, configured by ENV alone."""
    try:
        serve_config(ServerConfig.from_env())
    except MllabError as error:  # one clear line, no traceback wall, non-zero exit
        print(f"mllab.serve.app: error: {error}", file=sys.stderr)
        return 2
    return 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    """``mllab serve``: flags override the ENV of :meth:`ServerConfig.from_env`."""
    parser = sub.add_parser(
        "serve",
        help="serve an ONNX model over HTTP (FastAPI + uvicorn)",
        description="Serve an ONNX model: POST /predict (image, .npy, raw float32, JSON), "
        "GET /health, /ready, /metadata. Flags override the ENV (MODEL_PATH, PORT, ...).",
    )
    parser.add_argument("--model", type=Path, help="ONNX model (default: the cached ResNet-50)")
    parser.add_argument("--port", type=int, help=f"port (default: PORT or {DEFAULT_PORT})")
    parser.add_argument("--host", help=f"address (default: HOST or {DEFAULT_HOST})")
    parser.add_argument("--device", choices=DEVICES, help="execution provider (default: cpu)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: CPU quota)")
    parser.add_argument("--max-body-mb", type=float, help="request body limit in MB")
    parser.add_argument("--max-batch", type=int, help="largest batch N accepted")
    parser.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    config = ServerConfig.from_env()
    if args.model is not None:
        config.model_path = args.model
    elif not os.environ.get("MODEL_PATH"):
        from mllab.model.export import default_model  # host only: the container always sets a path

        config.model_path = default_model()
    for name in ("port", "host", "device", "threads", "max_body_mb", "max_batch"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    if config.threads is not None and config.threads < 1:
        raise MllabError(f"--threads must be at least 1, not {config.threads}")
    if not 1 <= config.port <= 65535:
        raise MllabError(f"--port must be between 1 and 65535, not {config.port}")
    serve_config(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
