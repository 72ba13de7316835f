"""ONNX Runtime against OpenVINO on the CPU: the same ONNX file, the same threads, one run.

The kit serves with ONNX Runtime; on a CPU the runtime a user would pick instead is OpenVINO
(:mod:`mllab.runtime.openvino_runtime`). :func:`compare_runtimes` times both on the same model
and the same inputs, *interleaved* (one call of each in turn, :func:`mllab.measure.stats.
interleaved`) in ``rounds`` rounds, so that a slow moment of a shared machine hits both alike and
the rounds give the run-to-run spread:

* batch-1 latency: the p50 of every timed call, and the spread = max − min of the rounds' p50s;
* throughput at each batch size of ``batches`` (images over the wall time of the calls), the best
  one, and its spread over the rounds;
* Δ: the outputs on the same inputs against ONNX Runtime's at the same precision (max |logit
  diff| and top-1 agreement, :func:`mllab.measure.drift.compare`); ONNX Runtime's INT8 row is
  set against its fp32 row (what quantization alone moves).

fp32 always; INT8 when an INT8 QDQ model is given (``mllab.model.quantize`` makes it: the layer
above passes the file in) and OpenVINO compiles it, else its rows say why they did not run.
:meth:`RuntimeComparison.case` says, from the numbers, whether OpenVINO is faster, slower or not
measurably different (the gap within the two spreads added); the sentence a lab prints is
:func:`mllab.report.interpret.runtimes.read_runtimes`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mllab.core.errors import InputError, ProviderUnavailable
from mllab.core.outcome import Outcome
from mllab.measure.drift import compare
from mllab.measure.runners import random_input
from mllab.measure.stats import Stats, interleaved
from mllab.runtime.openvino_runtime import compile_openvino, openvino_version
from mllab.runtime.sessions import create_session

RUNTIMES = ("onnxruntime", "openvino")
PRECISIONS = ("fp32", "int8")
DEFAULT_BATCHES = (1, 4)
Run = Callable[[np.ndarray], np.ndarray]


@dataclass
class RuntimeRow:
    """One runtime at one precision: what ran, its batch-1 latency, its best throughput and its
    outputs' Δ against ``reference`` (None where it is the reference or did not run)."""

    runtime: str  # onnxruntime | openvino
    precision: str  # fp32 | int8 (the model file)
    outcome: Outcome = field(default_factory=Outcome.ran)
    threads: int | None = None
    kernels: str = ""  # what ran: the provider, or OpenVINO's precision hint and compute ops
    p50_ms: float | None = None  # batch 1, every timed call of every round
    spread_ms: float | None = None  # max − min of the rounds' batch-1 p50s
    round_p50_ms: list[float] = field(default_factory=list)
    items_per_s: list[float] = field(default_factory=list)  # per batch of the comparison
    best_batch: int | None = None
    best_items_per_s: float | None = None
    best_spread: float | None = None  # items/s: max − min over the rounds at the best batch
    reference: str = ""  # what Δ is against: "onnxruntime fp32", ...
    max_abs_diff: float | None = None
    top1_agreement: float | None = None

    @property
    def measured(self) -> bool:
        """True when the row ran and has a latency and a throughput."""
        return self.outcome.ok and self.p50_ms is not None and self.best_items_per_s is not None


@dataclass
class RuntimeComparison:
    """ONNX Runtime and OpenVINO side by side (one :class:`RuntimeRow` per runtime and
    precision), measured interleaved in one run."""

    batches: list[int]
    rounds: int
    repeats: int  # images per round, runtime and batch size (at least one call)
    samples: int  # inputs the Δ is measured on
    versions: dict[str, str | None]
    rows: list[RuntimeRow]

    SCHEMA_VERSION: ClassVar[int] = 1

    def row(self, runtime: str, precision: str = "fp32") -> RuntimeRow | None:
        """The row of ``runtime`` at ``precision``, if there is one."""
        found = [r for r in self.rows if r.runtime == runtime and r.precision == precision]
        return found[0] if found else None

    def pair(self, precision: str = "fp32") -> tuple[RuntimeRow, RuntimeRow] | None:
        """(ONNX Runtime, OpenVINO) at ``precision`` when both were measured, else None."""
        ort, ov = self.row("onnxruntime", precision), self.row("openvino", precision)
        if ort is None or ov is None or not (ort.measured and ov.measured):
            return None
        return ort, ov

    def latency_ratio(self, precision: str = "fp32") -> float | None:
        """OpenVINO p50 / ONNX Runtime p50 at batch 1: below 1 when OpenVINO is faster."""
        pair = self.pair(precision)
        return None if pair is None else _ratio(pair[1].p50_ms, pair[0].p50_ms)

    def throughput_ratio(self, precision: str = "fp32") -> float | None:
        """OpenVINO's best img/s over ONNX Runtime's: above 1 when OpenVINO is faster."""
        pair = self.pair(precision)
        return None if pair is None else _ratio(pair[1].best_items_per_s, pair[0].best_items_per_s)

    def case(self, precision: str = "fp32") -> str:
        """Batch-1 latency: ``faster`` / ``slower`` (OpenVINO's p50 beyond the two spreads
        added), ``same`` (within them) or ``not measured``."""
        pair = self.pair(precision)
        if pair is None:
            return "not measured"
        ort, ov = pair
        return _differ(ov.p50_ms, ort.p50_ms, (ov.spread_ms or 0) + (ort.spread_ms or 0), True)

    def throughput_case(self, precision: str = "fp32") -> str:
        """Best throughput: ``faster`` / ``slower`` / ``same`` by the same rule, or
        ``not measured``."""
        pair = self.pair(precision)
        if pair is None:
            return "not measured"
        ort, ov = pair
        line = (ov.best_spread or 0) + (ort.best_spread or 0)
        return _differ(ov.best_items_per_s, ort.best_items_per_s, line, False)

    def table(self) -> list[dict[str, Any]]:
        """One plain row per runtime and precision (for :func:`mllab.core.tables.format_table`)."""
        out = []
        for r in self.rows:
            out.append(
                {
                    "runtime": r.runtime,
                    "precision": r.precision,
                    "threads": r.threads,
                    "p50 ms (batch 1)": r.p50_ms,
                    "spread ms": r.spread_ms,
                    "best img/s": r.best_items_per_s,
                    "at batch": r.best_batch,
                    "img/s spread": r.best_spread,
                    "Δ against": r.reference or None,
                    "max |diff|": r.max_abs_diff,
                    "top-1 agree": r.top1_agreement,
                    "kernels": r.kernels,
                    "outcome": r.outcome,
                }
            )
        return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _differ(candidate: Any, reference: Any, line: float, lower_is_faster: bool) -> str:
    """``same`` when |candidate − reference| ≤ ``line``, else ``faster`` or ``slower``."""
    if abs(candidate - reference) <= line:
        return "same"
    better = candidate < reference if lower_is_faster else candidate > reference
    return "faster" if better else "slower"


def not_run(why: str, batches: Sequence[int] = DEFAULT_BATCHES) -> RuntimeComparison:
    """A comparison whose every row did not run, for ``why`` (OpenVINO switched off, say)."""
    rows = [RuntimeRow(rt, p, Outcome.not_run(why)) for p in PRECISIONS for rt in RUNTIMES]
    return RuntimeComparison(list(batches), 0, 0, 0, {}, rows)


def _time(runs: dict[str, Run], x: np.ndarray, rounds: int, calls: int) -> dict[str, list[Stats]]:
    """``calls`` interleaved calls of each run per round, ``rounds`` times, on the batch ``x``:
    the rounds' :class:`Stats` per name."""
    for run in runs.values():  # warm-up: OpenVINO specialises its kernels for a new shape
        run(x)
    timed: dict[str, list[Stats]] = {name: [] for name in runs}
    fns: dict[str, Callable[[], Any]] = {name: partial(run, x) for name, run in runs.items()}
    for _ in range(rounds):
        for name, stats in interleaved(fns, calls, warmup=0).items():
            timed[name].append(stats)
    return timed


def _fill_timings(row: RuntimeRow, batches: list[int], timed: dict[int, list[Stats]]) -> None:
    """Latency at batch 1 and throughput per batch from ``timed[batch]`` (one Stats a round)."""
    ones = timed[1]
    row.p50_ms = float(np.median([v for s in ones for v in s.samples_ms]))
    row.round_p50_ms = [s.p50_ms for s in ones]
    row.spread_ms = max(row.round_p50_ms) - min(row.round_p50_ms)

    def rate(stats: Sequence[Stats], batch: int) -> float:
        total_s = sum(sum(s.samples_ms) for s in stats) / 1000.0
        return batch * sum(len(s.samples_ms) for s in stats) / total_s if total_s else math.inf

    row.items_per_s = [rate(timed[b], b) for b in batches]
    best = int(np.argmax(row.items_per_s))
    row.best_batch, row.best_items_per_s = batches[best], row.items_per_s[best]
    per_round = [rate([s], batches[best]) for s in timed[batches[best]]]
    row.best_spread = max(per_round) - min(per_round)


def _measure_pair(
    rows: dict[str, RuntimeRow],
    runs: dict[str, Run],
    make_input: Callable[[int], np.ndarray],
    batches: list[int],
    rounds: int,
    repeats: int,
) -> None:
    """Time the ``runs`` (by runtime) interleaved at every batch on ``make_input(batch)`` and
    fill their ``rows``."""
    per_batch = {
        b: _time(runs, make_input(b), rounds, max(1, math.ceil(repeats / b))) for b in batches
    }
    for name, row in rows.items():
        _fill_timings(row, batches, {b: per_batch[b][name] for b in batches})


def _delta(row: RuntimeRow, out: np.ndarray, ref: np.ndarray, reference: str) -> None:
    """Fill ``row``'s Δ: ``out`` against the ``reference`` runtime's outputs ``ref``."""
    drift = compare(out, ref)
    row.reference = reference
    row.max_abs_diff, row.top1_agreement = drift.max_abs, drift.top1_agreement


def _ort(
    model: str | Path, precision: str, threads: int | None
) -> tuple[Run, RuntimeRow, Callable[[int], np.ndarray]]:
    """ONNX Runtime's ``x -> logits`` on the CPU (a verified session), its row, and a maker of
    seeded random batches of the model's input shape."""
    session = create_session(model, threads=threads)
    name = session.get_inputs()[0].name
    row_threads = int(session.get_session_options().intra_op_num_threads)

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {name: x})[0])

    kernels = session.get_providers()[0]
    row = RuntimeRow("onnxruntime", precision, threads=row_threads, kernels=kernels)
    return run, row, lambda batch: random_input(session, batch)


def compare_runtimes(
    model: str | Path,
    int8_model: str | Path | None = None,
    batches: Sequence[int] = DEFAULT_BATCHES,
    rounds: int = 3,
    repeats: int = 4,
    inputs: np.ndarray | None = None,
    threads: int | None = None,
) -> RuntimeComparison:
    """ONNX Runtime and OpenVINO on ``model`` (and on ``int8_model`` when given), same threads.

    ``rounds`` (≥ 2: their spread is the line between different and the same) of ``repeats``
    images per runtime at each batch size (one call at least); ``batches`` must include 1 (the
    latency). ``inputs`` (default: 4 seeded random inputs) are what Δ is measured on: pass
    real photos for a top-1 agreement that means something. ``threads``: default the cgroup
    quota, ONNX Runtime's and OpenVINO's alike.
    """
    import onnxruntime  # the version for the record; already loaded by create_session

    batches = sorted(set(batches))
    if 1 not in batches or batches[0] < 1:
        raise InputError(f"batches must be >= 1 and include 1 (the latency), not {batches}")
    if rounds < 2 or repeats < 1:
        raise InputError(f"need rounds >= 2 (the spread) and repeats >= 1, not {rounds}, {repeats}")
    rows: list[RuntimeRow] = []
    x = None if inputs is None else np.asarray(inputs, dtype=np.float32)
    ort_fp32: np.ndarray | None = None
    for precision, path in (("fp32", model), ("int8", int8_model)):
        if path is None:
            why = "no INT8 model was given"
            rows += [RuntimeRow(rt, precision, Outcome.not_run(why)) for rt in RUNTIMES]
            continue
        ort_run, ort_row, make_input = _ort(path, precision, threads)
        x = make_input(4) if x is None else x  # seeded: the same for both precisions
        ort_out = ort_run(x)
        if ort_fp32 is None:
            ort_fp32 = ort_out
        else:  # INT8 on ONNX Runtime against its fp32: what quantization alone moves
            _delta(ort_row, ort_out, ort_fp32, "onnxruntime fp32")
        try:
            ov = compile_openvino(path, threads=ort_row.threads)
        except ProviderUnavailable as error:
            ort_row.outcome = Outcome.not_run(f"nothing to compare it with: {error}")
            rows += [ort_row, RuntimeRow("openvino", precision, Outcome.not_run(str(error)))]
            continue
        ops = ", ".join(f"{n} {p} ops" for p, n in sorted(ov.kernel_precisions().items()))
        ov_row = RuntimeRow("openvino", precision, threads=ov.threads)
        ov_row.kernels = f"{ov.precision} hint, {ops}"  # "f32 hint, 54 u8 ops": INT8 kernels ran
        pair = {"onnxruntime": ort_row, "openvino": ov_row}
        runs = {"onnxruntime": ort_run, "openvino": ov.run}
        _measure_pair(pair, runs, make_input, batches, rounds, repeats)
        _delta(ov_row, ov.run(x), ort_out, f"onnxruntime {precision}")
        rows += [ort_row, ov_row]
    versions = {"onnxruntime": onnxruntime.__version__, "openvino": openvino_version()}
    samples = 0 if x is None else int(x.shape[0])
    return RuntimeComparison(batches, rounds, repeats, samples, versions, rows)
