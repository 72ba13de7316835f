"""``mllab serve``: the inference server on this host; flags override the ENV of the container."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mllab.model.artifact_paths import default_model_path
from mllab.serve.config import DEFAULT_HOST, DEFAULT_PORT, DEVICES, ServerConfig


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mllab serve``."""
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
    parser.add_argument(
        "--batch-max-size",
        type=int,
        help="dynamic batching: rows per batch, e.g. lab 05's n* (0: off; default: BATCH_MAX_SIZE, "
        "else off on CPU, 8 on a GPU)",
    )
    parser.add_argument("--batch-max-queue-delay-ms", type=float, help="wait for company, ms")
    parser.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted: the ENV's configuration, with the given flags over it."""
    # fastapi + uvicorn take ~0.6 s to import: only when the server starts, not for `mllab --help`
    from mllab.serve.app import serve_config

    config = ServerConfig.from_env()
    if args.model is not None:
        config.model_path = args.model
    elif not os.environ.get("MODEL_PATH"):  # host only: the container always sets a path
        config.model_path = _default_model()
    batching = ("batch_max_size", "batch_max_queue_delay_ms")
    for name in ("port", "host", "device", "threads", "max_body_mb", "max_batch", *batching):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    serve_config(config.check())
    return 0


def _default_model() -> Path:
    """The cached ResNet-50 export; exported first only when it is missing (that needs torch)."""
    path = default_model_path()
    if path.is_file():  # the server checks its sha256 before loading it
        return path
    from mllab.model.artifacts import default_model  # torch + onnx: only to export it now

    return default_model()
