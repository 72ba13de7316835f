"""The benchmark suite (``mllab bench --suite``): the kit's speed goals, measured side by side.

Every row is measured in the same run, on this machine, and stated as a ratio beside its goal
(``met`` says, as data, which side of the goal the ratio fell); nothing is asserted (a shared
2-core machine is too noisy for a pass/fail test) and no figure is hard-coded. Workloads
compared in one row are timed *interleaved* (one call of each in turn,
:func:`mllab.measure.stats.interleaved`), so that a slow moment of the machine hits both sides
alike; PyTorch gets a longer warm-up (oneDNN builds its kernels on the first calls).

Rows: ONNX Runtime vs PyTorch eager latency at batch 1; the kit's path (``create_session`` +
:func:`mllab.measure.harness.measure`) vs the lecture's raw ``session.run`` loop; HTTP vs
in-process per request body kind; INT8 vs fp32 speed; the roofline: the model's FLOPs over
ONNX Runtime's measured MatMul GFLOP/s on this CPU; and OpenVINO / ONNX Runtime on the same
model and threads (:mod:`mllab.measure.runtimes`: the runtime a user would pick instead).

The suite measures; it builds nothing of the layers above: the PyTorch model, the INT8 model,
the server and the CPU's name come in as :class:`Workloads` (callables the caller composes,
:mod:`mllab.cli.bench`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import onnxruntime as ort

from mllab.core.errors import InputError, MllabError
from mllab.core.outcome import Outcome, attempt
from mllab.core.tables import cell
from mllab.measure.harness import lecture_loop, measure
from mllab.measure.roofline import QUOTED_RESNET50_GFLOP, matmul_gflops, model_flops, roofline
from mllab.measure.runners import random_input, session_runner
from mllab.measure.runtimes import compare_runtimes
from mllab.measure.stats import interleaved
from mllab.runtime.cgroup import usable_cpus
from mllab.runtime.sessions import create_session

DEFAULT_REPEATS = 15
TORCH_WARMUP = 5
#: ORT p50 / torch eager p50 at batch 1: the kit's goal for ONNX Runtime's speed-up
ORT_OVER_TORCH_GOAL = 0.65
#: the kit's path must keep this share of the raw ``session.run`` loop's throughput
KIT_OVER_RAW_GOAL = 0.9
#: HTTP / in-process at batch 1 that the image and binary bodies should stay under
HTTP_OVER_IN_PROCESS_GOAL = 1.15
#: the body kinds that goal applies to (the JSON list body shows what 3 MB of text costs)
HTTP_GOAL_BODIES = ("image", "npy", "raw")
#: what a suite row may fail with without stopping the others (a missing export, a server
#: that does not start, a port in use)
EXPECTED = (MllabError, OSError)
ROWS = ("torch", "kit", "http", "int8", "roofline", "openvino")


class BodyRatio(Protocol):
    """One body kind of an HTTP overhead measurement (a dataclass with these fields)."""

    body: str
    ratio: float


class HttpTable(Protocol):
    """HTTP vs in-process latency per body kind (``experiments.serving.http_overhead``)."""

    @property
    def bodies(self) -> Sequence[BodyRatio]: ...


@dataclass(frozen=True)
class Workloads:
    """What the suite times but may not build itself (it lives in the layers above).

    ``torch``: a zero-argument call that builds the PyTorch eager batch-1 workload and returns
    the callable to time. ``int8``: opens the INT8 model's session. ``http``: measures HTTP vs
    in-process latency with ``repeats`` timed rounds (starting a server). ``cpu``: the CPU's
    name, the context of every ratio.
    """

    torch: Callable[[], Callable[[], Any]]
    int8: Callable[[], ort.InferenceSession]
    http: Callable[[int], HttpTable]
    cpu: str | None = None


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
        """Plain data for ``--json`` (the outcome as its text)."""
        return {**asdict(self), "outcome": str(self.outcome)}


def machine_row(cpu: str | None = None) -> Row:
    """The context of every ratio: CPU, usable cores and the load average when the suite ran
    (a load above the core count means other processes shared the CPUs: ratios are noisy)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    cores = usable_cpus()
    values = {"cpu": cpu, "usable_cpus": cores, "load_avg_1min": load}
    quiet = None if load is None else load <= cores
    return Row("machine (context of the ratios below)", values, None, "load <= usable cpus", quiet)


def ort_vs_torch(session: ort.InferenceSession, torch_fn: Callable[[], Any], repeats: int) -> Row:
    """ORT / PyTorch eager p50 latency at batch 1 (goal ≤ :data:`ORT_OVER_TORCH_GOAL`);
    ``torch_fn`` runs the same model in PyTorch on a batch of one."""
    x = random_input(session, 1)
    feed = {session.get_inputs()[0].name: x}
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


def kit_vs_raw(
    model: str | Path,
    session: ort.InferenceSession,
    repeats: int,
    progress: bool,
    rounds: int = 2,
) -> Row:
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


def http_goals(table: HttpTable) -> dict[str, bool]:
    """Per body kind of :data:`HTTP_GOAL_BODIES` in ``table``: is HTTP / in-process within
    :data:`HTTP_OVER_IN_PROCESS_GOAL`?"""
    ratios = {body.body: body.ratio for body in table.bodies}
    return {
        kind: ratios[kind] <= HTTP_OVER_IN_PROCESS_GOAL
        for kind in HTTP_GOAL_BODIES
        if kind in ratios
    }


def http_rows(measure_http: Callable[[int], HttpTable], repeats: int) -> list[Row]:
    """HTTP / in-process latency per body kind (goal ≤ :data:`HTTP_OVER_IN_PROCESS_GOAL` for
    the image and binary bodies, reported for JSON); one row with the outcome when that
    measurement cannot run here (``measure_http(repeats)`` failed with an expected error)."""
    outcome, table = attempt(measure_http, repeats, expected=EXPECTED)
    if table is None:
        return [Row("HTTP / in-process latency", goal="reported", outcome=outcome)]
    goals = http_goals(table)
    rows = []
    for body in table.bodies:
        values = {k: v for k, v in vars(body).items() if k not in ("body", "ratio")}
        if body.body in goals:
            goal, met = f"<= {HTTP_OVER_IN_PROCESS_GOAL}", goals[body.body]
        else:
            goal, met = "reported (no goal: the cost of HTTP for this body)", None
        name = f"HTTP / in-process latency, {body.body} body"
        rows.append(Row(name, values, body.ratio, goal, met))
    return rows


def int8_vs_fp32(
    session: ort.InferenceSession,
    int8: ort.InferenceSession,
    repeats: int,
    batch: int = 1,
    warmup: int = 2,
) -> Row:
    """fp32 / INT8 p50 latency on the same ``batch``, interleaved: the INT8 model's speed-up
    (goal > 1)."""
    x = random_input(session, batch)
    fp32_feed = {session.get_inputs()[0].name: x}
    int8_feed = {int8.get_inputs()[0].name: x}
    stats = interleaved(
        {"fp32": lambda: session.run(None, fp32_feed), "int8": lambda: int8.run(None, int8_feed)},
        repeats,
        warmup,
    )
    ratio = stats["fp32"].p50_ms / stats["int8"].p50_ms
    values: dict[str, Any] = {"batch": batch}
    for kind in ("fp32", "int8"):
        values |= {f"{kind}_p50_ms": stats[kind].p50_ms, f"{kind}_p90_ms": stats[kind].p90_ms}
    name = f"fp32 / INT8 latency, batch {batch} (INT8 speed-up)"
    return Row(name, values, ratio, "> 1 (INT8 faster)", ratio > 1)


def int8_row(
    session: ort.InferenceSession, open_int8: Callable[[], ort.InferenceSession], repeats: int
) -> Row:
    """:func:`int8_vs_fp32` at batch 1, or the outcome when the INT8 model cannot be opened."""
    outcome, int8 = attempt(open_int8, expected=EXPECTED)
    if int8 is None:
        name = "fp32 / INT8 latency, batch 1 (INT8 speed-up)"
        return Row(name, goal="> 1 (INT8 faster)", outcome=outcome)
    return int8_vs_fp32(session, int8, repeats)


def roofline_row(
    model: str | Path,
    session: ort.InferenceSession,
    repeats: int,
    progress: bool,
    batch: int = 8,
) -> Row:
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


def openvino_row(model: str | Path, repeats: int, rounds: int = 3) -> Row:
    """OpenVINO / ONNX Runtime p50 latency at batch 1 on ``model`` (fp32, the same threads,
    interleaved in ``rounds``; reported, no goal), with the best throughput of each over batches
    1 and 4 and the cases :meth:`~mllab.measure.runtimes.RuntimeComparison.case` computes from
    the spread; the outcome when OpenVINO cannot run here."""
    name = "OpenVINO / ORT latency, batch 1 (p50, same threads)"
    goal = "reported (< 1: OpenVINO faster)"
    comparison = compare_runtimes(model, rounds=rounds, repeats=max(2, repeats // rounds))
    pair = comparison.pair("fp32")
    if pair is None:  # OpenVINO's row says why (not installed, could not compile the model)
        ov = comparison.row("openvino", "fp32")
        why = ov.outcome if ov is not None and not ov.outcome.ok else Outcome.not_run("no pair")
        return Row(name, goal=goal, outcome=why)
    ort_row, ov_row = pair
    values = {
        "ort_p50_ms": ort_row.p50_ms,
        "openvino_p50_ms": ov_row.p50_ms,
        "spreads_ms": (ort_row.spread_ms or 0) + (ov_row.spread_ms or 0),
        "latency": comparison.case("fp32"),
        "throughput_ratio": comparison.throughput_ratio("fp32"),
        "throughput": comparison.throughput_case("fp32"),
        "max_abs_diff": ov_row.max_abs_diff,
        "threads": ov_row.threads,
        "openvino": comparison.versions.get("openvino"),
    }
    return Row(name, values, comparison.latency_ratio("fp32"), goal, None)


def run_suite(
    model: str | Path,
    workloads: Workloads,
    repeats: int | None = None,
    progress: bool = True,
    rows: Sequence[str] = ROWS,
) -> list[Row]:
    """Run the suite's ``rows`` (all of :data:`ROWS` by default) on the CPU for ``model``."""
    if not Path(model).is_file():
        raise InputError(f"no such model file: {model}")
    unknown = set(rows) - set(ROWS)
    if unknown:
        raise InputError(f"suite rows are among {', '.join(ROWS)}, not {sorted(unknown)}")
    repeats = repeats or DEFAULT_REPEATS
    session = create_session(model)
    makers: Mapping[str, Callable[[], list[Row]]] = {
        "torch": lambda: [ort_vs_torch(session, workloads.torch(), repeats)],
        "kit": lambda: [kit_vs_raw(model, session, repeats, progress)],
        "http": lambda: http_rows(workloads.http, max(3, repeats // 3)),
        "int8": lambda: [int8_row(session, workloads.int8, repeats)],
        "roofline": lambda: [roofline_row(model, session, repeats, progress)],
        "openvino": lambda: [openvino_row(model, repeats)],
    }
    out = [machine_row(workloads.cpu)]
    for name in ROWS:
        if name in rows:
            out += makers[name]()
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
