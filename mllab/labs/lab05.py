"""Lab 05 — GPU inference, batching and the benchmark harness: the kit, as the notebook uses it.

The lab measures the lecture's L = (T_end − T_start)/N and T(n) = n/(a + bn) with a harness
(warm-up, one timing per call, device synchronisation), finds n* under a latency bound, asks
ONNX Runtime's profiler which operators dominate, measures an fp16 model's drift and speed,
times PyTorch eager beside ONNX Runtime, runs the GPU paths (or says why not), shows
CUDA_container ≤ Driver_host and sets OpenVINO beside ONNX Runtime on the CPU. ``onnxruntime``
itself is imported by the notebook.

Groups: the model and verified sessions; the batch sweep and the T(n) fit (and what its fixed
cost a means here: ``read_fixed_cost``); the profiler; fp16; PyTorch eager; OpenVINO; the GPU
paths; records, tables and claims; the exercise checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# records, tables and claims
from mllab.core.records import load_all, record
from mllab.core.tables import fold, format_table, labelled
from mllab.exercises.hidden import hidden_tests
from mllab.exercises.lab05 import check_fit, check_n_star
from mllab.experiments.batching.gpu_paths import probe as gpu_probe
from mllab.experiments.batching.gpu_paths import run_paths as run_gpu_paths
from mllab.experiments.batching.gpu_paths import summary_text as gpu_summary
from mllab.measure.batching import BatchSweep, fit_line, fit_sweep, plot_sweep, sweep_table
from mllab.measure.comparisons import TorchReference, fp16_comparison
from mllab.measure.comparisons import torch_reference as _interleaved
from mllab.measure.drift import LECTURE_DELTA
from mllab.measure.harness import batch_sweep
from mllab.measure.profiling import profile_operators
from mllab.measure.runners import session_runner, torch_runner
from mllab.measure.runtimes import RuntimeComparison, compare_runtimes
from mllab.measure.runtimes import not_run as runtimes_not_run
from mllab.model import preprocess
from mllab.model.artifacts import default_model
from mllab.model.fp16 import default_fp16_model, drift_vs_fp32, io_types
from mllab.model.quantize import default_int8_model
from mllab.model.resnet import load_resnet50
from mllab.report.claims import judge
from mllab.report.interpret.batching import read_fixed_cost
from mllab.report.interpret.runtimes import read_runtimes
from mllab.report.lab_summary import lab_pages
from mllab.runtime.cgroup import cpu_quota
from mllab.runtime.compat import cuda_compatibility
from mllab.runtime.providers import ort_working_providers
from mllab.runtime.sessions import create_session

plan, summary = lab_pages("05")  # every lab's opening and closing cells (kit-wide)

__all__ = [
    # the model and verified sessions
    "default_model",
    "create_session",
    "ort_working_providers",
    "gpu_probe",
    "cpu_quota",
    # the batch sweep and the T(n) fit (C7)
    "batch_sweep",
    "fit_sweep",
    "BatchSweep",
    "sweep_table",
    "fit_line",
    "plot_sweep",
    "read_fixed_cost",
    # ORT's profiler
    "profile_operators",
    # fp16: drift and speed
    "default_fp16_model",
    "sample_batch",
    "drift_vs_fp32",
    "io_types",
    "LECTURE_DELTA",
    "fp16_comparison",
    # PyTorch eager as the reference
    "ort_vs_torch",
    # OpenVINO beside ONNX Runtime (CPU, same threads)
    "ort_vs_openvino",
    "read_runtimes",
    # the GPU paths and CUDA_container <= Driver_host (C9)
    "run_gpu_paths",
    "gpu_summary",
    "cuda_compatibility",
    # records, tables and claims
    "record",
    "load_all",
    "fold",
    "labelled",
    "format_table",
    "judge",
    # the exercise checks
    "check_fit",
    "check_n_star",
    "hidden_tests",
]

CPU_PROVIDER = "CPUExecutionProvider"


def sample_batch(n: int) -> np.ndarray:
    """The first ``n`` embedded sample photos, preprocessed as the server does: (n, 3, 224, 224)."""
    return preprocess.preprocess_batch(preprocess.sample_images()[:n])


def ort_vs_torch(model: Any, session: Any, repeats: int, warmup: int = 3) -> TorchReference:
    """ONNX Runtime against PyTorch eager at batch 1 on the CPU, timed interleaved (one call of
    each in turn). ``session`` is used when it runs on the CPU; otherwise a CPU session of
    ``model`` is made, so that both sides run on the same cores."""
    on_cpu = session.get_providers()[0] == CPU_PROVIDER
    cpu_session = session if on_cpu else create_session(model, device="cpu")
    ort_fn, _ = session_runner(cpu_session, 1)
    torch_fn, _ = torch_runner(load_resnet50, 1, "cpu")
    return _interleaved(ort_fn, torch_fn, repeats, warmup=warmup)


def ort_vs_openvino(
    model: Any,
    enabled: bool = True,
    batches: list[int] | None = None,
    rounds: int = 3,
    repeats: int = 3,
    photos: int = 4,
) -> RuntimeComparison:
    """ONNX Runtime and OpenVINO on the CPU with the same threads, on ``model`` and on its
    cached INT8 twin (lab 01's QDQ model), timed interleaved in ``rounds``; Δ on the first
    ``photos`` sample photos. ``enabled=False``: every row says that it was not asked for."""
    batches = batches or [1, 4]
    if not enabled:
        return runtimes_not_run("OPENVINO = False: not asked for in this run", batches)
    int8 = default_int8_model()
    return compare_runtimes(model, int8, batches, rounds, repeats, inputs=sample_batch(photos))
