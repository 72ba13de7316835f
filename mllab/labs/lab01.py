"""Lab 01: ResNet-50 from PyTorch to ONNX: export, parity, the graph optimiser, INT8, integrity.

The lecture's artefact A = (f, θ, R, E): the lab pins f and θ in one ONNX file with a sha256
beside it, moves R from PyTorch to ONNX Runtime and measures how far the logits move against
the lecture's Δ = ‖f1(x) − f2(x)‖₂ ≤ 10⁻³; it watches ONNX Runtime fuse the graph, changes θ on
purpose (INT8) and shows that a changed file is refused.

The kit vocabulary of ``labs/01_export_onnx.ipynb``, in groups:

- θ: which weights
- f + θ in one file: the exports, their metadata and digests, the symbolic batch axis
- parity: PyTorch vs ONNX Runtime on the photos and a random batch, and the lecture's bounds
- what ONNX Runtime does to the graph: fusions, optimisation levels (and what this run's
  levels mean: ``read_levels``)
- INT8: quantize, size and latency, drift
- predictions for the sample photos
- integrity: the digest file and the error a changed model raises
- the exercises ex01_export and ex01_delta
- tables and the record
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mllab.core.errors import IntegrityError
from mllab.core.paths import artifact
from mllab.core.records import record
from mllab.core.tables import fold, format_table, labelled
from mllab.exercises.hidden import hidden_tests
from mllab.exercises.lab01 import check_delta, check_export
from mllab.measure.drift import LECTURE_DELTA, TUTORIAL_ATOL, TUTORIAL_RTOL
from mllab.model.artifacts import default_model
from mllab.model.checks import check_dynamic_batch
from mllab.model.export import export_onnx
from mllab.model.graph import GraphFusions, graph_fusion, node_counts, optimization_levels
from mllab.model.integrity import digest_path, verify_model
from mllab.model.metadata import Exports, export_metadata
from mllab.model.parity import (
    Int8Drift,
    compare_sessions,
    parity_report,
    reference_inputs,
    torch_logits,
)
from mllab.model.preprocess import preprocess_batch, sample_images, top_k
from mllab.model.quantize import int8_gain, quantize_int8
from mllab.model.resnet import load_resnet50
from mllab.model.weights import weights_id
from mllab.report.interpret.levels import read_levels
from mllab.report.lab_summary import lab_pages
from mllab.runtime.sessions import create_session

plan, summary = lab_pages("01")  # every lab's opening and closing cells (kit-wide)

__all__ = [
    # θ: which weights
    "load_resnet50",
    "weights_id",
    # f + θ in one file
    "export_models",
    "describe_exports",
    "export_onnx",
    "artifact",
    "verify_model",
    "check_dynamic_batch",
    # parity: PyTorch vs ONNX Runtime
    "create_session",
    "reference_inputs",
    "parity_report",
    "torch_logits",
    "LECTURE_DELTA",
    "TUTORIAL_RTOL",
    "TUTORIAL_ATOL",
    # what ONNX Runtime does to the graph
    "graph_fusions",
    "optimization_levels",
    "node_counts",
    "read_levels",
    # INT8
    "quantize_int8",
    "int8_gain",
    "int8_drift",
    # predictions for the sample photos
    "sample_images",
    "preprocess_batch",
    "top_k",
    # integrity
    "digest_path",
    "IntegrityError",
    # the exercises (ex01_export, ex01_delta)
    "check_export",
    "check_delta",
    "hidden_tests",
    # tables and the record
    "fold",
    "labelled",
    "format_table",
    "record",
]


def export_models(
    exporters: Iterable[str],
    opset: int | None = None,
    weights: str | Path | None = None,
    seed: int = 0,
) -> dict[str, Path]:
    """One checked ONNX file per exporter: with ``opset=None`` the cached export that every
    later lab and the server use (:func:`default_model`), else a fresh export at that opset
    into ``artifacts/lab01/``."""
    paths = {}
    for exporter in exporters:
        if opset is None:
            paths[exporter] = default_model(exporter, weights, seed)
        else:
            out = artifact("lab01", f"resnet50-{exporter}-opset{opset}.onnx")
            paths[exporter] = export_onnx(out, exporter, opset, weights, seed)
    return paths


def describe_exports(paths: Mapping[str, Path]) -> Exports:
    """The lab's :class:`Exports` record: what each file says about itself (exporter, opset,
    weights, size, sha256, any file left beside it)."""
    return Exports([export_metadata(path) for path in paths.values()])


def graph_fusions(unfolded: Path, default_export: Path) -> GraphFusions:
    """Node counts before and after ONNX Runtime's ``ORT_ENABLE_ALL`` for the export without
    constant folding and for the default export; the optimised graphs are saved in
    ``artifacts/lab01/`` to be opened (in Netron, say)."""
    return GraphFusions(
        unfolded=graph_fusion(unfolded, artifact("lab01", f"{unfolded.stem}.ort-all.onnx")),
        default_export=graph_fusion(default_export, artifact("lab01", "default.ort-all.onnx")),
    )


def int8_drift(int8_session: Any, fp32_session: Any, inputs: Mapping[str, np.ndarray]) -> Int8Drift:
    """The :class:`Int8Drift` record: the INT8 session's logits against the fp32 session's,
    one row per named input batch (``{"samples": ..., "random": ...}``)."""
    return Int8Drift(rows=compare_sessions(int8_session, fp32_session, dict(inputs), label="int8"))
