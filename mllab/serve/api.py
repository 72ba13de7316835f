"""The FastAPI application: the routes of the inference server and how errors are answered.

``POST /predict`` takes three body kinds (an image upload, a binary float32 tensor as ``.npy``
or raw bytes with ``X-Shape``, the lecture's JSON list); every answer carries ``latency_ms``
(time in ``session.run``), the model's ``sha256`` and the provider ONNX Runtime really used.
``GET /health`` (the process answers), ``/ready`` (warmed up, not draining, and the session
still answers: :class:`mllab.serve.admission.Readiness`), ``/metadata`` (model,
input/output, opsets, provider, threads, limits, versions) and ``/metrics`` (Prometheus:
:mod:`mllab.serve.metrics`). Every size a request declares is
checked by :mod:`mllab.serve.limits` before it is allocated; at most ``MAX_IN_FLIGHT``
inference requests run at a time (:class:`mllab.serve.admission.Admission`). Client errors
answer 4xx JSON ``{"error": ..., "detail": ...}``; a bug answers 500 with an error id only, its
traceback goes to the server's log.

FastAPI is imported at the top (it is in the slim image); ``mllab --help`` stays instant
because ``mllab.cli.serve`` imports this module only when the server starts. This module does
not use ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at
runtime.
"""

import contextlib
import importlib.metadata
import json
import logging
import platform
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

import mllab
from mllab.core.errors import InputError
from mllab.model.preprocess import preprocess, top_k
from mllab.serve.admission import Admission, InFlight, Readiness
from mllab.serve.bodies import (
    IMAGE_TYPES,
    NPY,
    SUPPORTED_TYPES,
    BodyLimit,
    RequestError,
    check_batch,
    npy_bytes,
    tensor_from_json,
    tensor_from_npy,
    tensor_from_raw,
)
from mllab.serve.config import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_MB,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_RETRY_AFTER_S,
    ServerConfig,
    parse_device,
)
from mllab.serve.disconnect import CLIENT_CLOSED_REQUEST, ClientGone, ClientWatch
from mllab.serve.limits import Limits, check_image, multipart_file, parse_json
from mllab.serve.metrics import RouteTemplates, model_info
from mllab.serve.metrics import install as install_metrics
from mllab.serve.model import Model
from mllab.serve.request_log import HEADER as REQUEST_ID
from mllab.serve.request_log import RequestLog, request_id_of
from mllab.serve.v2 import model_name_from_env, v2_router
from mllab.serve.version import UNVERSIONED, VersionHeader

log = logging.getLogger("mllab.serve")


def create_app(
    model_path: str | Path,
    device: str = "cpu",
    threads: int | None = None,
    max_body_mb: float = DEFAULT_MAX_BODY_MB,
    max_batch: int = DEFAULT_MAX_BATCH,
    *,
    limits: Limits | None = None,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    retry_after_s: int = DEFAULT_RETRY_AFTER_S,
    batch_max_size: int | None = None,
    batch_max_queue_delay_ms: float = 0.0,
    model_version: str = UNVERSIONED,
) -> FastAPI:
    """The FastAPI app serving ``model_path``; :class:`IntegrityError` on a tampered model.

    ``limits`` (default: the defaults with ``max_body_mb`` and ``max_batch``) bound what one
    request may allocate; ``max_in_flight`` inference requests run at a time. Every answer
    carries ``X-Model-Version: model_version`` (the build that served it).
    """
    limits = limits or Limits(max_body_mb=max_body_mb, max_batch=max_batch)
    max_body_mb, max_batch = limits.max_body_mb, limits.max_batch
    loading = time.perf_counter()
    model = Model(
        model_path, parse_device(device), threads, batch_max_size, batch_max_queue_delay_ms
    )
    load_seconds = time.perf_counter() - loading
    in_flight = InFlight(limit=max_in_flight, retry_after_s=retry_after_s)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        # uvicorn has drained the requests in flight: run what the batcher still holds, stop it
        in_flight.draining = True
        await run_in_threadpool(model.close)

    app = FastAPI(title="mllab inference server", version=mllab.__version__, lifespan=lifespan)
    readiness = Readiness(model, in_flight)
    app.state.model, app.state.limits = model, limits
    app.state.in_flight, app.state.readiness = in_flight, readiness
    common = {"sha256": model.sha256, "provider": model.provider}
    _add_error_handlers(app)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness: the process answers (it does not touch the model)."""
        return {"status": "ok"}

    # response_model=None: the answer is either a dict or an error response, as FastAPI sees it
    @app.get("/ready", response_model=None)
    async def ready() -> dict[str, Any] | JSONResponse:
        """Readiness: warmed up, not draining, and the session answers (a probe, rate-limited)."""
        if not await readiness.ready():
            return _error(503, f"not ready: {readiness.why}")
        return {"ready": True, **common}

    @app.get("/metadata")
    async def metadata() -> dict[str, Any]:
        """Model, input/output, provider, threads, limits and versions."""
        return {
            "model": model.metadata(),
            "provider": model.provider,
            "providers": model.session.get_providers(),
            "threads": model.threads,
            "limits": limits.as_dict(),
            "admission": in_flight.as_dict(),
            "batching": model.batching,  # None when off; settings and counters when on
            "content_types": list(SUPPORTED_TYPES),
            "versions": versions(),
            "model_version": model_version,
        }

    def predict_tensor(x: np.ndarray, accept: str) -> Response:
        logits, latency = model.run(check_batch(x, model.sample_shape, max_batch))
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
        start = time.perf_counter()
        check_image(data, limits)  # the header's size and the resize target, before decoding
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
        if kind == "multipart/form-data":  # parsed in memory: no temporary file
            data = multipart_file(body, request.headers["content-type"], limits)
            return await run_in_threadpool(predict_image, data, k)
        if kind in IMAGE_TYPES:
            return await run_in_threadpool(predict_image, body, k)
        if kind == NPY:
            return await run_in_threadpool(
                lambda: predict_tensor(tensor_from_npy(body, limits), accept)
            )
        if kind == "application/octet-stream":
            dims = request.headers.get("x-shape") or shape
            return await run_in_threadpool(
                lambda: predict_tensor(tensor_from_raw(body, dims, limits), accept)
            )
        if kind == "application/json":
            return await run_in_threadpool(
                lambda: predict_tensor(tensor_from_json(body, limits), accept)
            )
        raise RequestError(
            f"Content-Type {kind or '(none)'!r} is not supported; send one of "
            + ", ".join(SUPPORTED_TYPES),
            415,
        )

    app.include_router(v2_router(model, max_batch, load_json=lambda b: parse_json(b, limits)))
    # innermost: a request whose client leaves is dropped before inference (the body is read)
    app.add_middleware(ClientWatch, state=in_flight)
    app.add_middleware(BodyLimit, max_bytes=int(max_body_mb * 1024 * 1024))
    app.add_middleware(Admission, state=in_flight)  # added last: outermost, before the body
    app.add_middleware(VersionHeader, version=model_version)  # on refusals (503) too
    # GET /metrics and its middleware, outermost: it counts the refusals (503) too
    info = model_info(model, model_name_from_env(), model_version)
    app.state.metrics = install_metrics(app, model, in_flight, info, load_seconds)
    # outermost of all: an id and a JSON log line for every request, refusals included
    app.add_middleware(RequestLog, version=model_version, route=RouteTemplates(app))
    return app


def create_app_from_config(config: ServerConfig) -> FastAPI:
    """:func:`create_app` with everything a :class:`ServerConfig` sets."""
    return create_app(
        config.model_path,
        config.device,
        config.threads,
        limits=config.limits(),
        max_in_flight=config.max_in_flight,
        retry_after_s=config.retry_after_s,
        batch_max_size=config.batch_max_size,
        batch_max_queue_delay_ms=config.batch_max_queue_delay_ms,
        model_version=config.model_version,
    )


def _error(status: int, message: str, detail: Any = None) -> JSONResponse:
    """The one shape of every error answer: ``{"error": ..., "detail": ...}``."""
    return JSONResponse({"error": message, "detail": detail}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    """Client errors answer 4xx with their message; only a bug answers 500, in the same shape."""

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        return _error(getattr(exc, "status", 400), str(exc), getattr(exc, "detail", None))

    @app.exception_handler(ClientGone)
    async def _client_gone(request: Request, exc: ClientGone) -> JSONResponse:
        # nobody reads it: the status is for the log line and the metrics
        return _error(CLIENT_CLOSED_REQUEST, str(exc))

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        return _error(422, "invalid request: " + "; ".join(problems), jsonable(exc.errors()))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Only a bug lands here: client errors are InputError. The client gets an id to quote,
        # never the exception's text (it may describe the server's internals).
        error_id = uuid.uuid4().hex[:12]
        rid = request_id_of(request.scope)  # this answer is sent outside RequestLog: echo here
        log.error(
            "internal error %s on %s %s (request %s)",
            error_id,
            request.method,
            request.url.path,
            rid,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        answer = _error(
            500,
            f"internal error (id {error_id}): the server's log has the details",
            {"id": error_id},
        )
        if rid is not None:
            answer.headers[REQUEST_ID.decode()] = rid
        return answer


def _openapi_body() -> dict[str, Any]:
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
    found = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("onnxruntime", "onnxruntime-gpu", "fastapi", "uvicorn", "pillow", "mllab"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    found["onnxruntime"] = onnxruntime.__version__
    return found
