"""Where the time goes: ONNX Runtime's own profiler, summed by operator type.

``enable_profiling`` makes ONNX Runtime write a JSON trace (chrome://tracing format);
:func:`operator_table` sums its kernel events by operator type *as ORT runs them after graph
optimisation* (BatchNormalization folded into Conv, Relu fused into it), so the table shows
what really costs time, and which element type each kernel really received.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnx

from mllab.core.errors import InputError
from mllab.core.paths import artifact
from mllab.measure.runners import random_input
from mllab.runtime.sessions import create_session


@dataclass(frozen=True)
class OperatorRow:
    """One operator type of a profile: per profiled run, ``calls`` kernels took ``ms``."""

    op_type: str
    calls: float
    ms: float
    share: float  # of all kernel time
    provider: str  # e.g. "CPU", "CUDA"
    dtype: str  # element type the kernel received: an fp16 model on the CPU runs "float"


@dataclass
class OperatorProfile:
    """The most expensive operator types of one model on one device (lab 05's profile)."""

    model: str
    device: str
    runs: int
    operators: list[OperatorRow]
    graph_op_types: dict[str, int] = field(default_factory=dict)  # nodes before optimisation

    SCHEMA_VERSION: ClassVar[int] = 1


def profile_operators(
    model: str | Path,
    x: np.ndarray | None = None,
    top: int = 10,
    runs: int = 3,
    device: str = "cpu",
    batch: int = 1,
) -> OperatorProfile:
    """The most expensive operator types of ``model``, from ONNX Runtime's own profiler
    (``enable_profiling``; the JSON written by ``session.end_profiling()``).

    One warm-up run, then ``runs`` profiled runs; kernel events inside the profiled runs'
    ``model_run`` windows are summed by operator type (see :func:`operator_table`). The trace
    stays in ``artifacts/profiles/<model>-<device>.json`` (open it in chrome://tracing).
    """
    if runs < 1 or top < 1:
        raise InputError(f"runs and top must be >= 1, not {runs} and {top}")
    prefix = artifact("profiles", f"{Path(model).stem}-{device}")
    session = create_session(model, device=device, profile_prefix=str(prefix))
    x = random_input(session, batch) if x is None else x
    feed = {session.get_inputs()[0].name: x}
    for _ in range(runs + 1):
        session.run(None, feed)
    # ORT stamps the file name with the time; keep one trace per model and device instead
    path = Path(session.end_profiling()).replace(prefix.with_name(prefix.name + ".json"))
    rows = operator_table(json.loads(path.read_text()), top=top, skip_runs=1)
    return OperatorProfile(str(model), device, runs, rows, graph_op_types(model))


def graph_op_types(model: str | Path) -> dict[str, int]:
    """How many nodes of each operator type the ONNX graph holds (before ORT optimises it),
    most frequent first."""
    proto = onnx.load(str(model), load_external_data=False)
    counts: dict[str, int] = {}
    for node in proto.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def operator_table(
    events: list[dict[str, Any]], top: int = 10, skip_runs: int = 0
) -> list[OperatorRow]:
    """Aggregate ORT profile events by operator type, most expensive first.

    Kernel events (``cat == "Node"``, name ``*_kernel_time``) are kept when they fall inside a
    ``model_run`` event after the first ``skip_runs`` (warm-up) runs. ``calls`` and ``ms`` are
    per run; ``provider`` and ``dtype`` are what the kernels really ran on and received.
    """
    windows = sorted(
        (e["ts"], e["ts"] + e["dur"])
        for e in events
        if e.get("cat") == "Session" and e.get("name") == "model_run"
    )[skip_runs:]
    if not windows:
        raise InputError("the profile has no model_run events after the warm-up runs")
    totals: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        if not any(lo <= event.get("ts", -1) <= hi for lo, hi in windows):
            continue
        args = event.get("args", {})
        op = args.get("op_name", "?")
        row = totals.setdefault(op, {"calls": 0, "us": 0.0, "providers": set(), "dtypes": set()})
        row["calls"] += 1
        inputs = args.get("input_type_shape") or [{}]
        row["dtypes"].update(inputs[0].keys())  # element type of the first input, as run
        row["us"] += float(event.get("dur", 0))
        row["providers"].add(args.get("provider", "?").replace("ExecutionProvider", ""))
    if not totals:
        raise InputError("the profile has no kernel events inside the profiled runs")
    grand = sum(r["us"] for r in totals.values())
    rows = [
        OperatorRow(
            op_type=op,
            calls=r["calls"] / len(windows),
            ms=r["us"] / 1000.0 / len(windows),
            share=r["us"] / grand if grand else 0.0,
            provider=",".join(sorted(r["providers"])),
            dtype=",".join(sorted(r["dtypes"])),
        )
        for op, r in totals.items()
    ]
    rows.sort(key=lambda r: r.ms, reverse=True)
    return rows[:top]
