"""``GET /metrics``: what the running server did, in Prometheus's text format.

The lecture's monitoring section asks what a running service costs; a load generator sees only
its own side. The server exports (one registry per app, so two apps in one process never mix):

HTTP, every request (:class:`HttpMetrics`, the outermost middleware: 503 refusals count too)
  ``mllab_http_requests_total{method, route, code}``; ``mllab_http_request_duration_seconds
  {method, route}`` (histogram: the server-side total, from the request's arrival to its last
  byte sent); ``mllab_http_requests_in_flight``. ``route`` is the route's template
  (``/v2/models/{model_name}/infer``), ``<unmatched>`` for any other path, and ``method`` one of
  the HTTP methods or ``OTHER``, so a client cannot create series at will.
gRPC, every call of the protocol's service (:mod:`mllab.serve.grpc_server`, when ``GRPC_PORT``)
  ``mllab_grpc_requests_total{method, code}`` (``ModelInfer``, ``OK``/``UNAVAILABLE``/...) and
  ``mllab_grpc_request_duration_seconds{method}``.
Inference, every request that reached the model (``/predict``, v2 ``infer``), as Triton names
them (``nv_inference_*``)
  ``mllab_inference_requests_total`` (answered) and ``mllab_inference_request_failures_total``;
  ``mllab_requests_dropped_total{reason}``: requests never run, ``client_disconnected`` when
  their client had gone once the session was free for them (:mod:`mllab.serve.disconnect`);
  ``mllab_inference_count_total`` (samples inferred) and ``mllab_inference_exec_count_total``
  (``session.run`` executions): count / exec_count is the mean batch size;
  ``mllab_inference_batch_rows`` (histogram of rows per execution);
  ``mllab_inference_queue_seconds`` (histogram: waited for the session or the batch, i.e. the
  request's time in the model minus its execution's ``session.run``) and
  ``mllab_inference_compute_seconds`` (histogram: ``session.run`` of the execution the request
  ran in, per request, as Triton's compute duration).
Admission (read from :class:`~mllab.serve.admission.InFlight` at scrape time)
  ``mllab_inference_requests_in_flight``, ``mllab_inference_max_in_flight``,
  ``mllab_admission_rejections_total`` (503 refusals: busy or draining), ``mllab_server_draining``.
Model
  ``mllab_model_info{name, model_version, sha256, provider, threads, batch_max_size}`` (1) and
  ``mllab_model_load_seconds`` (checking and loading the file, warm-up included), plus
  prometheus-client's ``process_*`` series (CPU seconds, resident memory).

``prometheus-client`` is a dependency of the package; an image built before its lock held it
still starts: :data:`AVAILABLE` is False and ``/metrics`` answers 404 with a JSON error saying so.

This module does not use ``from __future__ import annotations``: FastAPI reads the endpoint's
annotations at runtime.
"""

import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import numpy as np
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.routing import compile_path

from mllab.serve.admission import InFlight
from mllab.serve.batcher import Inference
from mllab.serve.bodies import Message, Receive, Scope, Send
from mllab.serve.disconnect import CLIENT_DISCONNECTED, ClientGone
from mllab.serve.model import Model
from mllab.serve.request_log import note_inference

try:  # the slim image lacks it until docker/requirements.lock is regenerated
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        Info,
        ProcessCollector,
        generate_latest,
    )
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError:
    AVAILABLE = False
    Collector = object  # type: ignore[misc,assignment]  # the base of a class never built
else:
    AVAILABLE = True

log = logging.getLogger("mllab.serve")

#: the ``route`` label of a path no route matches (bounded cardinality)
UNMATCHED = "<unmatched>"
#: the ``method`` label of any other method
OTHER = "OTHER"
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"})
#: seconds: a tiny model answers in 1 ms, ResNet-50 on 2 cores in 40 ms, a queue in seconds
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75,
    1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
#: rows of one ``session.run`` (the server's MAX_BATCH is at most a few dozen)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Metrics:
    """The server's metrics, in a registry of their own."""

    def __init__(self, in_flight: InFlight) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "mllab_http_requests",
            "HTTP requests answered, by method, route template and status code",
            ["method", "route", "code"],
            registry=r,
        )
        self.duration = Histogram(
            "mllab_http_request_duration_seconds",
            "server-side time from a request's arrival to its last byte sent",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_in_flight = Gauge(
            "mllab_http_requests_in_flight", "HTTP requests being handled now", registry=r
        )
        self.grpc_requests = Counter(
            "mllab_grpc_requests",
            "gRPC calls answered (GRPC_PORT), by method and status code",
            ["method", "code"],
            registry=r,
        )
        self.grpc_duration = Histogram(
            "mllab_grpc_request_duration_seconds",
            "server-side time of a gRPC call, from its request decoded to its answer",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inferences = Counter(
            "mllab_inference_requests", "inference requests the model answered", registry=r
        )
        self.failures = Counter(
            "mllab_inference_request_failures",
            "inference requests whose inference raised (session error, shutting down)",
            registry=r,
        )
        self.dropped = Counter(
            "mllab_requests_dropped",
            "inference requests dropped before session.run, by reason (client_disconnected: "
            "the client had gone by the time the session was free for it)",
            ["reason"],
            registry=r,
        )
        self.dropped.labels(CLIENT_DISCONNECTED)  # exported as 0 before the first drop
        self.count = Counter(
            "mllab_inference_count",
            "samples inferred (a request of n rows counts n), Triton's nv_inference_count",
            registry=r,
        )
        self.exec_count = Counter(
            "mllab_inference_exec_count",
            "session.run executions (a batch of requests counts 1), Triton's "
            "nv_inference_exec_count; count / exec_count is the mean batch size",
            registry=r,
        )
        self.batch_rows = Histogram(
            "mllab_inference_batch_rows",
            "rows of each session.run execution",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.queue = Histogram(
            "mllab_inference_queue_seconds",
            "per request: time in the model minus its execution's session.run "
            "(waiting for the session or for the batch to form)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.compute = Histogram(
            "mllab_inference_compute_seconds",
            "per request: session.run of the execution it ran in",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model_info = Info("mllab_model", "the model served", registry=r)
        self.load_seconds = Gauge(
            "mllab_model_load_seconds",
            "seconds to check, load and warm up the model",
            registry=r,
        )
        r.register(_AdmissionCollector(in_flight))
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes

    def observe(self, inference: Inference, seconds: float) -> None:
        """One answered inference request that spent ``seconds`` in the model."""
        compute = inference.latency_ms / 1000.0
        self.inferences.inc()
        self.count.inc(int(inference.logits.shape[0]))
        self.compute.observe(compute)
        self.queue.observe(max(0.0, seconds - compute))
        if inference.offset == 0:  # the first request of its execution counts the execution
            self.exec_count.inc()
            self.batch_rows.observe(inference.batch_rows)

    def exposition(self) -> bytes:
        """The registry in Prometheus's text format."""
        return generate_latest(self.registry)


class _AdmissionCollector(Collector):
    """Admission control's counters, read when Prometheus scrapes (no hook in the hot path)."""

    def __init__(self, state: InFlight) -> None:
        self.state = state

    def collect(self) -> Iterable["Metric"]:  # quoted: defined only when AVAILABLE
        state = self.state
        yield GaugeMetricFamily(
            "mllab_inference_requests_in_flight",
            "inference requests admitted and not yet answered",
            value=state.now,
        )
        yield GaugeMetricFamily(
            "mllab_inference_max_in_flight",
            "MAX_IN_FLIGHT: admitted at a time, the next is refused 503",
            value=state.limit,
        )
        yield CounterMetricFamily(
            "mllab_admission_rejections",
            "inference requests refused 503 with Retry-After (busy or draining)",
            value=state.refused,
        )
        yield GaugeMetricFamily(
            "mllab_server_draining", "1 while the server shuts down", value=float(state.draining)
        )


class HttpMetrics:
    """ASGI middleware (outermost): counts and times every HTTP request by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics, templates: "RouteTemplates"):
        self.app = app
        self.metrics = metrics
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        method = scope.get("method", OTHER)
        method = method if method in METHODS else OTHER
        route = self.templates(scope.get("path", ""))
        status = 500  # an exception that escapes is answered 500 outside this middleware

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        metrics = self.metrics
        metrics.http_in_flight.inc()
        try:
            await self.app(scope, receive, noting_status)
        finally:
            metrics.http_in_flight.dec()
            metrics.requests.labels(method, route, str(status)).inc()
            metrics.duration.labels(method, route).observe(time.perf_counter() - start)


class RouteTemplates:
    """A request path's route template (``/v2/models/{model_name}/infer``), else
    :data:`UNMATCHED`: the paths of the app's OpenAPI schema (FastAPI's public view of its
    routes, included routers flattened) and its docs, matched in the order they route.

    Known before routing, so a request refused 503 before it reaches the router has its route
    too. Compiled on the first request, when every route is registered."""

    def __init__(self, app: FastAPI):
        self.app = app
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None

    def __call__(self, path: str) -> str:
        if self._compiled is None:
            self._compiled = self._compile()
        for regex, template in self._compiled:
            if regex.match(path):
                return template
        return UNMATCHED

    def _compile(self) -> list[tuple[re.Pattern[str], str]]:
        try:
            paths = list(self.app.openapi().get("paths", {}))
        except Exception:  # a schema that cannot be built: every path is <unmatched>
            log.exception("the OpenAPI schema failed: metrics label every route <unmatched>")
            paths = []
        app = self.app
        paths += [url for url in (app.openapi_url, app.docs_url, app.redoc_url) if url]
        return [(compile_path(path)[0], path) for path in paths]


def watch(model: Model, metrics: Metrics | None) -> None:
    """Meter every inference of ``model`` (``/predict`` and v2 both go through ``Model.infer``;
    readiness probes and the warm-up do not). The model module stays unaware of metrics: the
    instance's ``infer`` is wrapped. The same figures go to the request's JSON log line
    (:func:`mllab.serve.request_log.note_inference`): one clock for both, also when
    ``metrics`` is None (no prometheus-client)."""
    infer = model.infer

    def metered(x: np.ndarray) -> Inference:
        start = time.perf_counter()
        try:
            inference = infer(x)
        except ClientGone:  # not a failure: nobody waits for the answer any more
            if metrics is not None:
                metrics.dropped.labels(CLIENT_DISCONNECTED).inc()
            raise
        except Exception:
            if metrics is not None:
                metrics.failures.inc()
            raise
        seconds = time.perf_counter() - start
        if metrics is not None:
            metrics.observe(inference, seconds)
        # queue as the histogram defines it: time in the model minus its execution's run
        note_inference(max(0.0, seconds * 1000.0 - inference.latency_ms), inference.latency_ms)
        return inference

    model.infer = metered  # type: ignore[method-assign]


def unavailable() -> JSONResponse:
    """``/metrics`` in an image without prometheus-client."""
    return JSONResponse(
        {
            "error": "metrics are not available: prometheus-client is not installed in this "
            "image (rebuild it from a requirements.lock that holds it)",
            "detail": {"package": "prometheus-client"},
        },
        status_code=404,
    )


def install(
    app: FastAPI,
    model: Model,
    in_flight: InFlight,
    info: dict[str, str],
    load_seconds: float,
) -> Metrics | None:
    """Add ``GET /metrics`` and the hooks to ``app`` (call it after the other middleware: this
    one must be outermost to see refusals); None when prometheus-client is missing."""
    if not AVAILABLE:
        app.add_api_route("/metrics", _unavailable_endpoint, methods=["GET"])
        watch(model, None)  # the request log's queue and inference times
        return None
    metrics = Metrics(in_flight)
    metrics.model_info.info(info)
    metrics.load_seconds.set(load_seconds)
    watch(model, metrics)

    async def scrape() -> Response:
        """Prometheus's text format: requests, latencies, queue and compute, batches."""
        try:
            body = metrics.exposition()
        except Exception:  # a broken collector: a failed scrape, said as such, not a 500
            log.exception("collecting the metrics failed")
            return JSONResponse(
                {"error": "collecting the metrics failed: the server's log has the details"},
                status_code=503,
            )
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", scrape, methods=["GET"], response_class=Response)
    app.add_middleware(HttpMetrics, metrics=metrics, templates=RouteTemplates(app))
    return metrics


async def _unavailable_endpoint() -> Response:
    """404: this image has no prometheus-client."""
    return unavailable()


def model_info(model: Model, name: str, model_version: str) -> dict[str, str]:
    """The labels of ``mllab_model_info``."""
    batching: dict[str, Any] | None = model.batching
    return {
        "name": name,
        "model_version": model_version,
        "sha256": model.sha256,
        "provider": model.provider,
        "threads": str(model.threads),
        "batch_max_size": str(int(batching["max_size"])) if batching else "0",
    }
