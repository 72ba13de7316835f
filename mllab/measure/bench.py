"""The benchmark harness: latency percentiles, throughput, the lecture's T(n) fit and n*.

The lecture times N runs with ``time.time()`` and reports L = (T_end − T_start)/N and
T = N/(T_end − T_start). This harness does the same with three corrections that matter on a
shared machine and on a GPU: untimed warm-up runs first (arenas, cuDNN algorithm search),
each run is timed on its own with ``perf_counter`` so that p50/p90/p99 show the spread, and a
device ``sync`` callback (``torch.cuda.synchronize``, ``IOBinding.synchronize_outputs``) is
called before the clock stops, because GPU launches return before the work is done.

Batching (lecture, "Parallelism and batch inference"): T(n) = n/(a + bn), a the fixed cost of
a call, b the cost per item. Since L(n) = n/T(n) = a + b·n is linear in n, :func:`fit_throughput`
fits a and b by least squares on the measured latencies and reports R²; :func:`best_batch`
picks n*, the batch of highest throughput whose latency stays under a bound.

``mllab.measure.stats`` (lab 01) keeps its small ``latency_ms``; :func:`measure` is the full version.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mllab.core.errors import InputError, ProviderUnavailable

PERCENTILES = (50, 90, 99)
DEFAULT_BATCHES = (1, 2, 4, 8)


@dataclass(frozen=True)
class Stats:
    """Timings of one workload: per-call latency in ms and throughput in items/s.

    ``throughput`` is ``batch × repeats / wall time`` of the whole timed loop, harness included
    (the lecture's T); the percentiles come from the per-call times.
    """

    name: str
    batch: int
    repeats: int
    mean_ms: float
    std_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    throughput: float
    samples_ms: tuple[float, ...] = field(repr=False, default=())

    def to_dict(self, samples: bool = False) -> dict[str, Any]:
        """Plain numbers for tables, JSON and ``mllab.core.records.record``."""
        data = asdict(self)
        if not samples:
            data.pop("samples_ms")
        return data


def summarize(
    samples_s: Sequence[float], batch: int = 1, name: str = "", wall_s: float | None = None
) -> Stats:
    """:class:`Stats` from per-call durations in seconds (``wall_s``: the loop's wall time,
    default their sum). Percentiles interpolate linearly, as ``numpy.percentile``."""
    if len(samples_s) == 0:
        raise InputError("no timings to summarize (repeats must be >= 1)")
    if batch < 1:
        raise InputError(f"batch must be >= 1, not {batch}")
    ms = np.asarray(samples_s, dtype=np.float64) * 1000.0
    p50, p90, p99 = np.percentile(ms, PERCENTILES)
    wall = float(ms.sum() / 1000.0) if wall_s is None else wall_s
    return Stats(
        name=name,
        batch=batch,
        repeats=len(ms),
        mean_ms=float(ms.mean()),
        std_ms=float(ms.std(ddof=1)) if len(ms) > 1 else 0.0,
        min_ms=float(ms.min()),
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        throughput=batch * len(ms) / wall if wall > 0 else math.inf,
        samples_ms=tuple(float(v) for v in ms),
    )


def measure(
    fn: Callable[[], Any],
    warmup: int = 3,
    repeats: int = 20,
    sync: Callable[[], Any] | None = None,
    batch: int = 1,
    progress: bool = True,
    name: str = "",
    budget_s: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Stats:
    """Time ``fn()``: ``warmup`` untimed calls, then up to ``repeats`` timed ones.

    ``sync`` is called after every call, inside the timed region (device synchronisation);
    ``batch`` is the number of items one call processes (for throughput). ``budget_s`` stops
    the timed loop early once that many seconds have passed (at least 3 calls are kept).
    ``clock`` is injectable so the statistics can be tested on a fake clock.
    """
    if repeats < 1 or warmup < 0:
        raise InputError(f"need repeats >= 1 and warmup >= 0, not {repeats} and {warmup}")
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    samples = []
    bar = _progress(repeats, name or "measure", progress)
    loop_start = clock()
    for _ in range(repeats):
        start = clock()
        fn()
        if sync:
            sync()
        samples.append(clock() - start)
        bar.update(1)
        if budget_s is not None and len(samples) >= 3 and clock() - loop_start > budget_s:
            break
    wall = clock() - loop_start
    bar.close()
    return summarize(samples, batch=batch, name=name, wall_s=wall)


def _progress(total: int, desc: str, enabled: bool):
    """A tqdm bar (text bar in a notebook too: widgets need ipywidgets), or a no-op."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, mininterval=0.5)


# --- inputs and runners --------------------------------------------------------------------


def random_input(session, batch: int, seed: int = 0) -> np.ndarray:
    """A standard-normal batch matching the session's first input (batch axis = ``batch``)."""
    meta = session.get_inputs()[0]
    shape = [batch if i == 0 else d for i, d in enumerate(meta.shape)]
    if not all(isinstance(d, int) and d > 0 for d in shape):
        raise InputError(
            f"cannot build an input for shape {meta.shape}: a non-batch axis is symbolic"
        )
    dtype = np.float16 if meta.type == "tensor(float16)" else np.float32
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def session_runner(session, batch: int, iobinding: bool | None = None):
    """``(fn, sync)`` running ``session`` on a random batch. I/O binding (inputs and outputs
    kept on the device) is used on CUDA/TensorRT by default, plain ``session.run`` on CPU."""
    from mllab.runtime.sessions import iobinding_runner, session_device

    x = random_input(session, batch)
    on_gpu = session_device(session)[0] == "cuda"
    if iobinding if iobinding is not None else on_gpu:
        return iobinding_runner(session, x)
    feed = {session.get_inputs()[0].name: x}
    return (lambda: session.run(None, feed)), None


def batch_sweep(
    target,
    batches: Sequence[int] = DEFAULT_BATCHES,
    warmup: int = 2,
    repeats: int = 10,
    progress: bool = True,
    name: str = "",
    budget_s: float | None = None,
) -> list[Stats]:
    """One :class:`Stats` per batch size. ``target`` is an ORT session, or a callable
    ``make(n) -> fn`` or ``make(n) -> (fn, sync)`` building the workload for batch ``n``."""
    batches = _check_batches(batches)
    results = []
    for n in _iter(batches, f"batch sweep {name}".strip(), progress):
        if hasattr(target, "get_inputs"):
            fn, sync = session_runner(target, n)
        else:
            made = target(n)
            fn, sync = made if isinstance(made, tuple) else (made, None)
        label = f"{name} n={n}".strip()
        stats = measure(fn, warmup, repeats, sync, n, False, label, budget_s)  # outer bar only
        results.append(stats)
    return results


def _check_batches(batches: Sequence[int]) -> list[int]:
    values = [int(b) for b in batches]
    if not values or any(b < 1 for b in values):
        raise InputError(f"batch sizes must be positive integers, not {list(batches)}")
    return sorted(set(values))


def _iter(items, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(items, desc=desc, disable=not enabled, leave=False)


def parse_batches(text: str) -> list[int]:
    """``"1,2,4,8"`` -> ``[1, 2, 4, 8]``, or :class:`InputError` saying what is wrong."""
    try:
        return _check_batches([int(part) for part in text.split(",") if part.strip()])
    except ValueError:
        raise InputError(f"--batches must be comma-separated integers, not {text!r}") from None


# --- the lecture's T(n) = n / (a + b n) ------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """L(n) = a + b·n (ms), i.e. T(n) = n/(a + b·n) items per ms; R² of the latency fit."""

    a_ms: float  # fixed cost of a call
    b_ms: float  # cost per item
    r2: float
    batches: tuple[int, ...]

    def latency_ms(self, n: float | np.ndarray) -> float | np.ndarray:
        """Predicted latency of a batch of ``n``."""
        return self.a_ms + self.b_ms * np.asarray(n, dtype=np.float64)

    def throughput(self, n: float | np.ndarray) -> float | np.ndarray:
        """Predicted T(n) in items/s."""
        n = np.asarray(n, dtype=np.float64)
        return 1000.0 * n / self.latency_ms(n)

    @property
    def max_throughput(self) -> float:
        """The asymptote T(∞) = 1/b (items/s): what batching can reach at best."""
        return 1000.0 / self.b_ms if self.b_ms > 0 else math.inf

    def n_star(self, latency_bound_ms: float) -> int | None:
        """Largest n with a + b·n ≤ bound (T(n) grows with n), None when even n = 1 is over."""
        if self.latency_ms(1) > latency_bound_ms:
            return None
        if self.b_ms <= 0:
            return None  # no per-item cost: the fit cannot bound n
        return int(math.floor((latency_bound_ms - self.a_ms) / self.b_ms))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "max_throughput": self.max_throughput}


def fit_throughput(n: Sequence[float], throughput: Sequence[float]) -> Fit:
    """Fit T(n) = n/(a + b·n) to measured throughputs (items/s) at batch sizes ``n``.

    1/T = a/n + b, so the latency per call L(n) = n/T(n) = a + b·n is linear in n: ordinary
    least squares on L gives a and b (ms); R² is that of the latency fit.
    """
    n = np.asarray(n, dtype=np.float64)
    t = np.asarray(throughput, dtype=np.float64)
    if n.shape != t.shape or n.ndim != 1:
        raise InputError(f"n and T must be 1-D and of equal length, not {n.shape} and {t.shape}")
    if len(np.unique(n)) < 2:
        raise InputError("fitting T(n) needs at least two different batch sizes")
    if (n <= 0).any() or (t <= 0).any() or not np.isfinite(t).all():
        raise InputError("batch sizes and throughputs must be positive and finite")
    latency = 1000.0 * n / t
    design = np.stack([np.ones_like(n), n], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, latency, rcond=None)
    residual = latency - (a + b * n)
    total = ((latency - latency.mean()) ** 2).sum()
    r2 = 1.0 - (residual**2).sum() / total if total > 0 else 1.0
    return Fit(float(a), float(b), float(r2), tuple(int(v) for v in n))


def claim_c7(fit: Fit, n_star: int | None, latency_bound_ms: float, min_r2: float = 0.95) -> dict:
    """The lecture's claim C7 stated on a measured sweep: T(n) = n/(a + bn) describes the
    throughput when the latency fit explains at least ``min_r2`` of the variance, and n* is the
    batch picked under the bound."""
    holds = fit.r2 >= min_r2
    return {
        "claim": "T(n) = n/(a + bn); pick n* maximising T(n) under a latency bound",
        "a_ms": fit.a_ms,
        "b_ms": fit.b_ms,
        "r2": fit.r2,
        "batches": list(fit.batches),
        "latency_bound_ms": latency_bound_ms,
        "n_star": n_star,
        "verdict": f"{'holds' if holds else 'does not hold'} (R² = {fit.r2:.3f}, "
        f"threshold {min_r2}); n* = {n_star} under {latency_bound_ms:g} ms",
    }


def fit_sweep(stats: Sequence[Stats]) -> Fit:
    """:func:`fit_throughput` on a batch sweep (mean latency, so T = n / mean L)."""
    return fit_throughput([s.batch for s in stats], [1000.0 * s.batch / s.mean_ms for s in stats])


def best_batch(
    stats: Sequence[Stats],
    fit: Fit | None = None,
    latency_bound_ms: float = 100.0,
    percentile: str = "p99",
) -> int | None:
    """n*: among the measured batches whose ``percentile`` latency is within the bound (and,
    given a ``fit``, whose fitted latency is too), the one with the highest throughput.

    None when no measured batch meets the bound.
    """
    key = f"{percentile}_ms" if percentile != "mean" else "mean_ms"
    if not stats or not hasattr(stats[0], key):
        raise InputError(f"percentile must be one of p50, p90, p99, mean, not {percentile!r}")
    feasible = [
        s
        for s in stats
        if getattr(s, key) <= latency_bound_ms
        and (fit is None or fit.latency_ms(s.batch) <= latency_bound_ms)
    ]
    if not feasible:
        return None
    return max(feasible, key=lambda s: (s.throughput, -s.batch)).batch


# --- tables and plots ----------------------------------------------------------------------

SWEEP_COLUMNS = ["batch", "repeats", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "throughput"]


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows of dicts as an aligned text table (floats with 4 significant digits)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    table = [[cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in table]
    return "\n".join(lines)


def sweep_table(stats: Sequence[Stats], fit: Fit | None = None) -> str:
    """The sweep as a table, with the fitted latency and throughput when ``fit`` is given."""
    rows = []
    for s in stats:
        row = s.to_dict()
        if fit is not None:
            row["fit_ms"] = float(fit.latency_ms(s.batch))
            row["fit_throughput"] = float(fit.throughput(s.batch))
        rows.append(row)
    extra = ["fit_ms", "fit_throughput"] if fit is not None else []
    return format_table(rows, SWEEP_COLUMNS + extra)


def plot_sweep(
    stats: Sequence[Stats],
    fit: Fit | None = None,
    latency_bound_ms: float | None = None,
    n_star: int | None = None,
    title: str = "",
):
    """Latency (p50 with p90–p99 whiskers) and throughput vs batch, with the fitted curves,
    the latency bound and n*. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    n = np.array([s.batch for s in stats], dtype=float)
    grid = np.linspace(1, n.max(), 200)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    p50 = np.array([s.p50_ms for s in stats])
    spread = np.array([[0.0] * len(stats), [s.p99_ms - s.p50_ms for s in stats]])
    left.errorbar(n, p50, yerr=spread, fmt="o", capsize=3, label="measured p50 (bar: p99)")
    right.plot(n, [s.throughput for s in stats], "o", label="measured T(n)")
    if fit is not None:
        left.plot(grid, fit.latency_ms(grid), "-", label=f"a + b·n (R² = {fit.r2:.3f})")
        curve = f"n/(a + bn), a={fit.a_ms:.3g} ms, b={fit.b_ms:.3g} ms"
        right.plot(grid, fit.throughput(grid), "-", label=curve)
    if latency_bound_ms is not None:
        left.axhline(latency_bound_ms, color="red", ls="--", label="latency bound")
    if n_star is not None:
        for axis in (left, right):
            axis.axvline(n_star, color="green", ls=":", label=f"n* = {n_star}")
    left.set(xlabel="batch n", ylabel="latency per call, ms", title="L(n)")
    right.set(xlabel="batch n", ylabel="throughput, items/s", title="T(n)")
    for axis in (left, right):
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- ONNX Runtime profiling ----------------------------------------------------------------


def profile_operators(
    model: str | Path,
    x: np.ndarray | None = None,
    top: int = 10,
    runs: int = 3,
    device: str = "cpu",
    batch: int = 1,
) -> list[dict[str, Any]]:
    """The most expensive operator types of ``model``, from ONNX Runtime's own profiler
    (``enable_profiling``; the JSON written by ``session.end_profiling()``).

    One warm-up run, then ``runs`` profiled runs; kernel events inside the profiled runs'
    ``model_run`` windows are summed by operator type (see :func:`operator_table`). The trace
    stays in ``artifacts/profiles/<model>-<device>.json`` (open it in chrome://tracing).
    """
    from mllab.core.paths import artifact
    from mllab.runtime.sessions import create_session

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
    return operator_table(json.loads(path.read_text()), top=top, skip_runs=1)


def graph_op_types(model: str | Path) -> dict[str, int]:
    """How many nodes of each operator type the ONNX graph holds (before ORT optimises it)."""
    import onnx

    proto = onnx.load(str(model), load_external_data=False)
    counts: dict[str, int] = {}
    for node in proto.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def operator_table(
    events: list[dict[str, Any]], top: int = 10, skip_runs: int = 0
) -> list[dict[str, Any]]:
    """Aggregate ORT profile events by operator type, most expensive first.

    Kernel events (``cat == "Node"``, name ``*_kernel_time``) are kept when they fall inside a
    ``model_run`` event after the first ``skip_runs`` (warm-up) runs. Rows: ``op_type``,
    ``calls`` and ``ms`` per run, ``share`` of all kernel time, ``provider`` and ``dtype`` (the
    element type the kernel really received: an fp16 model on the CPU runs ``float``). ORT
    reports the operator type it runs after graph optimisation (a Conv fused with its Relu
    stays ``Conv``, in the NCHWc layout on x86), so the table shows what really costs time.
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
        {
            "op_type": op,
            "calls": r["calls"] / len(windows),
            "ms": r["us"] / 1000.0 / len(windows),
            "share": r["us"] / grand if grand else 0.0,
            "provider": ",".join(sorted(r["providers"])),
            "dtype": ",".join(sorted(r["dtypes"])),
        }
        for op, r in totals.items()
    ]
    rows.sort(key=lambda r: r["ms"], reverse=True)
    return rows[:top]


# --- PyTorch reference paths ---------------------------------------------------------------


def require_torch_cuda() -> None:
    """:class:`ProviderUnavailable` naming why torch cannot use a GPU here (else nothing)."""
    import torch

    from mllab.experiments.fingerprint import nvidia_driver

    if torch.cuda.is_available():
        return
    if torch.version.cuda is None:
        why = f"this torch build ({torch.__version__}) has no CUDA support"
    elif nvidia_driver() is None:
        why = f"torch {torch.__version__} is built for CUDA {torch.version.cuda} but no NVIDIA "
        why += "GPU or driver was found (nvidia-smi and /proc/driver/nvidia are absent)"
    else:
        why = f"driver {nvidia_driver()} is present but torch.cuda.is_available() is False "
        why += f"(torch needs CUDA {torch.version.cuda}; the driver may be too old)"
    raise ProviderUnavailable(f"asked for torch on cuda, which is unavailable: {why}.")


def torch_runner(
    batch: int = 1, device: str = "cpu", precision: str = "fp32", model=None, seed: int = 0
):
    """``(fn, sync)`` running torchvision ResNet-50 in eager mode on a random batch.

    ``device="cuda"`` with ``precision="fp16"`` runs under ``torch.autocast`` (fp16 matmuls and
    convolutions, fp32 where autocast keeps it); ``sync`` is ``torch.cuda.synchronize`` on
    CUDA. CPU threads follow the cgroup quota, like the ONNX Runtime sessions.
    """
    import contextlib

    import torch

    from mllab.runtime.cgroup import usable_cpus

    if device not in ("cpu", "cuda") or precision not in ("fp32", "fp16"):
        raise InputError(
            f"device must be cpu|cuda and precision fp32|fp16, not {device}/{precision}"
        )
    if device == "cpu" and precision == "fp16":
        raise InputError("fp16 autocast is a CUDA path: on the CPU use precision='fp32'")
    if device == "cuda":
        require_torch_cuda()
    torch.set_num_threads(usable_cpus())
    if model is None:
        from mllab.model.resnet import load_resnet50

        model = load_resnet50(seed=seed)
    model = model.to(device).eval()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, 224, 224, generator=generator).to(device)
    autocast = (
        torch.autocast("cuda", dtype=torch.float16)
        if precision == "fp16"
        else contextlib.nullcontext()
    )

    def run():
        with torch.inference_mode(), autocast:
            return model(x)

    return run, (torch.cuda.synchronize if device == "cuda" else None)


def lecture_loop(session, x: np.ndarray, n: int = 100) -> dict[str, float]:
    """The lecture's own measurement, verbatim: ``time.time()`` around N ``session.run`` calls;
    returns L in ms and T in calls/s."""
    feed = {session.get_inputs()[0].name: x}
    start = time.time()
    for _ in range(n):
        _ = session.run(None, feed)
    end = time.time()
    return {"latency_ms": (end - start) / n * 1000, "throughput": n / (end - start)}


# --- the command line ----------------------------------------------------------------------


@dataclass
class BenchReport:
    """A single-device benchmark: the session, its sweep, the T(n) fit and n*."""

    model: str
    device: str
    provider: str
    threads: int
    stats: list[Stats]
    fit: Fit | None
    latency_bound_ms: float | None
    n_star: int | None

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items() if k not in ("stats", "fit")}
        data["stats"] = [s.to_dict() for s in self.stats]
        data["fit"] = self.fit.to_dict() if self.fit else None
        return data

    def lines(self) -> list[str]:
        """What ``mllab bench`` prints."""
        out = [f"{self.model} on {self.provider} ({self.threads} intra-op threads)"]
        out.append(sweep_table(self.stats, self.fit))
        if self.fit:
            out.append(
                f"T(n) = n/(a + bn): a = {self.fit.a_ms:.4g} ms, b = {self.fit.b_ms:.4g} ms/item, "
                f"R² = {self.fit.r2:.4f}, T(∞) = 1/b = {self.fit.max_throughput:.4g} items/s"
            )
        if self.latency_bound_ms is not None:
            out.append(f"n* under a p99 bound of {self.latency_bound_ms:g} ms: {self.n_star}")
        return out


def run_bench(
    model: str | Path | None = None,
    device: str = "cpu",
    batches: Sequence[int] = DEFAULT_BATCHES,
    warmup: int = 2,
    repeats: int = 10,
    latency_bound_ms: float | None = None,
    progress: bool = True,
) -> BenchReport:
    """A single-device benchmark: verified session, batch sweep, T(n) fit and n*."""
    from mllab.runtime.sessions import create_session, resolve_device

    if model is not None and not Path(model).is_file():
        raise InputError(f"no such model file: {model}")
    device = resolve_device(device)
    if device != "cpu":  # a missing GPU fails in a second, before any model is exported
        from mllab.measure.roofline import matmul_model

        create_session(matmul_model(16), device=device)
    if model is None:
        from mllab.model.export import default_model

        model = default_model()
    session = create_session(model, device=device)
    stats = batch_sweep(session, batches, warmup, repeats, progress, name=device)
    fit = fit_sweep(stats) if len(stats) > 1 else None
    bound = latency_bound_ms
    return BenchReport(
        model=str(model),
        device=device,
        provider=session.get_providers()[0],
        threads=session.get_session_options().intra_op_num_threads,
        stats=stats,
        fit=fit,
        latency_bound_ms=bound,
        n_star=best_batch(stats, fit, bound) if bound is not None else None,
    )


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.repeats is not None and args.repeats < 1:
        raise InputError(f"--repeats must be >= 1, not {args.repeats}")
    if args.suite:
        from mllab.experiments.suite import format_suite, run_suite

        rows = run_suite(model=args.model, repeats=args.repeats, progress=not args.json)
        if args.json:
            print(json.dumps([r.to_dict() for r in rows], indent=2, default=str))
        else:
            print(format_suite(rows))
        return 0
    batches = parse_batches(args.batches)  # bad input fails before any work
    report = run_bench(
        args.model,
        args.device,
        batches,
        repeats=args.repeats or 10,
        latency_bound_ms=args.latency_bound,
        progress=not args.json,
    )
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    """``mllab bench [--model PATH] [--device D] [--batches 1,2,4,8] [--repeats N] [--json]``
    and ``mllab bench --suite [--json]``."""
    bench = sub.add_parser(
        "bench",
        help="latency/throughput of a model on one device, or the benchmark suite",
        description="Batch sweep with T(n) = n/(a + bn) fit on one verified device; "
        "--suite measures the lecture's ratios side by side.",
    )
    bench.add_argument("--model", type=Path, default=None, help="ONNX file (default: ResNet-50)")
    bench.add_argument(
        "--device",
        choices=["cpu", "cuda", "tensorrt", "auto"],
        default="cpu",
        help="cuda/tensorrt fail (exit 2) unless ONNX Runtime really uses the GPU",
    )
    bench.add_argument("--batches", default="1,2,4,8", help="comma-separated batch sizes")
    bench.add_argument("--repeats", type=int, default=None, help="timed runs per measurement")
    bench.add_argument(
        "--latency-bound", type=float, default=None, metavar="MS", help="pick n* under this bound"
    )
    bench.add_argument("--suite", action="store_true", help="run the benchmark suite instead")
    bench.add_argument("--json", action="store_true", help="print JSON (no progress bars)")
    bench.set_defaults(func=_cmd_bench)
