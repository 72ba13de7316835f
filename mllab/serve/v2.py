"""The Open Inference Protocol (KServe v2 / Triton REST) beside ``/predict``.

Routes (``[/versions/1]`` optional where the protocol allows it)::

    GET  /v2                                  server metadata (name, version, extensions)
    GET  /v2/health/live                      the process answers
    GET  /v2/health/ready                     the model answers (the server's readiness)
    GET  /v2/models/{name}[/versions/1]       model metadata: inputs/outputs, FP32, -1 = batch
    GET  /v2/models/{name}[/versions/1]/ready
    POST /v2/models/{name}[/versions/1]/infer JSON tensors or the binary tensor data extension

The model's name comes from ``MODEL_NAME`` (default ``resnet50``). Inference goes through the
same :class:`~mllab.serve.model.Model` as ``/predict`` (``Model.run``), so the server's dynamic
batching and admission control apply to both. Errors answer the protocol's error object
``{"error": "..."}`` with a 4xx status (404 for an unknown model or version).

This module does not use ``from __future__ import annotations``: FastAPI reads the endpoints'
annotations at runtime.
"""

import inspect
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

import mllab
from mllab.core.errors import InputError
from mllab.serve.bodies import check_batch
from mllab.serve.limits import Limits, check_shape
from mllab.serve.model import Model
from mllab.serve.v2_binary import (
    DEFAULT_MODEL_NAME,
    HEADER_LENGTH,
    datatype_of,
    dims,
    encode_response,
    parse_request,
    to_batch,
)

#: the one version served (the protocol's versions are strings)
VERSION = "1"
#: what ``GET /v2`` lists: the extensions this server implements
EXTENSIONS = ["binary_tensor_data"]
#: ``onnxruntime_onnx``: Triton's platform name for an ONNX model run by ONNX Runtime
PLATFORM = "onnxruntime_onnx"


def model_name_from_env(env: dict[str, str] | None = None) -> str:
    """``MODEL_NAME`` from the environment, or :data:`DEFAULT_MODEL_NAME`."""
    value = (os.environ if env is None else env).get("MODEL_NAME", "").strip()
    return value or DEFAULT_MODEL_NAME


def v2_error(status: int, message: str) -> JSONResponse:
    """The protocol's error object."""
    return JSONResponse({"error": message}, status_code=status)


def model_metadata(model: Model, name: str) -> dict[str, Any]:
    """``GET /v2/models/{name}``: inputs and outputs with the protocol's datatypes, -1 for the
    dynamic batch dimension."""
    inputs, outputs = model.session.get_inputs(), model.session.get_outputs()
    return {
        "name": name,
        "versions": [VERSION],
        "platform": PLATFORM,
        "inputs": [_tensor_meta(t) for t in inputs],
        "outputs": [_tensor_meta(t) for t in outputs],
    }


def v2_router(
    model: Model,
    max_batch: int,
    name: str | None = None,
    load_json: Callable[[bytes], Any] | None = None,
) -> APIRouter:
    """The v2 routes serving ``model`` under ``name`` (default: :func:`model_name_from_env`).

    ``load_json`` parses the JSON header (the server's bounded parser; None: ``json.loads``).
    """
    name = name or model_name_from_env()
    router = APIRouter(prefix="/v2", tags=["Open Inference Protocol v2"])

    def unknown(model_name: str, version: str | None) -> JSONResponse | None:
        if model_name != name:
            return v2_error(404, f"unknown model {model_name!r}: this server serves {name!r}")
        if version is not None and version != VERSION:
            return v2_error(404, f"unknown version {version!r} of {name!r}: it has {VERSION!r}")
        return None

    @router.get("")
    async def server_metadata() -> dict[str, Any]:
        """Server metadata: name, version and the protocol extensions implemented."""
        return {"name": "mllab", "version": mllab.__version__, "extensions": EXTENSIONS}

    @router.get("/health/live")
    async def live() -> dict[str, Any]:
        """Liveness: the process answers."""
        return {"live": True}

    # response_model=None on the routes below: a dict or an error response, not one model
    @router.get("/health/ready", response_model=None)
    async def ready(request: Request) -> dict[str, Any] | JSONResponse:
        """Readiness: the warm-up ran and the session still answers."""
        if not await _is_ready(request, model):
            return v2_error(503, f"not ready: {_why(request)}")
        return {"ready": True}

    @router.get("/models/{model_name}", response_model=None)
    @router.get("/models/{model_name}/versions/{version}", response_model=None)
    async def metadata(
        model_name: str, version: str | None = None
    ) -> dict[str, Any] | JSONResponse:
        """Model metadata."""
        return unknown(model_name, version) or model_metadata(model, name)

    @router.get("/models/{model_name}/ready", response_model=None)
    @router.get("/models/{model_name}/versions/{version}/ready", response_model=None)
    async def model_ready(
        request: Request, model_name: str, version: str | None = None
    ) -> dict[str, Any] | JSONResponse:
        """Model readiness (200 ready, 4xx otherwise, as the protocol says)."""
        if (answer := unknown(model_name, version)) is not None:
            return answer
        if not await _is_ready(request, model):
            return v2_error(400, f"model {name!r} is not ready: {_why(request)}")
        return {"name": name, "ready": True}

    def infer_body(body: bytes, header_length: str | None, limits: Limits | None) -> Response:
        request = parse_request(body, header_length, load_json)
        if limits is not None:  # MAX_TENSOR_MB on the declared shape, before any array is made
            for tensor in request.inputs:
                check_shape(tensor.shape, np.float32, limits)
        if len(request.inputs) != 1 or request.inputs[0].name != model.input_name:
            given = [tensor.name for tensor in request.inputs]
            raise InputError(f"the model takes one input named {model.input_name!r}, not {given}")
        extra = set(request.outputs or ()) - {model.output_name}
        if extra:
            raise InputError(
                f"unknown output {sorted(extra)}: the model gives {model.output_name!r}"
            )
        x = to_batch(request.inputs[0], model.sample_shape, max_batch)
        # through Model.run, as /predict: dynamic batching applies to v2 requests too
        logits, _ = model.run(check_batch(x, model.sample_shape, max_batch))
        content, length = encode_response(name, request, {model.output_name: np.asarray(logits)})
        if length is None:
            return Response(content, media_type="application/json")
        headers = {HEADER_LENGTH: str(length)}
        return Response(content, media_type="application/octet-stream", headers=headers)

    @router.post("/models/{model_name}/infer")
    @router.post("/models/{model_name}/versions/{version}/infer")
    async def infer(request: Request, model_name: str, version: str | None = None) -> Response:
        """Inference with JSON tensors or the binary tensor data extension."""
        if (answer := unknown(model_name, version)) is not None:
            return answer
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            return v2_error(415, f"Content-Encoding {encoding!r} is not supported: send identity")
        body = await request.body()
        try:
            length = request.headers.get(HEADER_LENGTH)
            limits = getattr(request.app.state, "limits", None)
            return await run_in_threadpool(infer_body, body, length, limits)
        except InputError as error:
            return v2_error(_status(error), str(error))

    return router


def _tensor_meta(tensor: Any) -> dict[str, Any]:
    return {"name": tensor.name, "datatype": datatype_of(tensor.type), "shape": dims(tensor.shape)}


def _status(error: InputError) -> int:
    """A client error's status: the one it carries when it is a 4xx, else 400."""
    status = getattr(error, "status", 400)
    return status if isinstance(status, int) and 400 <= status < 500 else 400


async def _is_ready(request: Request, model: Model) -> bool:
    """The server's readiness check when it has one (``app.state.readiness``), else the
    model's warm-up flag."""
    readiness = getattr(request.app.state, "readiness", None)
    if readiness is None:
        return bool(getattr(model, "ready", False))
    answer = readiness.ready()
    if inspect.isawaitable(answer):
        answer = await answer
    return bool(answer)


def _why(request: Request) -> str:
    """What the server's readiness check says is wrong."""
    return getattr(getattr(request.app.state, "readiness", None), "why", "the model is not loaded")
