"""What ONNX Runtime's graph optimiser does to a model, and what each level costs and buys.

At ``ORT_ENABLE_ALL`` the CPU provider fuses Conv+BatchNormalization and Conv+Add+Relu and
converts convolutions to its NCHWc layout: fewer nodes, less time, and a different order of
floating-point operations (drift). :func:`graph_fusion` counts nodes before and after;
:func:`optimization_levels` times each level and measures its drift against ``disable``.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import onnx

from mllab.measure.drift import compare
from mllab.measure.stats import interleaved
from mllab.model.checks import run
from mllab.runtime.sessions import create_session


@dataclass
class GraphFusion:
    """Node counts of one model before and after ORT's ``ORT_ENABLE_ALL`` optimiser."""

    model: str
    before: dict[str, int]
    after: dict[str, int]
    nodes_before: int
    nodes_after: int
    batchnorm_before: int
    batchnorm_after: int

    SCHEMA_VERSION: ClassVar[int] = 1


@dataclass
class GraphFusions:
    """Lab 01's two fusion counts: the unfolded TorchScript export and the default export."""

    unfolded: GraphFusion
    default_export: GraphFusion

    SCHEMA_VERSION: ClassVar[int] = 1


@dataclass
class LevelRow:
    """One optimisation level: latency, and drift against ``disable``."""

    opt_level: str
    median_ms: float
    p90_ms: float
    delta_vs_disable: float
    max_abs_vs_disable: float


@dataclass
class OptimizationLevels:
    """Lab 01's table of ORT optimisation levels on one model and batch."""

    batch: int
    repeats: int
    rows: list[LevelRow] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1


def optimize_graph(model: str | Path, out: str | Path, opt_level: str = "all") -> Path:
    """Save the graph ONNX Runtime actually runs after its optimiser (``ORT_ENABLE_ALL``).

    The saved file only loads in this ORT build on a CPU like this one (NCHWc kernels): it is
    for inspection (:func:`node_counts`), not for shipping.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    create_session(model, device="cpu", opt_level=opt_level, optimized_model_path=str(out))
    return out


def node_counts(path: str | Path) -> dict[str, int]:
    """Nodes per operator type, most frequent first (``domain:op`` outside the ONNX domain)."""
    proto = onnx.load(str(path), load_external_data=False)
    counts = Counter(f"{n.domain}:{n.op_type}" if n.domain else n.op_type for n in proto.graph.node)
    return dict(counts.most_common())


def graph_fusion(model: str | Path, out: str | Path) -> GraphFusion:
    """Node counts before and after ONNX Runtime's ``ORT_ENABLE_ALL`` optimiser (saved to
    ``out``): the numbers that show Conv+BN fusion."""
    before = node_counts(model)
    after = node_counts(optimize_graph(model, out))
    return GraphFusion(
        model=Path(model).name,
        before=before,
        after=after,
        nodes_before=sum(before.values()),
        nodes_after=sum(after.values()),
        batchnorm_before=before.get("BatchNormalization", 0),
        batchnorm_after=after.get("BatchNormalization", 0),
    )


def optimization_levels(
    model: str | Path,
    x: np.ndarray,
    repeats: int = 10,
    levels: tuple[str, ...] = ("disable", "basic", "all"),
) -> OptimizationLevels:
    """Latency and drift of ``model`` at each ORT optimisation level, measured in one run
    (interleaved rounds, see :func:`mllab.measure.stats.interleaved`).

    Drift is against ``disable`` (the lecture's deterministic setting): Δ and max-abs show how
    far fusions move the logits; median/p90 latency (ms) show what they buy.
    """
    sessions = {level: create_session(model, device="cpu", opt_level=level) for level in levels}
    baseline = run(create_session(model, device="cpu", opt_level="disable"), x)
    # interleaved rounds: every level sees the same load on a shared CPU
    timings = interleaved({k: functools.partial(run, s, x) for k, s in sessions.items()}, repeats)
    table = OptimizationLevels(batch=len(x), repeats=repeats)
    for level, session in sessions.items():
        drift = compare(run(session, x), baseline)
        timing = timings[level]
        row = LevelRow(level, timing.median_ms, timing.p90_ms, drift.l2, drift.max_abs)
        table.rows.append(row)
    return table
