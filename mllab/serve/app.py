"""Running the inference server: ``python -m mllab.serve.app``, the CMD of the serving images.

The lecture's ``server.py`` (Flask, ``POST /predict`` with ``{"input": nested list}``) never
calls ``app.run`` and turns a 600 KB tensor into 3 MB of JSON text. This server keeps its
contract (same route, same JSON body, same ``{"output": ...}`` answer) and adds what a
production service needs; the package splits it by concern:

* :mod:`mllab.serve.config`: configuration from ENV as in the lecture's ``docker run``;
* :mod:`mllab.serve.model`: the model file, its sha256 checked before it is loaded, its session;
* :mod:`mllab.serve.limits`: every size a request declares, checked before it is allocated;
* :mod:`mllab.serve.bodies`: the three body kinds, batch checks, the body size limit;
* :mod:`mllab.serve.admission`: requests in flight, draining, readiness;
* :mod:`mllab.serve.api`: the FastAPI routes (``/predict``, ``/health``, ``/ready``,
  ``/metadata``) and the JSON error answers;
* :mod:`mllab.serve.metrics`: ``GET /metrics`` for Prometheus (requests, latencies, queue and
  compute time, batches, refusals);
* :mod:`mllab.serve.request_log`: one JSON log line per request, its id in ``X-Request-ID``;
* :mod:`mllab.serve.grpc_server`: with ``GRPC_PORT``, the Open Inference Protocol's gRPC service
  beside REST, in the same process and event loop;
* this module: uvicorn serving the app until SIGINT/SIGTERM, then draining it.

Only numpy, Pillow, onnxruntime, fastapi, uvicorn and (when installed) prometheus-client are
imported, never torch, onnx or docker.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from dataclasses import replace
from pathlib import Path
from types import FrameType

import uvicorn

from mllab.core.errors import MllabError
from mllab.serve import request_log
from mllab.serve.admission import InFlight
from mllab.serve.api import create_app_from_config
from mllab.serve.config import (
    DEFAULT_HOST,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_MB,
    DEFAULT_PORT,
    ServerConfig,
)
from mllab.serve.grpc_server import GrpcServer, grpc_port_from_env, grpc_server
from mllab.serve.v2 import model_name_from_env

log = logging.getLogger("mllab.serve")


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM/SIGINT first marks the app as draining (``/ready``
    turns 503, new inference requests get 503) and then shuts down gracefully: it stops
    accepting connections and waits up to ``DRAIN_TIMEOUT_S`` for the requests in flight."""

    def __init__(self, config: uvicorn.Config, in_flight: InFlight, grpc: GrpcServer | None = None):
        super().__init__(config)
        self.in_flight = in_flight
        self.grpc = grpc  # the OIP gRPC service beside REST, in the same event loop

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.grpc is not None and not self.should_exit:
            await self.grpc.start()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # gRPC drains first: the HTTP shutdown ends with the lifespan, which closes the model
        if self.grpc is not None:
            await self.grpc.stop(self.config.timeout_graceful_shutdown)
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.in_flight.draining:
            self.in_flight.draining = True
            log.warning(
                "%s: draining %d request(s) in flight, then exiting",
                signal.Signals(sig).name,
                self.in_flight.now,
            )
        super().handle_exit(sig, frame)


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
    """Check and load ``model``, then serve it with uvicorn until SIGINT/SIGTERM (the other
    settings: ENV, as :meth:`ServerConfig.from_env` reads it)."""
    config = replace(
        ServerConfig.from_env(),
        model_path=Path(model),
        port=port,
        host=host,
        device=device,
        threads=threads,
        max_body_mb=max_body_mb,
        max_batch=max_batch,
        log_level=log_level,
    )
    serve_config(config)


def serve_config(config: ServerConfig) -> None:
    """Check and load the model of ``config``, then serve it until SIGINT/SIGTERM, draining the
    requests in flight before exiting."""
    # the server's own log lines (errors with their id and traceback, draining) beside uvicorn's
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    request_log.configure(config.log_level)  # one JSON line per request, to stderr
    app = create_app_from_config(config)
    loaded = app.state.model
    grpc_port = grpc_port_from_env()  # GRPC_PORT: the OIP gRPC service beside REST
    grpc = (
        None
        if grpc_port is None
        else grpc_server(app, model_name_from_env(), grpc_port, config.host)
    )
    print(
        f"mllab.serve.app: {loaded.path} sha256 {loaded.sha256[:12]}… on {loaded.provider} "
        f"({loaded.threads} threads, {config.max_in_flight} requests in flight), "
        f"listening on http://{config.host}:{config.port}"
        + ("" if grpc is None else f" and grpc://{config.host}:{grpc_port}"),
        file=sys.stderr,
        flush=True,
    )
    uvicorn_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level=config.log_level,
        # uvicorn annotates an int but only hands it to asyncio.wait_for, which takes seconds
        timeout_graceful_shutdown=config.drain_timeout_s,  # type: ignore[arg-type]
    )
    DrainingServer(uvicorn_config, app.state.in_flight, grpc).run()


def main() -> int:
    """``python -m mllab.serve.app``: the container's CMD, configured by ENV alone."""
    try:
        serve_config(ServerConfig.from_env())
    except MllabError as error:  # one clear line, no traceback wall, non-zero exit
        print(f"mllab.serve.app: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
