"""fp16 weights and activations, fp32 inputs and outputs: the GPU's half-precision model.

Tensor cores run fp16 several times faster than fp32, so a GPU deployment often ships an fp16
model. Keeping the graph's inputs and outputs fp32 (``keep_io_types=True``; the converter adds
a Cast after the input and before the output) means the server, the preprocessing and the
drift measurement do not change. The result is a new θ: its drift against fp32 is measured
(:func:`drift_vs_fp32`), never assumed. ONNX Runtime's CPU provider also runs fp16 graphs
(slower than fp32: the x86 kernels mostly convert back), so the drift is measurable without a
GPU. The converter ships with onnxruntime (``onnxruntime.transformers.float16``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from mllab.core.errors import InputError
from mllab.measure.drift import Drift, compare
from mllab.model.artifacts import derived_model
from mllab.model.integrity import verify_model, write_digest
from mllab.runtime.sessions import create_session

ELEM_TYPES = {1: "float32", 10: "float16", 11: "float64", 7: "int64"}


def convert(model: str | Path, out: str | Path, verify: bool = True) -> Path:
    """Convert an fp32 ONNX file to fp16 with fp32 inputs/outputs into ``out`` (+ sha256).

    The output carries the input's metadata plus ``fp32_sha256`` (the model it came from), and
    is written under a temporary name then renamed, so a reader never sees half a file.
    """
    # deferred: onnxruntime.transformers imports a large tool package nothing else needs
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model, out = Path(model), Path(out)
    if not model.is_file():
        raise InputError(f"no such model file: {model}")
    source_sha = verify_model(model) if verify else ""
    proto = onnx.load(str(model))
    if io_types(proto) != {name: "float32" for name in io_types(proto)}:
        raise InputError(f"{model} does not have fp32 inputs and outputs: {io_types(proto)}")
    # keep_io_types: Cast nodes at the graph's edges, so callers keep feeding float32
    half = convert_float_to_float16(proto, keep_io_types=True)
    _sort_topologically(half.graph)  # the converter appends its input Casts at the end
    props = {p.key: p.value for p in proto.metadata_props}
    props.update({"precision": "fp16 (fp32 inputs/outputs)", "fp32_sha256": source_sha})
    onnx.helper.set_model_props(half, props)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".fp16-") as tmp:
        staged = Path(tmp, "model.onnx")
        onnx.save(half, str(staged), save_as_external_data=False)
        onnx.checker.check_model(str(staged))
        os.replace(staged, out)
    write_digest(out)
    return out


def _sort_topologically(graph: onnx.GraphProto) -> None:
    """Reorder ``graph.node`` so that every node comes after the producers of its inputs
    (``onnx.checker`` requires it; ONNX Runtime sorts by itself)."""
    ready = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        runnable = [n for n in pending if all(name in ready for name in n.input)]
        if not runnable:
            raise InputError("the fp16 graph has a cycle or an input nobody produces")
        for node in runnable:
            ready.update(node.output)
        ordered += runnable
        done = {id(n) for n in runnable}
        pending = [n for n in pending if id(n) not in done]
    copies: list[Any] = []
    for node in ordered:  # copy before clearing: the protobuf list owns its elements
        copies.append(type(node)())
        copies[-1].CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def io_types(model: str | Path | onnx.ModelProto) -> dict[str, str]:
    """``{name: element type}`` of a model's graph inputs and outputs (a path or a proto)."""
    proto = model if isinstance(model, onnx.ModelProto) else _load_light(model)
    values = [*proto.graph.input, *proto.graph.output]
    return {v.name: ELEM_TYPES.get(v.type.tensor_type.elem_type, "other") for v in values}


def _load_light(path: str | Path) -> onnx.ModelProto:
    return onnx.load(str(path), load_external_data=False)


def default_fp16_model(exporter: str = "dynamo", weights: str | Path | None = None) -> Path:
    """The cached fp16 twin of :func:`mllab.model.artifacts.default_model` (``artifacts/models/``),
    rebuilt only when missing, when its sha256 fails, or when its fp32 source changed."""
    return derived_model("fp16", convert, exporter, weights=weights)


def drift_vs_fp32(
    fp16_model: str | Path, fp32_model: str | Path, x: np.ndarray, device: str = "cpu"
) -> Drift:
    """:class:`~mllab.measure.drift.Drift` of the fp16 model's logits against the fp32 model's
    on ``x`` (both on ``device``: ``cpu`` runs everywhere, ``cuda`` must really be the GPU)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    half = create_session(fp16_model, device=device)
    full = create_session(fp32_model, device=device)
    name = full.get_inputs()[0].name
    return compare(half.run(None, {name: x})[0], full.run(None, {name: x})[0])
