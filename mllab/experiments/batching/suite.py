"""The benchmark suite (``mllab bench --suite``): the kit's speed goals, measured side by side.

Every row is measured in the same run, on this machine, and stated as a ratio beside its goal
(``met`` says, as data, which side of the goal the ratio fell); nothing is asserted (a shared
2-core machine is too noisy for a pass/fail test) and no figure is hard-coded. Workloads
compared in one row are timed *interleaved* (one call of each in turn,
:func:`mllab.measure.stats.interleaved`), so that a slow moment of the machine hits both sides
alike; PyTorch gets a longer warm-up (oneDNN builds its kernels on the first calls).

Rows: ONNX Runtime vs PyTorch eager latency at batch 1; the kit's path (``create_session`` +
:func:`mllab.measure.harness.measure`) vs the lecture's raw ``session.run`` loop; HTTP vs
in-process per request body kind (:func:`mllab.experiments.serving.http_overhead.http_overhead`);
INT8 vs fp32 speed; and the roofline: the model's FLOPs over ONNX Runtime's measured MatMul
GFLOP/s on this CPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

from mllab.core.errors import InputError, MllabError
from mllab.core.outcome import Outcome, attempt
from mllab.core.tables import cell
from mllab.experiments.environment.fingerprint import cpu_info
from mllab.experiments.serving.http_overhead import http_overhead
from mllab.measure.harness import lecture_loop, measure
from mllab.measure.roofline import QUOTED_RESNET50_GFLOP, matmul_gflops, model_flops, roofline
from mllab.measure.runners import random_input, session_runner, torch_runner
from mllab.measure.stats import interleaved
from mllab.model.quantize import default_int8_model
from mllab.model.resnet import load_resnet50
from mllab.runtime.cgroup import usable_cpus
from mllab.runtime.sessions import create_session

DEFAULT_REPEATS = 15
TORCH_WARMUP = 5
#: ORT p50 / torch eager p50 at batch 1: the kit's goal for ONNX Runtime's speed-up
ORT_OVER_TORCH_GOAL = 0.65
#: the kit's path must keep this share of the raw ``session.run`` loop's throughput
KIT_OVER_RAW_GOAL = 0.9
#: what a suite row may fail with without stopping the others (a missing export, a server
#: that does not start, a port in use)
EXPECTED = (MllabError, OSError)


@dataclass
class Row:
    """One line of the suite: what was measured, the ratio, its goal and whether it was met."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None  # None: the goal is "reported", or the row did not run
    outcome: Outcome = field(default_factory=Outcome.ran)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": str(self.outcome)}


def machine_row() -> Row:
    """The context of every ratio: CPU, usable cores and the load average when the suite ran
    (a load above the core count means other processes shared the CPUs: ratios are noisy)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    cores = usable_cpus()
    values = {"cpu": cpu_info()["model"], "usable_cpus": cores, "load_avg_1min": load}
    quiet = None if load is None else load <= cores
    return Row("machine (context of the ratios below)", values, None, "load <= usable cpus", quiet)


def ort_vs_torch(session, repeats: int) -> Row:
    """ORT / PyTorch eager p50 latency at batch 1 (goal ≤ :data:`ORT_OVER_TORCH_GOAL`)."""
    x = random_input(session, 1)
    feed = {session.get_inputs()[0].name: x}
    torch_fn, _ = torch_runner(load_resnet50, 1, "cpu")
    for _ in range(TORCH_WARMUP):
        torch_fn()
    stats = interleaved({"ort": lambda: session.run(None, feed), "torch": torch_fn}, repeats)
    ratio = stats["ort"].p50_ms / stats["torch"].p50_ms
    values = {
        "ort_p50_ms": stats["ort"].p50_ms,
        "torch_p50_ms": stats["torch"].p50_ms,
        "ratio_of_min": stats["ort"].min_ms / stats["torch"].min_ms,  # least disturbed runs
    }
    name = "ORT / torch eager latency, batch 1 (p50)"
    return Row(name, values, ratio, f"<= {ORT_OVER_TORCH_GOAL}", ratio <= ORT_OVER_TORCH_GOAL)


def kit_vs_raw(model: str | Path, session, repeats: int, progress: bool, rounds: int = 2) -> Row:
    """Throughput of the kit's path vs the lecture's loop (goal ≥ :data:`KIT_OVER_RAW_GOAL`).

    Raw: ``ort.InferenceSession(model)`` with ORT's defaults and the lecture's ``time.time()``
    loop. Kit: :func:`mllab.runtime.sessions.create_session` and
    :func:`mllab.measure.harness.measure`, progress bar included. Alternated ``rounds`` times;
    total items over total time on each side.
    """
    raw = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    x = random_input(session, 1)
    feed = {session.get_inputs()[0].name: x}
    per_round = max(3, repeats // rounds)
    raw_time = kit_time = 0.0
    lecture_loop(raw, x, 2)  # warm-up of the raw session
    measure(lambda: session.run(None, feed), warmup=2, repeats=1, progress=False)
    for _ in range(rounds):
        raw_time += per_round / lecture_loop(raw, x, per_round)["throughput"]
        stats = measure(
            lambda: session.run(None, feed), 0, per_round, progress=progress, name="kit"
        )
        kit_time += per_round / stats.throughput
    raw_tp, kit_tp = rounds * per_round / raw_time, rounds * per_round / kit_time
    ratio = kit_tp / raw_tp
    values = {
        "kit_items_per_s": kit_tp,
        "raw_items_per_s": raw_tp,
        "kit_threads": session.get_session_options().intra_op_num_threads,
    }
    name = "kit path / raw session.run loop, throughput"
    return Row(name, values, ratio, f">= {KIT_OVER_RAW_GOAL}", ratio >= KIT_OVER_RAW_GOAL)


def http_rows(model: str | Path, repeats: int) -> list[Row]:
    """HTTP / in-process latency per body kind (reported, no goal); one row with the
    outcome when that measurement cannot run here."""
    outcome, table = attempt(http_overhead, model, repeats=repeats, warmup=2, expected=EXPECTED)
    if table is None:
        return [Row("HTTP / in-process latency", goal="reported", outcome=outcome)]
    goal = "reported (no goal: the cost of HTTP for this body)"
    rows = []
    for body in table.bodies:
        values = {k: v for k, v in asdict(body).items() if k not in ("body", "ratio")}
        rows.append(Row(f"HTTP / in-process latency, {body.body} body", values, body.ratio, goal))
    return rows


def int8_vs_fp32(session, repeats: int) -> Row:
    """fp32 / INT8 latency at batch 1: the INT8 model's speed-up (goal > 1)."""
    name, goal = "fp32 / INT8 latency, batch 1 (INT8 speed-up)", "> 1 (INT8 faster)"
    outcome, int8 = attempt(
        lambda: create_session(default_int8_model()), expected=EXPECTED
    )  # fmt: skip
    if int8 is None:
        return Row(name, goal=goal, outcome=outcome)
    x = random_input(session, 1)
    fp32_feed = {session.get_inputs()[0].name: x}
    int8_feed = {int8.get_inputs()[0].name: x}
    stats = interleaved(
        {"fp32": lambda: session.run(None, fp32_feed), "int8": lambda: int8.run(None, int8_feed)},
        repeats,
    )
    ratio = stats["fp32"].p50_ms / stats["int8"].p50_ms
    values = {"fp32_p50_ms": stats["fp32"].p50_ms, "int8_p50_ms": stats["int8"].p50_ms}
    return Row(name, values, ratio, goal, ratio > 1)


def roofline_row(model: str | Path, session, repeats: int, progress: bool, batch: int = 8) -> Row:
    """Measured img/s at ``batch`` over the compute roofline: peak MatMul GFLOP/s divided by
    the GFLOP per image counted from the graph."""
    flops = model_flops(model)
    threads = session.get_session_options().intra_op_num_threads
    peak = matmul_gflops(threads=threads, repeats=max(5, repeats))
    fn, sync = session_runner(session, batch)
    stats = measure(fn, 1, max(3, repeats // 4), sync, batch, progress, f"batch {batch}")
    line = roofline(flops["gflop"], peak["gflops_best"], stats.throughput)
    values = {
        "gflop_per_image_counted": flops["gflop"],
        "gflop_per_image_quoted": QUOTED_RESNET50_GFLOP,
        "matmul_gflops": peak["gflops_best"],
        "threads": threads,
        "best_items_per_s": line["best_items_per_s"],
        "measured_items_per_s": stats.throughput,
        "batch": batch,
    }
    name = "measured / roofline img/s (FLOP per image over MatMul GFLOP/s)"
    fraction = line["fraction"]
    return Row(name, values, fraction, "<= 1 (the roofline bounds it)", fraction <= 1)


def run_suite(
    model: str | Path,
    repeats: int | None = None,
    progress: bool = True,
    http: bool = True,
    rows: Sequence[str] = ("torch", "kit", "http", "int8", "roofline"),
) -> list[Row]:
    """Run the suite's rows (all by default) on the CPU for ``model`` and return them."""
    if not Path(model).is_file():
        raise InputError(f"no such model file: {model}")
    repeats = repeats or DEFAULT_REPEATS
    session = create_session(model)
    out: list[Row] = [machine_row()]
    if "torch" in rows:
        out.append(ort_vs_torch(session, repeats))
    if "kit" in rows:
        out.append(kit_vs_raw(model, session, repeats, progress))
    if "http" in rows and http:
        out += http_rows(model, max(3, repeats // 3))
    if "int8" in rows:
        out.append(int8_vs_fp32(session, repeats))
    if "roofline" in rows:
        out.append(roofline_row(model, session, repeats, progress))
    return out


def format_suite(rows: Sequence[Row]) -> str:
    """Two lines per row: name, ratio, goal and whether it was met (or the outcome when the
    row did not run); then the measured values."""
    lines = []
    for row in rows:
        ratio = f"{row.ratio:.3f}" if row.ratio is not None else "—"
        status = f"met: {cell(row.met)}" if row.met is not None else ""
        tail = status if row.outcome.ok else str(row.outcome)
        lines.append(f"{row.name}\n    ratio {ratio}   goal {row.goal or '—'}   {tail}".rstrip())
        if row.values:
            lines.append("    " + ", ".join(f"{k} {cell(v)}" for k, v in row.values.items()))
    return "\n".join(lines)
