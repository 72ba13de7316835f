"""mllab.measure.profiling: ONNX Runtime's profiler summed by operator type."""

from __future__ import annotations

import pytest

from mllab.core.errors import InputError
from mllab.measure.profiling import OperatorRow, graph_op_types, operator_table, profile_operators


def test_profile_operators_returns_the_expensive_ops(tiny, artifacts):
    profile = profile_operators(tiny, runs=2, batch=4)
    ops = {r.op_type for r in profile.operators}
    assert {"Conv", "Gemm"} <= ops
    assert sum(r.share for r in profile.operators) == pytest.approx(1.0)
    gemm = next(r for r in profile.operators if r.op_type == "Gemm")
    assert gemm.calls == 1 and gemm.provider == "CPU" and gemm.dtype == "float"
    assert profile.graph_op_types == graph_op_types(tiny)
    assert list(artifacts.glob("profiles/*.json"))


def test_graph_op_types_counts_nodes(tiny):
    counts = graph_op_types(tiny)
    assert counts["Conv"] == 1 and counts["Gemm"] == 1


def _run(ts):
    return {"cat": "Session", "name": "model_run", "ts": ts, "dur": 100}


def _kernel(ts, op, dur, kind="kernel_time"):
    args = {"op_name": op, "provider": "CPUExecutionProvider"}
    return {"cat": "Node", "name": f"n_{ts}_{kind}", "ts": ts, "dur": dur, "args": args}


def test_operator_table_skips_the_warmup_run():
    events = [_run(0), _kernel(1, "Conv", 90), _run(200), _kernel(201, "Conv", 30)]
    events += [_kernel(250, "Gemm", 10), _kernel(260, "Gemm", 5, kind="fence_before")]
    rows = operator_table(events, skip_runs=1)
    assert rows[0] == OperatorRow("Conv", 1.0, 0.03, 0.75, "CPU", "")
    assert [r.op_type for r in rows] == ["Conv", "Gemm"]
    with pytest.raises(InputError):
        operator_table(events, skip_runs=2)


def test_profile_operators_refuses_no_runs(tiny):
    with pytest.raises(InputError):
        profile_operators(tiny, runs=0)
