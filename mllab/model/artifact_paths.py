"""Where the cached models live, and a lock to make each one once: no torch, no onnx.

The server (``mllab serve`` without ``--model``) finds the cached export here without importing
the exporter; :mod:`mllab.model.artifacts` makes a missing or stale file.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from pathlib import Path

from mllab.core.errors import InputError
from mllab.core.paths import artifact, exclusive
from mllab.model.weights import weights_id

#: the exporters of :func:`mllab.model.export.export_onnx` (and so the cache's file names)
EXPORTERS = ("dynamo", "torchscript")


def check_exporter(exporter: str) -> str:
    """``exporter`` if it is one of :data:`EXPORTERS`, else :class:`InputError`."""
    if exporter not in EXPORTERS:
        raise InputError(f"exporter must be one of {', '.join(EXPORTERS)}, not {exporter!r}")
    return exporter


def slug(text: str) -> str:
    """``text`` made safe for a file name (``file:ab12`` -> ``file-ab12``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


def model_lock(path: Path) -> AbstractContextManager[None]:
    """Two labs making the same model wait for each other (a hidden lock file beside it)."""
    return exclusive(path.with_name(f".{path.name}.lock"))


def default_model_path(
    exporter: str = "dynamo", weights: str | Path | None = None, seed: int = 0
) -> Path:
    """Where :func:`mllab.model.artifacts.default_model` keeps its export (it may not exist
    yet): ``artifacts/models/resnet50-<exporter>-<weights id>.onnx``."""
    check_exporter(exporter)
    return artifact("models", f"resnet50-{exporter}-{slug(weights_id(weights, seed))}.onnx")


def derived_model_path(fp32: Path, suffix: str) -> Path:
    """Where a model derived from ``fp32`` (INT8, fp16) is cached: ``<fp32 stem>-<suffix>.onnx``."""
    return artifact("models", f"{fp32.stem}-{suffix}.onnx")
