"""The Open Inference Protocol's gRPC service beside REST: ``GRPC_PORT=8081`` turns it on.

The lecture ends its CMD/ENTRYPOINT section with "gRPC services or a REST API with monitoring";
KServe and Triton speak the protocol's gRPC service ``inference.GRPCInferenceService``, and so
does this server: ``ServerLive``, ``ServerReady``, ``ModelReady``, ``ServerMetadata``,
``ModelMetadata`` and ``ModelInfer`` (raw tensors in ``raw_input_contents``, as tritonclient
sends them, or ``contents.fp32_contents``; the answer in ``raw_output_contents``). The other
methods of Triton's superset answer ``UNIMPLEMENTED``.

Beside REST, not a second server: it runs in uvicorn's event loop (started and stopped by
:class:`mllab.serve.app.DrainingServer`) on the app's own objects, so it serves the same
:class:`~mllab.serve.model.Model` (its batcher, its metrics), the same admission control
(``MAX_IN_FLIGHT`` counts REST and gRPC requests together; beyond it, or while draining,
``ModelInfer`` answers ``UNAVAILABLE`` at once; a call its client cancelled, or whose deadline
passed, before its inference started is dropped and counted as a REST request whose client
left: :mod:`mllab.serve.disconnect`), the same readiness and metrics (inference,
refusals, and ``mllab_grpc_requests_total{method, code}``), the same limits
(``MAX_BODY_MB`` is gRPC's largest message, ``MAX_TENSOR_MB`` and ``MAX_BATCH`` are checked
from the declared shape before any array is made). Client errors answer ``INVALID_ARGUMENT``
(``NOT_FOUND`` for another model or version), a bug ``INTERNAL`` with an error id only.

The messages are those tritonclient generates from Triton's ``grpc_service.proto`` (package
``inference``: a superset of KServe's ``grpc_predict_v2.proto`` with the same field numbers),
so ``grpcio`` and ``tritonclient[grpc]`` must be installed: they are imported only when
``GRPC_PORT`` is set (the slim image has neither).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

import mllab
from mllab.core.errors import InputError, MllabError
from mllab.serve.admission import InFlight, Readiness
from mllab.serve.bodies import check_batch
from mllab.serve.disconnect import CLIENT_GONE
from mllab.serve.limits import Limits, check_shape
from mllab.serve.metrics import Metrics
from mllab.serve.model import Model
from mllab.serve.v2 import VERSION, model_metadata
from mllab.serve.v2_binary import FP32, InferInput, to_batch

log = logging.getLogger("mllab.serve")

#: the service's full name, in KServe's proto and in Triton's
SERVICE = "inference.GRPCInferenceService"
#: what ``ServerMetadata`` lists (the binary tensor extension is REST's; gRPC is binary anyway)
EXTENSIONS: list[str] = []

Handler = Callable[[Any, Any], Awaitable[Any]]


def grpc_port_from_env(env: Mapping[str, str] | None = None) -> int | None:
    """``GRPC_PORT`` (1-65535), or None when it is unset, empty or 0: gRPC off."""
    text = (os.environ if env is None else env).get("GRPC_PORT", "").strip()
    if not text or text == "0":
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise MllabError(f"GRPC_PORT must be a port number (1-65535) or 0 (off), not {text!r}")
    return int(text)


def _modules() -> tuple[Any, Any]:
    """``grpc`` and the protocol's messages (``tritonclient.grpc.service_pb2``), or a clear error
    where they are not installed."""
    try:
        import grpc  # type: ignore[import-untyped]
        from tritonclient.grpc import service_pb2  # type: ignore[import-untyped]
    except (ImportError, RuntimeError) as error:  # tritonclient raises RuntimeError without grpc
        raise MllabError(
            f"GRPC_PORT is set but gRPC is not installed here ({error}): install grpcio and "
            "tritonclient[grpc], or unset GRPC_PORT"
        ) from None
    return grpc, service_pb2


class GrpcService:
    """The protocol's gRPC methods on a served model, its admission state and limits."""

    def __init__(
        self,
        model: Model,
        name: str,
        in_flight: InFlight,
        readiness: Readiness,
        limits: Limits,
        metrics: Metrics | None = None,
    ):
        self.grpc, self.pb = _modules()
        self.model, self.name = model, name
        self.in_flight, self.readiness, self.limits = in_flight, readiness, limits
        self.metrics = metrics  # the app's (None: prometheus-client is not installed)

    def handler(self) -> Any:
        """The generic handler of :data:`SERVICE` (no generated servicer class is needed)."""
        pb, grpc = self.pb, self.grpc
        methods: dict[str, tuple[Handler, Any]] = {
            "ServerLive": (self.server_live, pb.ServerLiveRequest),
            "ServerReady": (self.server_ready, pb.ServerReadyRequest),
            "ModelReady": (self.model_ready, pb.ModelReadyRequest),
            "ServerMetadata": (self.server_metadata, pb.ServerMetadataRequest),
            "ModelMetadata": (self.model_metadata, pb.ModelMetadataRequest),
            "ModelInfer": (self.model_infer, pb.ModelInferRequest),
        }
        handlers = {
            method: grpc.unary_unary_rpc_method_handler(
                self._metered(method, behaviour),
                request_deserializer=request.FromString,
                response_serializer=_serialize,
            )
            for method, (behaviour, request) in methods.items()
        }
        return grpc.method_handlers_generic_handler(SERVICE, handlers)

    def _metered(self, method: str, behaviour: Handler) -> Handler:
        """``behaviour`` counted and timed in the app's metrics (as is, without them)."""
        if self.metrics is None:
            return behaviour
        metrics = self.metrics

        async def metered(request: Any, context: Any) -> Any:
            start, code = time.perf_counter(), "OK"
            try:
                return await behaviour(request, context)
            except BaseException:  # an abort: the status it set, else a bug
                status = context.code()
                code = getattr(status, "name", "UNKNOWN")
                raise
            finally:
                metrics.grpc_requests.labels(method, code).inc()
                metrics.grpc_duration.labels(method).observe(time.perf_counter() - start)

        return metered

    async def server_live(self, request: Any, context: Any) -> Any:
        """The process answers."""
        return self.pb.ServerLiveResponse(live=True)

    async def server_ready(self, request: Any, context: Any) -> Any:
        """The server's readiness (warmed up, not draining, the session answers)."""
        return self.pb.ServerReadyResponse(ready=await self.readiness.ready())

    async def model_ready(self, request: Any, context: Any) -> Any:
        """The model's readiness; ``NOT_FOUND`` for another model or version."""
        await self._known(request.name, request.version, context)
        return self.pb.ModelReadyResponse(ready=await self.readiness.ready())

    async def server_metadata(self, request: Any, context: Any) -> Any:
        """Name, version, extensions."""
        return self.pb.ServerMetadataResponse(
            name="mllab", version=mllab.__version__, extensions=EXTENSIONS
        )

    async def model_metadata(self, request: Any, context: Any) -> Any:
        """Inputs and outputs with the protocol's datatypes, -1 for the batch dimension."""
        await self._known(request.name, request.version, context)
        meta = model_metadata(self.model, self.name)
        tensor = self.pb.ModelMetadataResponse.TensorMetadata
        return self.pb.ModelMetadataResponse(
            name=meta["name"],
            versions=meta["versions"],
            platform=meta["platform"],
            inputs=[tensor(**t) for t in meta["inputs"]],
            outputs=[tensor(**t) for t in meta["outputs"]],
        )

    async def model_infer(self, request: Any, context: Any) -> Any:
        """One inference, admitted as a REST ``POST`` is: ``UNAVAILABLE`` beyond ``MAX_IN_FLIGHT``
        or while draining, before the tensor is looked at."""
        await self._known(request.model_name, request.model_version, context)
        state = self.in_flight
        if state.draining or state.now >= state.limit:
            state.refused += 1
            why = (
                "shutting down"
                if state.draining
                else f"busy: {state.limit} requests in flight (MAX_IN_FLIGHT)"
            )
            await context.abort(
                self.grpc.StatusCode.UNAVAILABLE,
                f"the server is {why}; retry after {state.retry_after_s} s",
            )
        # No await between the check and the increment: one event loop, as Admission's.
        state.now += 1
        state.peak = max(state.peak, state.now)
        # the client's cancel or deadline cancels this handler; the thread then drops the
        # request before session.run (mllab.serve.disconnect), if it has not started it yet
        gone = threading.Event()
        token = CLIENT_GONE.set(gone)  # copied into the thread pool's context
        try:
            response = await run_in_threadpool(self._infer, request)
        except asyncio.CancelledError:
            gone.set()
            state.disconnected += 1
            raise
        except InputError as error:
            await context.abort(self.grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except Exception as error:
            error_id = uuid.uuid4().hex[:12]
            log.error("internal error %s in gRPC ModelInfer", error_id, exc_info=error)
            await context.abort(
                self.grpc.StatusCode.INTERNAL,
                f"internal error (id {error_id}): the server's log has the details",
            )
        finally:
            CLIENT_GONE.reset(token)
            state.now -= 1
        state.last_success = time.monotonic()
        return response

    def _infer(self, request: Any) -> Any:
        """The checked batch of ``request``, run through ``Model.run`` (batching, metrics)."""
        model = self.model
        if len(request.inputs) != 1 or request.inputs[0].name != model.input_name:
            given = [tensor.name for tensor in request.inputs]
            raise InputError(f"the model takes one input named {model.input_name!r}, not {given}")
        extra = {output.name for output in request.outputs} - {model.output_name}
        if extra:
            raise InputError(
                f"unknown output {sorted(extra)}: the model gives {model.output_name!r}"
            )
        tensor = request.inputs[0]
        shape = [int(d) for d in tensor.shape]
        if tensor.datatype != FP32:
            raise InputError(f"input {tensor.name!r} has datatype {tensor.datatype}; send {FP32}")
        check_shape(shape, np.float32, self.limits)  # MAX_TENSOR_MB before any array is made
        if request.raw_input_contents:
            if len(request.raw_input_contents) != 1:
                raise InputError("send one raw_input_contents entry: the model takes one input")
            received = InferInput(tensor.name, shape, FP32, binary=request.raw_input_contents[0])
        else:
            values = tensor.contents.fp32_contents
            if len(values) != math.prod(shape):
                raise InputError(
                    f"input {tensor.name!r} carries {len(values)} fp32_contents but shape "
                    f"{shape} takes {math.prod(shape)}"
                )
            received = InferInput(
                tensor.name, shape, FP32, binary=np.asarray(values, "<f4").tobytes()
            )
        x = to_batch(received, model.sample_shape, self.limits.max_batch)
        logits, _ = model.run(check_batch(x, model.sample_shape, self.limits.max_batch))
        logits = np.asarray(logits, dtype="<f4")
        output = self.pb.ModelInferResponse.InferOutputTensor(
            name=model.output_name, datatype=FP32, shape=list(logits.shape)
        )
        return self.pb.ModelInferResponse(
            model_name=self.name,
            model_version=VERSION,
            id=request.id,
            outputs=[output],
            raw_output_contents=[logits.tobytes()],
        )

    async def _known(self, name: str, version: str, context: Any) -> None:
        """``NOT_FOUND`` unless ``name`` is this model and ``version`` empty or :data:`VERSION`."""
        if name != self.name:
            await context.abort(
                self.grpc.StatusCode.NOT_FOUND,
                f"unknown model {name!r}: this server serves {self.name!r}",
            )
        if version not in ("", VERSION):
            await context.abort(
                self.grpc.StatusCode.NOT_FOUND,
                f"unknown version {version!r} of {self.name!r}: it has {VERSION!r}",
            )


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


class GrpcServer:
    """A ``grpc.aio`` server of :class:`GrpcService` on ``host:port``, in the running loop."""

    def __init__(self, service: GrpcService, port: int, host: str = "0.0.0.0"):
        self.service = service
        self.address = f"{host}:{port}"
        max_bytes = int(service.limits.max_body_mb * 1024 * 1024)  # MAX_BODY_MB, as for REST
        self._options = [
            ("grpc.max_receive_message_length", max_bytes),
            ("grpc.max_send_message_length", max_bytes),
        ]
        self._server: Any = None
        self.port = port

    async def start(self) -> None:
        """Listen and serve (in the event loop that calls it)."""
        grpc = self.service.grpc
        self._server = grpc.aio.server(options=self._options)
        self._server.add_generic_rpc_handlers((self.service.handler(),))
        self.port = int(self._server.add_insecure_port(self.address))
        if self.port == 0:
            raise MllabError(f"gRPC cannot listen on {self.address}")
        await self._server.start()

    async def stop(self, grace_s: float | None) -> None:
        """Refuse new calls, wait up to ``grace_s`` for those in flight, close."""
        if self._server is not None:
            await self._server.stop(grace_s)
            self._server = None


def grpc_server(app: Any, name: str, port: int, host: str = "0.0.0.0") -> GrpcServer:
    """The gRPC server beside ``app`` (a :func:`mllab.serve.api.create_app` app): its model,
    admission state, readiness and limits."""
    state = app.state
    metrics = getattr(state, "metrics", None)
    service = GrpcService(
        state.model, name, state.in_flight, state.readiness, state.limits, metrics
    )
    return GrpcServer(service, port, host)
