"""The benchmark suite (``mllab bench --suite``): the kit's speed goals, measured side by side.

Every row is measured in the same run, on this machine, and stated as a ratio against its
goal; nothing is asserted (a shared 2-core machine is too noisy for a pass/fail test) and no
figure is hard-coded. Workloads compared in one row are timed *interleaved* (one call of each
in turn, :func:`mllab.measure.stats.interleaved`), so that a slow moment of the machine hits both
sides alike; PyTorch gets a longer warm-up (oneDNN builds its kernels on the first calls).

Rows: ONNX Runtime vs PyTorch eager latency at batch 1; the kit's path (``create_session`` +
:func:`mllab.measure.bench.measure`) vs the lecture's raw ``session.run`` loop; HTTP vs in-process per
request body kind (:func:`mllab.serve.client.http_overhead`); INT8 vs fp32 speed; and the
roofline: the model's FLOPs over ONNX Runtime's measured MatMul GFLOP/s on this CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mllab.measure.bench import measure, random_input, torch_runner
from mllab.measure.stats import interleaved

DEFAULT_REPEATS = 15
TORCH_WARMUP = 5


@dataclass
class Row:
    """One line of the suite: what was measured, the ratio, its goal and the verdict."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    ratio: float | None = None
    goal: str = ""
    verdict: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def machine_row() -> Row:
    """The context of every ratio: CPU, usable cores and the load average when the suite ran
    (a load above the core count means other processes shared the CPUs: ratios are noisy)."""
    import os

    from mllab.runtime.cgroup import usable_cpus
    from mllab.experiments.fingerprint import cpu_info

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    cores = usable_cpus()
    busy = load is not None and load > cores
    return Row(
        "machine (context of the ratios below)",
        {"cpu": cpu_info()["model"], "usable_cpus": cores, "load_avg_1min": load},
        None,
        "load <= usable cpus",
        "busy: other processes share the CPUs, ratios are noisy" if busy else "quiet enough",
    )


def _verdict(ratio: float, goal: float, at_most: bool) -> str:
    met = ratio <= goal if at_most else ratio >= goal
    return "meets the goal" if met else "misses the goal"


def ort_vs_torch(session, repeats: int) -> Row:
    """ORT / PyTorch eager p50 latency at batch 1 (goal ≤ 0.65)."""
    x = random_input(session, 1)
    feed = {session.get_inputs()[0].name: x}
    torch_fn, _ = torch_runner(1, "cpu")
    for _ in range(TORCH_WARMUP):
        torch_fn()
    stats = interleaved({"ort": lambda: session.run(None, feed), "torch": torch_fn}, repeats)
    ratio = stats["ort"].median_ms / stats["torch"].median_ms
    return Row(
        "ORT / torch eager latency, batch 1 (p50)",
        {
            "ort_p50_ms": stats["ort"].median_ms,
            "torch_p50_ms": stats["torch"].median_ms,
            "ratio_of_min": stats["ort"].min_ms / stats["torch"].min_ms,  # least disturbed runs
        },
        ratio,
        "<= 0.65",
        _verdict(ratio, 0.65, at_most=True),
    )


def kit_vs_raw(model: str | Path, session, repeats: int, progress: bool, rounds: int = 2) -> Row:
    """Throughput of the kit's path vs the lecture's loop on a default session (goal ≥ 0.9).

    Raw: ``ort.InferenceSession(model)`` with ORT's defaults and the lecture's ``time.time()``
    loop. Kit: :func:`mllab.runtime.sessions.create_session` and :func:`mllab.measure.bench.measure`, progress
    bar included. Alternated ``rounds`` times; total items over total time on each side.
    """
    import onnxruntime as ort

    from mllab.measure.bench import lecture_loop

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
    return Row(
        "kit path / raw session.run loop, throughput",
        {
            "kit_items_per_s": kit_tp,
            "raw_items_per_s": raw_tp,
            "kit_threads": session.get_session_options().intra_op_num_threads,
        },
        ratio,
        ">= 0.9",
        _verdict(ratio, 0.9, at_most=False),
    )


def http_rows(model: str | Path, repeats: int) -> list[Row]:
    """HTTP / in-process latency per body kind, from the serving client; one "not available"
    row, with the reason, when that measurement cannot run here."""
    try:
        from mllab.serve.client import http_overhead

        table = http_overhead(model, repeats=repeats, warmup=2)
    except Exception as error:  # noqa: BLE001 - any failure becomes a reported row, not a crash
        return [
            Row(
                "HTTP / in-process latency",
                goal="reported",
                verdict=f"not available: {type(error).__name__}: {error}",
            )
        ]
    rows = []
    for kind, values in table.items():
        ratio = values.get("ratio")
        rows.append(
            Row(
                f"HTTP / in-process latency, {kind} body",
                {k: v for k, v in values.items() if k != "ratio"},
                ratio,
                values.get("goal", "reported (no goal: the cost of HTTP for this body)"),
                "measured",
            )
        )
    return rows


def int8_vs_fp32(session, repeats: int) -> Row:
    """fp32 / INT8 latency at batch 1: the INT8 model's speed-up (goal > 1)."""
    from mllab.model.quantize import default_int8_model
    from mllab.runtime.sessions import create_session

    try:
        int8 = create_session(default_int8_model())
    except Exception as error:  # noqa: BLE001 - reported, not a crash of the whole suite
        return Row("fp32 / INT8 latency, batch 1", verdict=f"not available: {error}")
    x = random_input(session, 1)
    name = session.get_inputs()[0].name
    stats = interleaved(
        {
            "fp32": lambda: session.run(None, {name: x}),
            "int8": lambda: int8.run(None, {int8.get_inputs()[0].name: x}),
        },
        repeats,
    )
    ratio = stats["fp32"].median_ms / stats["int8"].median_ms
    return Row(
        "fp32 / INT8 latency, batch 1 (INT8 speed-up)",
        {"fp32_p50_ms": stats["fp32"].median_ms, "int8_p50_ms": stats["int8"].median_ms},
        ratio,
        "> 1 (INT8 faster)",
        "INT8 is faster" if ratio > 1 else "INT8 is not faster here",
    )


def roofline_row(model: str | Path, session, repeats: int, progress: bool, batch: int = 8) -> Row:
    """Measured img/s at ``batch`` over the compute roofline: peak MatMul GFLOP/s divided by
    the GFLOP per image counted from the graph."""
    from mllab.measure.bench import session_runner
    from mllab.measure.roofline import QUOTED_RESNET50_GFLOP, matmul_gflops, model_flops, roofline

    flops = model_flops(model)
    threads = session.get_session_options().intra_op_num_threads
    peak = matmul_gflops(threads=threads, repeats=max(5, repeats))
    fn, sync = session_runner(session, batch)
    stats = measure(fn, 1, max(3, repeats // 4), sync, batch, progress, f"batch {batch}")
    line = roofline(flops["gflop"], peak["gflops_best"], stats.throughput)
    return Row(
        "measured / roofline img/s (FLOP per image over MatMul GFLOP/s)",
        {
            "gflop_per_image_counted": flops["gflop"],
            "gflop_per_image_quoted": QUOTED_RESNET50_GFLOP,
            "matmul_gflops": peak["gflops_best"],
            "threads": threads,
            "best_items_per_s": line["best_items_per_s"],
            "measured_items_per_s": stats.throughput,
            "batch": batch,
        },
        line["fraction"],
        "<= 1 (the roofline bounds it)",
        f"{line['fraction']:.0%} of the MatMul roofline",
    )


def run_suite(
    model: str | Path | None = None,
    repeats: int | None = None,
    progress: bool = True,
    http: bool = True,
    rows: Sequence[str] = ("torch", "kit", "http", "int8", "roofline"),
) -> list[Row]:
    """Run the suite's rows (all by default) on the CPU and return them."""
    from mllab.core.errors import InputError
    from mllab.runtime.sessions import create_session

    if model is None:
        from mllab.model.export import default_model

        model = default_model()
    elif not Path(model).is_file():
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
    """Two lines per row: name, ratio, goal and verdict; then the measured values."""
    lines = []
    for row in rows:
        ratio = f"{row.ratio:.3f}" if row.ratio is not None else "—"
        lines.append(f"{row.name}\n    ratio {ratio}   goal {row.goal or '—'}   {row.verdict}")
        if row.values:
            values = ", ".join(f"{k} {_short(v)}" for k, v in row.values.items())
            lines.append(f"    {values}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
