"""How fast could the model run here? FLOPs per image over the machine's measured GFLOP/s.

ResNet-50 is usually quoted at ≈ 4.1 GMAC ≈ 8.2 GFLOP per 224×224 image. :func:`model_flops`
recomputes it from the ONNX graph itself (shape inference at batch 1; 2 FLOPs per
multiply-accumulate of every Conv, Gemm and MatMul, the operators that dominate), and
:func:`matmul_gflops` measures what ONNX Runtime's best kernel, a large fp32 MatMul, sustains
on this CPU with the same thread count as the sessions. Their quotient is a compute roofline:
the most images per second this runtime could deliver, to compare with what it does deliver.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from mllab.core.errors import InputError
from mllab.measure.harness import measure
from mllab.runtime.iobinding import session_device
from mllab.runtime.sessions import create_session

#: the figure usually quoted for ResNet-50 (GFLOP per image), shown beside ours, never used
QUOTED_RESNET50_GFLOP = 8.2
COUNTED_OPS = ("Conv", "Gemm", "MatMul")


def _shapes(proto: onnx.ModelProto) -> dict[str, list[int]]:
    """Every tensor's static shape after ONNX shape inference (initializers included)."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {t.name: list(t.dims) for t in proto.graph.initializer}
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else -1 for d in dims]
    return shapes


def model_flops(model: str | Path, batch: int = 1) -> dict[str, Any]:
    """FLOPs of one forward pass at ``batch`` (default: per image), counted from the graph.

    Returns ``{"gflop": total, "by_op": {op: gflop}, "nodes": {op: count}}``; 1 MAC = 2 FLOPs.
    The weights are not loaded (only their shapes are needed).
    """
    path = Path(model)
    if not path.is_file():
        raise InputError(f"no such model file: {model}")
    proto = onnx.load(str(path), load_external_data=False)
    for value in proto.graph.input:  # pin the symbolic batch axis so every shape is concrete
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = batch
    shapes = _shapes(proto)
    by_op: dict[str, float] = {}
    nodes: dict[str, int] = {}
    for node in proto.graph.node:
        if node.op_type not in COUNTED_OPS:
            continue
        macs = _macs(node, shapes)
        by_op[node.op_type] = by_op.get(node.op_type, 0.0) + 2 * macs / 1e9
        nodes[node.op_type] = nodes.get(node.op_type, 0) + 1
    if not by_op:
        raise InputError(f"{path} has no Conv, Gemm or MatMul node to count")
    return {"gflop": sum(by_op.values()), "by_op": by_op, "nodes": nodes, "batch": batch}


def _macs(node: onnx.NodeProto, shapes: dict[str, list[int]]) -> int:
    """Multiply-accumulates of one Conv/Gemm/MatMul node from its input and output shapes."""
    out = shapes.get(node.output[0])
    weight = shapes.get(node.input[1])
    if not out or not weight or min(out) < 0 or min(weight) < 0:
        raise InputError(f"shape inference left {node.op_type} {node.name!r} without a shape")
    if node.op_type == "Conv":
        # an output element sums C_in/group · kH · kW products; weight is (C_out, C_in/g, kH, kW)
        return int(np.prod(out, dtype=np.int64)) * int(np.prod(weight[1:], dtype=np.int64))
    if node.op_type == "Gemm":
        trans_a = next((a.i for a in node.attribute if a.name == "transA"), 0)
        a = shapes[node.input[0]]
        k = a[0] if trans_a else a[1]
        return int(np.prod(out, dtype=np.int64)) * k
    # MatMul: (..., M, K) @ (..., K, N)
    return int(np.prod(out, dtype=np.int64)) * shapes[node.input[0]][-1]


def matmul_model(size: int = 1024) -> bytes:
    """A tiny ONNX model Y = A @ B of two ``size × size`` fp32 inputs (serialized).

    Both operands are graph inputs, not initializers, so nothing can be constant-folded.
    """

    def value(name: str) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, [size, size])

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "B"], ["Y"])],
        "matmul",
        [value("A"), value("B")],
        [value("Y")],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8  # readable by every ORT the kit supports
    serialized: bytes = proto.SerializeToString()
    return serialized


def matmul_gflops(
    size: int = 1024,
    threads: int | None = None,
    repeats: int = 10,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """GFLOP/s of ONNX Runtime's fp32 MatMul (``size``³ MACs), best of ``repeats`` runs.

    ``threads=None`` uses the sessions' default (the cgroup CPU quota). The best run is the
    roofline: what the hardware and kernel can do when nothing else interferes.
    """
    if size < 16:
        raise InputError(f"size must be >= 16, not {size}")
    session = create_session(matmul_model(size), device=device, threads=threads)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    if device == "cpu":
        feed = {"A": a, "B": b}

        def fn() -> None:
            session.run(None, feed)

        sync = None
    else:  # only the first input is bound by iobinding_runner; the model has two
        fn, sync = _bound_two_inputs(session, a, b)
    stats = measure(fn, warmup=2, repeats=repeats, sync=sync, progress=progress, name="matmul")
    flop = 2.0 * size**3
    return {
        "size": size,
        "threads": session.get_session_options().intra_op_num_threads,
        "gflops_best": flop / (stats.min_ms / 1000.0) / 1e9,
        "gflops_median": flop / (stats.p50_ms / 1000.0) / 1e9,
        "device": session.get_providers()[0],
    }


def _bound_two_inputs(
    session: ort.InferenceSession, a: np.ndarray, b: np.ndarray
) -> tuple[Callable[[], None], Callable[[], None]]:
    kind, device_id = session_device(session)
    binding = session.io_binding()
    values = [ort.OrtValue.ortvalue_from_numpy(v, kind, device_id) for v in (a, b)]
    binding.bind_ortvalue_input("A", values[0])
    binding.bind_ortvalue_input("B", values[1])
    binding.bind_output("Y", kind, device_id)
    binding.mllab_values = values

    def run() -> None:
        session.run_with_iobinding(binding)

    return run, binding.synchronize_outputs


def roofline(
    model_gflop: float, peak_gflops: float, measured_items_per_s: float
) -> dict[str, float]:
    """The best achievable images/s (peak / FLOP per image) and the measured share of it."""
    if model_gflop <= 0 or peak_gflops <= 0 or measured_items_per_s <= 0:
        raise InputError("roofline needs positive GFLOP, GFLOP/s and measured throughput")
    best = peak_gflops / model_gflop
    return {
        "best_items_per_s": best,
        "measured_items_per_s": measured_items_per_s,
        "fraction": measured_items_per_s / best,
        "achieved_gflops": measured_items_per_s * model_gflop,
    }
