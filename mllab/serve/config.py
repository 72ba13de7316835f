"""The server's configuration, read from ENV as the container's ``docker run -e`` sets it.

``MODEL_PATH``, ``PORT``, ``HOST``, ``ORT_THREADS``/``THREADS``, ``DEVICE``/``PROVIDER``,
``MAX_BODY_MB``, ``MAX_BATCH`` and ``LOG_LEVEL``; the request limits of :mod:`mllab.serve.limits`
(``MAX_TENSOR_MB``, ``MAX_IMAGE_MP``, ``MAX_JSON_DEPTH``, ``MAX_JSON_VALUES``, ``MAX_PARTS``) and
admission (``MAX_IN_FLIGHT``, ``RETRY_AFTER_S``, ``DRAIN_TIMEOUT_S``) and ``MODEL_VERSION`` (the
build, answered in ``X-Model-Version``). A bad value is a clear
:class:`MllabError` before anything is loaded. The defaults fit a 1 GB container.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, overload

from mllab.core.errors import MllabError
from mllab.serve import limits as request_limits
from mllab.serve.limits import Limits
from mllab.serve.version import UNVERSIONED, parse_version

#: the lecture's ``EXPOSE 8080`` / ``docker run -p 8080:8080``
DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"
#: the lecture's Dockerfile copies the model to ``/app/model.onnx`` and runs from ``/app``
DEFAULT_MODEL = "model.onnx"
#: one JSON-list image is ~3 MB of text: 32 MB takes a JSON batch of 8 or a binary batch of 32
DEFAULT_MAX_BODY_MB = 32.0
DEFAULT_MAX_BATCH = 32
#: requests in flight (read, parsed, run): each may hold a body of MAX_BODY_MB and its parse
#: (~100 MB at worst), so 4 of them and a ResNet-50 session fit in 1 GB
DEFAULT_MAX_IN_FLIGHT = 4
#: what a 503 tells the client to wait, in seconds
DEFAULT_RETRY_AFTER_S = 1
#: SIGTERM waits this long for requests in flight (docker stop waits 10 s before SIGKILL)
DEFAULT_DRAIN_TIMEOUT_S = 8.0
DEVICES = ("cpu", "cuda", "tensorrt", "auto")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

N = TypeVar("N", int, float)


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
    batch_max_size: int | None = None  # dynamic batching (serve/batcher.py); None: per device
    batch_max_queue_delay_ms: float = 0.0
    max_tensor_mb: float = request_limits.DEFAULT_MAX_TENSOR_MB
    max_image_mp: float = request_limits.DEFAULT_MAX_IMAGE_MP
    max_json_depth: int = request_limits.DEFAULT_MAX_JSON_DEPTH
    max_json_values: int = request_limits.DEFAULT_MAX_JSON_VALUES
    max_parts: int = request_limits.DEFAULT_MAX_PARTS
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    retry_after_s: int = DEFAULT_RETRY_AFTER_S
    drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S
    model_version: str = UNVERSIONED  # the build's version (X-Model-Version on every answer)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerConfig:
        """Read ``MODEL_PATH``, ``PORT``, ``HOST``, ``ORT_THREADS``/``THREADS``,
        ``DEVICE``/``PROVIDER``, ``MAX_BODY_MB``, ``MAX_BATCH`` and ``LOG_LEVEL``."""
        env = os.environ if env is None else env
        return cls(
            model_path=Path(env.get("MODEL_PATH") or DEFAULT_MODEL),
            port=_env_number(env, ("PORT",), DEFAULT_PORT, int, minimum=1, maximum=65535),
            host=env.get("HOST") or DEFAULT_HOST,
            device=parse_device(env.get("DEVICE") or env.get("PROVIDER") or "cpu"),
            threads=_env_number(env, ("ORT_THREADS", "THREADS"), None, int, minimum=1),
            max_body_mb=_env_number(env, ("MAX_BODY_MB",), DEFAULT_MAX_BODY_MB, float, 0.001),
            max_batch=_env_number(env, ("MAX_BATCH",), DEFAULT_MAX_BATCH, int, minimum=1),
            log_level=parse_log_level(env.get("LOG_LEVEL") or "info"),
            batch_max_size=_env_number(env, ("BATCH_MAX_SIZE",), None, int, minimum=0),
            batch_max_queue_delay_ms=_env_number(
                env, ("BATCH_MAX_QUEUE_DELAY_MS",), 0.0, float, minimum=0
            ),
            model_version=parse_version(env.get("MODEL_VERSION")),
            **_limits_from_env(env),
        )

    def limits(self) -> Limits:
        """What one request may make the server allocate."""
        return Limits(
            max_body_mb=self.max_body_mb,
            max_batch=self.max_batch,
            max_tensor_mb=self.max_tensor_mb,
            max_image_mp=self.max_image_mp,
            max_json_depth=self.max_json_depth,
            max_json_values=self.max_json_values,
            max_parts=self.max_parts,
        )

    def check(self) -> ServerConfig:
        """This config, after checking what a command line may have set outside ENV."""
        if self.threads is not None and self.threads < 1:
            raise MllabError(f"--threads must be at least 1, not {self.threads}")
        if not 1 <= self.port <= 65535:
            raise MllabError(f"--port must be between 1 and 65535, not {self.port}")
        return self


def _limits_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The request limits and admission settings set in ``env`` (absent ones keep defaults):
    ``ServerConfig`` keyword arguments, each an int or a float as its field is."""
    specs: dict[str, tuple[str, Callable[[str], int | float], float]] = {
        "max_tensor_mb": ("MAX_TENSOR_MB", float, 0.001),
        "max_image_mp": ("MAX_IMAGE_MP", float, 0.07),  # 256 x 256: the resize target
        "max_json_depth": ("MAX_JSON_DEPTH", int, 2),
        "max_json_values": ("MAX_JSON_VALUES", int, 1),
        "max_parts": ("MAX_PARTS", int, 1),
        "max_in_flight": ("MAX_IN_FLIGHT", int, 1),
        "retry_after_s": ("RETRY_AFTER_S", int, 0),
        "drain_timeout_s": ("DRAIN_TIMEOUT_S", float, 0.0),
    }
    found: dict[str, Any] = {}
    for field, (name, kind, minimum) in specs.items():
        value = _env_number(env, (name,), None, kind, minimum=minimum)
        if value is not None:
            found[field] = value
    return found


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


@overload
def _env_number(
    env: Mapping[str, str],
    names: tuple[str, ...],
    default: N,
    kind: Callable[[str], N],
    minimum: float | None = None,
    maximum: float | None = None,
) -> N: ...


@overload
def _env_number(
    env: Mapping[str, str],
    names: tuple[str, ...],
    default: None,
    kind: Callable[[str], N],
    minimum: float | None = None,
    maximum: float | None = None,
) -> N | None: ...


def _env_number(
    env: Mapping[str, str],
    names: tuple[str, ...],
    default: N | None,
    kind: Callable[[str], N],
    minimum: float | None = None,
    maximum: float | None = None,
) -> N | None:
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
