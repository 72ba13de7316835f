"""Running the inference server: ``python -m mllab.serve.app``, the CMD of the serving images.

The lecture's ``server.py`` (Flask, ``POST /predict`` with ``{"input": nested list}``) never
calls ``app.run`` and turns a 600 KB tensor into 3 MB of JSON text. This server keeps its
contract (same route, same JSON body, same ``{"output": ...}`` answer) and adds what a
production service needs; the package splits it by concern:

* :mod:`mllab.serve.config`: configuration from ENV as in the lecture's ``docker run``;
* :mod:`mllab.serve.model`: the model file, its sha256 checked before it is loaded, its session;
* :mod:`mllab.serve.bodies`: the three body kinds, batch checks, the body size limit;
* :mod:`mllab.serve.api`: the FastAPI routes (``/predict``, ``/health``, ``/ready``,
  ``/metadata``) and the JSON error answers;
* this module: uvicorn serving the app until SIGINT/SIGTERM.

Only numpy, Pillow, onnxruntime, fastapi and uvicorn are imported, never torch, onnx or docker.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from mllab.core.errors import MllabError
from mllab.serve.api import create_app
from mllab.serve.config import (
    DEFAULT_HOST,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_MB,
    DEFAULT_PORT,
    ServerConfig,
)


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


if __name__ == "__main__":
    sys.exit(main())
