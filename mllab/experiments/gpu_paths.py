"""The GPU paths of lab 04, run for real or reported as "not run, and why" — never skipped.

Each path (ONNX Runtime CUDA EP with I/O binding in fp32 and fp16, TensorRT EP, PyTorch CUDA
in fp32 and fp16 autocast) is attempted; a missing GPU or library surfaces as the
:class:`ProviderUnavailable` message of :mod:`mllab.runtime.sessions` (no driver, missing libcudnn,
driver too old, ...), which becomes the ``why`` recorded for that path. With
``require=True`` (the lab's ``DEVICE="cuda"``) the CUDA EP path must run: its failure raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mllab.core.errors import ProviderUnavailable

#: MLPerf Inference (datacenter, closed division), ResNet-50, offline scenario, one H100 with
#: TensorRT INT8, samples/s: a published reference to compare with, not measured by this kit.
MLPERF_H100_RESNET50_OFFLINE = 88_714.0


def probe(device: str = "cuda") -> dict[str, Any]:
    """Whether ONNX Runtime really runs on ``device`` here: ``{"run": bool, "why": str|None,
    ...}`` with the driver, the GPU names and the CUDA the ORT build needs."""
    from mllab.experiments.fingerprint import nvidia_info
    from mllab.measure.roofline import matmul_model
    from mllab.runtime.sessions import create_session

    info = nvidia_info()
    status = {
        "device": device,
        "driver": info["driver"],
        "gpus": info["gpus"],
        "driver_max_cuda": info["driver_max_cuda"],
        "ort_build_cuda": info["ort_build_cuda"],
    }
    try:
        create_session(matmul_model(16), device=device)
    except ProviderUnavailable as error:
        return {**status, "run": False, "why": str(error)}
    return {**status, "run": True, "why": None}


def not_run(why: str) -> dict[str, Any]:
    """The record of a path that was not run: ``{"run": False, "why": ...}``."""
    return {"run": False, "why": why}


def attempt(fn: Callable[[], dict[str, Any]], required: bool = False) -> dict[str, Any]:
    """``{"run": True, **fn()}``, or :func:`not_run` with the reason when the provider is not
    available; ``required`` re-raises instead (a GPU run that must use the GPU)."""
    try:
        return {"run": True, **fn()}
    except ProviderUnavailable as error:
        if required:
            raise
        return not_run(str(error))


def _ort_sweep(model, device: str, batches, repeats: int, **options) -> dict[str, Any]:
    from mllab.measure.bench import batch_sweep, fit_sweep
    from mllab.runtime.sessions import create_session

    session = create_session(model, device=device, **options)
    stats = batch_sweep(session, batches, warmup=3, repeats=repeats, name=device)
    fit = fit_sweep(stats) if len(stats) > 1 else None
    return {
        "provider": session.get_providers()[0],
        "iobinding": True,
        "stats": [s.to_dict() for s in stats],
        "fit": fit.to_dict() if fit else None,
        "best_items_per_s": max(s.throughput for s in stats),
    }


def _torch_sweep(precision: str, batches, repeats: int) -> dict[str, Any]:
    import torch

    from mllab.measure.bench import batch_sweep, require_torch_cuda, torch_runner

    require_torch_cuda()
    from mllab.model.resnet import load_resnet50

    model = load_resnet50()
    stats = batch_sweep(
        lambda n: torch_runner(n, "cuda", precision, model=model),
        batches,
        warmup=3,
        repeats=repeats,
        name=f"torch cuda {precision}",
    )
    return {
        "device_name": torch.cuda.get_device_name(),
        "stats": [s.to_dict() for s in stats],
        "best_items_per_s": max(s.throughput for s in stats),
    }


def run_paths(
    model: str | Path,
    fp16_model: str | Path,
    batches: Sequence[int] = (1, 8, 32, 64),
    repeats: int = 20,
    require: bool = False,
) -> dict[str, Any]:
    """Every GPU path, each recorded as run (with its numbers) or not run (with why).

    ``require=True``: the CUDA EP fp32 path must run, else :class:`ProviderUnavailable`.
    """
    status = probe("cuda")
    if require and not status["run"]:
        raise ProviderUnavailable(status["why"])
    # every path is attempted even when the probe failed: each names its own cause (torch may
    # find a GPU that ORT cannot use, TensorRT may lack libnvinfer while CUDA works)
    paths = {
        "ort_cuda_fp32": attempt(lambda: _ort_sweep(model, "cuda", batches, repeats), require),
        "ort_cuda_fp16": attempt(lambda: _ort_sweep(fp16_model, "cuda", batches, repeats)),
        "ort_tensorrt_fp16": attempt(
            lambda: _ort_sweep(
                model, "tensorrt", batches, repeats, trt_fp16=True, trt_max_batch=max(batches)
            )
        ),
        "torch_cuda_fp32": attempt(lambda: _torch_sweep("fp32", batches, repeats)),
        "torch_cuda_fp16_autocast": attempt(lambda: _torch_sweep("fp16", batches, repeats)),
    }
    ran = any(p["run"] for p in paths.values())
    return {
        "run": ran,
        "why": None if ran else status["why"],
        "status": status,
        "paths": paths,
        "mlperf": mlperf_comparison(status, paths),
    }


def mlperf_comparison(status: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    """Our best img/s against MLPerf's one-H100 ResNet-50 offline figure (only on an H100:
    another GPU's number would not be comparable)."""
    gpus = " ".join(status.get("gpus") or [])
    if "H100" not in gpus:
        return not_run(f"MLPerf's figure is for one H100; this GPU is {gpus or 'unknown'}")
    best = {name: p["best_items_per_s"] for name, p in paths.items() if p.get("run")}
    if not best:
        return not_run("no GPU path ran")
    name = max(best, key=best.get)
    return {
        "run": True,
        "mlperf_items_per_s": MLPERF_H100_RESNET50_OFFLINE,
        "mlperf_setup": "TensorRT INT8, offline scenario",
        "ours_path": name,
        "ours_items_per_s": best[name],
        "ratio": best[name] / MLPERF_H100_RESNET50_OFFLINE,
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    """One line per GPU path: its best throughput, or NOT RUN and why."""
    lines = [] if result["run"] else [f"GPU sections were NOT RUN: {result['why']}"]
    for name, path in result["paths"].items():
        if path.get("run"):
            lines.append(
                f"{name:<26} ran on {path.get('provider') or path.get('device_name')}: "
                f"best {path['best_items_per_s']:.1f} img/s"
            )
        elif not result["run"] and path["why"] == result["why"]:
            lines.append(f"{name:<26} NOT RUN (the reason above)")
        else:
            lines.append(f"{name:<26} NOT RUN: {path['why']}")
    mlperf = result.get("mlperf")
    if mlperf and mlperf.get("run"):
        lines.append(
            f"MLPerf H100 offline {mlperf['mlperf_items_per_s']:.0f} img/s; ours "
            f"{mlperf['ours_items_per_s']:.0f} ({mlperf['ratio']:.1%}, {mlperf['ours_path']})"
        )
    return lines
