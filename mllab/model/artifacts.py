"""The artefact cache: the exported model every later lab starts from, and models made from it.

:func:`default_model` exports once under ``artifacts/models/`` and re-exports only when the
file is missing or its sha256 does not verify; :func:`derived_model` does the same for an
INT8 or fp16 twin, which is also remade when the fp32 model it came from changed. A lock file
makes two labs running side by side take turns instead of exporting twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mllab.core.errors import IntegrityError
from mllab.model.artifact_paths import default_model_path, derived_model_path, model_lock
from mllab.model.export import export_onnx
from mllab.model.integrity import verify_model
from mllab.model.metadata import metadata


def default_model(
    exporter: str = "dynamo", weights: str | Path | None = None, seed: int = 0
) -> Path:
    """The cached export under ``artifacts/models/``, re-exported only when it is missing or
    its sha256 does not verify. Every later lab and the server start from this file."""
    path = default_model_path(exporter, weights, seed)
    with model_lock(path):
        if path.exists():
            try:
                verify_model(path)
                return path
            except IntegrityError as error:
                print(f"re-exporting {path.name}: {error}")
        return export_onnx(path, exporter=exporter, weights=weights, seed=seed)


def derived_model(
    suffix: str,
    make: Callable[[Path, Path], Path],
    exporter: str = "dynamo",
    weights: str | Path | None = None,
    seed: int = 0,
) -> Path:
    """A model made from :func:`default_model` by ``make(fp32, out)`` (INT8, fp16), cached beside
    it as ``<fp32 stem>-<suffix>.onnx``; remade only when missing, when its sha256 fails, or when
    the fp32 model it came from changed (``make`` records ``fp32_sha256`` in its metadata)."""
    fp32 = default_model(exporter, weights=weights, seed=seed)
    path = derived_model_path(fp32, suffix)
    with model_lock(path):
        if path.exists():
            try:
                verify_model(path)
                if metadata(path).get("fp32_sha256") == verify_model(fp32):
                    return path
            except IntegrityError as error:
                print(f"remaking {path.name}: {error}")
        return make(fp32, path)
