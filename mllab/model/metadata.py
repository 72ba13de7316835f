"""What an ONNX file says about itself: its ``metadata_props`` (exporter, opset, weights, ...).

The exporter writes them (:mod:`mllab.model.export`), quantization and fp16 conversion extend
them (``fp32_sha256``: the model they came from), and the artefact cache reads them back to
know whether a derived model is stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import onnx

from mllab.core.hashing import sha256_file


def metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (weights are not loaded)."""
    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def file_size_mb(path: str | Path) -> float:
    """Size of a file in MB (10^6 bytes)."""
    return Path(path).stat().st_size / 1e6


@dataclass
class ExportMetadata:
    """One exported file as lab 01 records it: what made it, which θ, how big, its digest."""

    exporter: str
    opset: int
    weights_id: str
    torch_version: str
    onnx_version: str
    fold: bool
    size_mb: float
    sha256: str
    file: str
    extra_files: list[str]  # anything beside the model but its .sha256 (a stray .data, ...)

    SCHEMA_VERSION: ClassVar[int] = 1


@dataclass
class Exports:
    """Every file lab 01 exported, one :class:`ExportMetadata` each."""

    files: list[ExportMetadata]

    SCHEMA_VERSION: ClassVar[int] = 1


def export_metadata(path: str | Path) -> ExportMetadata:
    """The :class:`ExportMetadata` of an exported file (read from the file itself)."""
    path = Path(path)
    props = metadata(path)
    beside = path.parent.glob(path.name + "*")
    extra = sorted(p.name for p in beside if p not in (path, path.with_name(path.name + ".sha256")))
    return ExportMetadata(
        exporter=props.get("exporter", ""),
        opset=int(props.get("opset", 0)),
        weights_id=props.get("weights_id", ""),
        torch_version=props.get("torch_version", ""),
        onnx_version=props.get("onnx_version", ""),
        fold=props.get("fold", "true") == "true",
        size_mb=file_size_mb(path),
        sha256=sha256_file(path),
        file=path.name,
        extra_files=extra,
    )
