"""The GPU paths of lab 05, each one run for real or reported with its :class:`Outcome`.

Each path (ONNX Runtime CUDA EP with I/O binding in fp32 and fp16, TensorRT EP, PyTorch CUDA
in fp32 and fp16 autocast) is attempted; a missing GPU or library surfaces as the
:class:`ProviderUnavailable` message of :mod:`mllab.runtime.sessions` (no driver, missing
libcudnn, driver too old, ...) and the path is recorded as "not run: <that message>"; another
error of the kit is "failed: <error>". With ``require=True`` (the lab's ``DEVICE="cuda"``) the
CUDA EP path must run: a GPU that was asked for and not used raises, it is never a quiet row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mllab.core.errors import MllabError, ProviderUnavailable
from mllab.core.outcome import Outcome
from mllab.measure.batching import BatchFit, fit_sweep
from mllab.measure.harness import batch_sweep
from mllab.measure.runners import require_torch_cuda, torch_runner
from mllab.measure.stats import Stats
from mllab.model.resnet import load_resnet50
from mllab.runtime.nvidia import nvidia_info
from mllab.runtime.providers import PROBE_MODEL
from mllab.runtime.sessions import create_session

#: MLPerf Inference (datacenter, closed division), ResNet-50, offline scenario, one H100 with
#: TensorRT INT8, samples/s: a published reference to compare with, not measured by this kit.
MLPERF_H100_RESNET50_OFFLINE = 88_714.0
MLPERF_SETUP = "TensorRT INT8, offline scenario"


@dataclass
class GpuProbe:
    """Whether ONNX Runtime really runs on ``device`` here, with the driver and GPUs seen."""

    device: str
    outcome: Outcome
    driver: str | None
    gpus: list[str]
    driver_max_cuda: str | None
    ort_build_cuda: str | None

    SCHEMA_VERSION: ClassVar[int] = 1


@dataclass
class GpuPath:
    """One GPU path: ran (with its sweep), not run (why) or failed (the error)."""

    name: str
    outcome: Outcome
    provider: str | None = None  # ORT provider, or torch's CUDA device name
    stats: list[Stats] = field(default_factory=list)
    fit: BatchFit | None = None
    best_items_per_s: float | None = None


@dataclass
class MlperfComparison:
    """Our best img/s against MLPerf's one-H100 ResNet-50 offline figure (H100 only)."""

    outcome: Outcome
    ours_path: str | None = None
    ours_items_per_s: float | None = None
    ratio: float | None = None
    mlperf_items_per_s: float = MLPERF_H100_RESNET50_OFFLINE
    mlperf_setup: str = MLPERF_SETUP


@dataclass
class GpuPaths:
    """Lab 05's GPU section: the probe, every path, and the MLPerf comparison."""

    probe: GpuProbe
    paths: list[GpuPath]
    mlperf: MlperfComparison

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def ran(self) -> bool:
        """True when at least one path ran on a GPU."""
        return any(p.outcome.ok for p in self.paths)


def probe(device: str = "cuda") -> GpuProbe:
    """Whether ONNX Runtime really runs on ``device`` here (a session on a tiny model whose
    provider is verified), with the driver, the GPU names and the CUDA the ORT build needs."""
    info = nvidia_info()
    try:
        create_session(PROBE_MODEL, device=device)
        outcome = Outcome.ran()
    except ProviderUnavailable as error:
        outcome = Outcome.not_run(str(error))
    return GpuProbe(
        device,
        outcome,
        info["driver"],
        info["gpus"],
        info["driver_max_cuda"],
        info["ort_build_cuda"],
    )


def _ort_path(
    name: str,
    model: str | Path | bytes,
    device: str,
    batches: Sequence[int],
    repeats: int,
    **options: Any,
) -> GpuPath:
    session = create_session(model, device=device, **options)
    stats = batch_sweep(session, batches, warmup=3, repeats=repeats, name=device)
    fit = fit_sweep(stats) if len(stats) > 1 else None
    best = max(s.throughput for s in stats)
    return GpuPath(name, Outcome.ran(), session.get_providers()[0], stats, fit, best)


def _torch_path(name: str, precision: str, batches: Sequence[int], repeats: int) -> GpuPath:
    import torch  # deferred: seconds to import, and only when a GPU path is attempted

    require_torch_cuda()  # before building the model: no GPU fails in a second
    model = load_resnet50()
    stats = batch_sweep(
        lambda n: torch_runner(model, n, "cuda", precision),
        batches,
        warmup=3,
        repeats=repeats,
        name=f"torch cuda {precision}",
    )
    best = max(s.throughput for s in stats)
    return GpuPath(name, Outcome.ran(), torch.cuda.get_device_name(), stats, None, best)


def attempt_path(name: str, run: Callable[[], GpuPath], required: bool = False) -> GpuPath:
    """``run()``'s path; a provider that is not available here gives "not run: why", another
    error of the kit "failed: error". ``required`` re-raises (a GPU that must be used)."""
    try:
        return run()
    except ProviderUnavailable as error:
        if required:
            raise
        return GpuPath(name, Outcome.not_run(str(error)))
    except MllabError as error:
        if required:
            raise
        return GpuPath(name, Outcome.failed(error))


def run_paths(
    model: str | Path,
    fp16_model: str | Path,
    batches: Sequence[int] = (1, 8, 32, 64),
    repeats: int = 20,
    require: bool = False,
) -> GpuPaths:
    """Every GPU path, each run (with its numbers) or not run (with why).

    ``require=True``: the CUDA EP fp32 path must run, else :class:`ProviderUnavailable`.
    """
    status = probe("cuda")
    if require and not status.outcome.ok:
        raise ProviderUnavailable(status.outcome.reason)
    trt = {"trt_fp16": True, "trt_max_batch": max(batches)}
    # every path is attempted even when the probe failed: each names its own cause (torch may
    # find a GPU that ORT cannot use, TensorRT may lack libnvinfer while CUDA works)
    runs: dict[str, Callable[[], GpuPath]] = {
        "ort_cuda_fp32": lambda: _ort_path("ort_cuda_fp32", model, "cuda", batches, repeats),
        "ort_cuda_fp16": lambda: _ort_path("ort_cuda_fp16", fp16_model, "cuda", batches, repeats),
        "ort_tensorrt_fp16": lambda: _ort_path(
            "ort_tensorrt_fp16", model, "tensorrt", batches, repeats, **trt
        ),
        "torch_cuda_fp32": lambda: _torch_path("torch_cuda_fp32", "fp32", batches, repeats),
        "torch_cuda_fp16_autocast": lambda: _torch_path(
            "torch_cuda_fp16_autocast", "fp16", batches, repeats
        ),
    }
    paths = [
        attempt_path(name, run, required=require and name == "ort_cuda_fp32")
        for name, run in runs.items()
    ]
    return GpuPaths(status, paths, mlperf_comparison(status, paths))


def mlperf_comparison(status: GpuProbe, paths: Sequence[GpuPath]) -> MlperfComparison:
    """Our best img/s against MLPerf's one-H100 figure; not run on another GPU (its number
    would not be comparable) or when no path ran."""
    gpus = " ".join(status.gpus)
    if "H100" not in gpus:
        why = f"MLPerf's figure is for one H100; this GPU is {gpus or 'absent'}"
        return MlperfComparison(Outcome.not_run(why))
    ran = [p for p in paths if p.outcome.ok and p.best_items_per_s]
    if not ran:
        return MlperfComparison(Outcome.not_run("no GPU path ran"))
    best = max(ran, key=lambda p: p.best_items_per_s or 0.0)
    ours = best.best_items_per_s or 0.0
    return MlperfComparison(Outcome.ran(), best.name, ours, ours / MLPERF_H100_RESNET50_OFFLINE)


def summary_text(result: GpuPaths) -> str:
    """One line per GPU path: where it ran and its best throughput, or its outcome (the
    probe's reason is printed once, above, when no path ran); then MLPerf's comparison. On a
    machine where no GPU path could run, one line says so and why (the full reasons stay in the
    record: ``result.probe.outcome`` and each path's ``outcome``)."""
    if not result.ran and all(not p.outcome.ok for p in result.paths):
        names = ", ".join(p.name for p in result.paths)
        why = first_sentence(str(result.probe.outcome))
        return f"no GPU path ran here ({names}; no MLPerf comparison): {why}"
    lines = [] if result.ran else [f"GPU probe: {result.probe.outcome}"]
    for path in result.paths:
        if path.outcome.ok:
            what = f"ran on {path.provider}: best {path.best_items_per_s:.1f} img/s"
        elif not result.ran and path.outcome.reason == result.probe.outcome.reason:
            what = "not run (the probe's reason above)"
        else:
            what = str(path.outcome)
        lines.append(f"{path.name:<26} {what}")
    mlperf = result.mlperf
    if mlperf.outcome.ok:
        lines.append(
            f"MLPerf H100 offline {mlperf.mlperf_items_per_s:.0f} img/s ({mlperf.mlperf_setup}); "
            f"ours {mlperf.ours_items_per_s:.0f} ({mlperf.ratio:.1%}, {mlperf.ours_path})"
        )
    else:
        lines.append(f"MLPerf comparison: {mlperf.outcome}")
    return "\n".join(lines)


def first_sentence(text: str, limit: int = 200) -> str:
    """The first sentence of ``text`` (up to ". "), cut to ``limit`` characters."""
    head = text.split(". ", 1)[0]
    return head if len(head) <= limit else head[: limit - 1] + "…"
