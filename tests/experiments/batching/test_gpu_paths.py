"""mllab.experiments.batching.gpu_paths: every GPU path has an Outcome; a required GPU fails
loudly."""

from __future__ import annotations

import pytest

from mllab.core.errors import InputError, ProviderUnavailable
from mllab.core.outcome import Outcome
from mllab.experiments.batching import gpu_paths as gpu
from mllab.runtime.sessions import cuda_works

PATHS = [
    "ort_cuda_fp32",
    "ort_cuda_fp16",
    "ort_tensorrt_fp16",
    "torch_cuda_fp32",
    "torch_cuda_fp16_autocast",
]


def test_gpu_paths_are_reported_not_skipped(tiny):
    if cuda_works():
        pytest.skip("a GPU works here: the not-run report is checked on machines without one")
    result = gpu.run_paths(tiny, tiny, batches=[1], repeats=1)
    assert not result.ran and result.probe.outcome.status == "not run"
    assert "asked for cuda" in result.probe.outcome.reason
    assert [p.name for p in result.paths] == PATHS
    assert all(p.outcome.status == "not run" and p.outcome.reason for p in result.paths)
    assert all(p.stats == [] and p.best_items_per_s is None for p in result.paths)
    assert result.mlperf.outcome.status == "not run"
    [line] = gpu.summary_text(result).splitlines()  # a CPU-only run: one line, not a wall
    assert line.startswith(f"no GPU path ran here ({', '.join(PATHS)}; no MLPerf comparison): ")
    assert "asked for cuda" in line and len(line) < 400
    with pytest.raises(ProviderUnavailable):
        gpu.run_paths(tiny, tiny, batches=[1], repeats=1, require=True)


def test_a_failing_path_is_failed_not_skipped():
    def broken() -> gpu.GpuPath:
        raise InputError("the fp16 model is missing")

    def absent() -> gpu.GpuPath:
        raise ProviderUnavailable("no NVIDIA driver")

    failed = gpu.attempt_path("x", broken)
    assert str(failed.outcome) == "failed: InputError: the fp16 model is missing"
    assert str(gpu.attempt_path("y", absent).outcome) == "not run: no NVIDIA driver"
    with pytest.raises(ProviderUnavailable):
        gpu.attempt_path("y", absent, required=True)
    with pytest.raises(InputError):
        gpu.attempt_path("x", broken, required=True)


def _probe(gpus: list[str]) -> gpu.GpuProbe:
    return gpu.GpuProbe("cuda", Outcome.ran(), "550.54", gpus, "12.4", "12.2")


def test_mlperf_comparison_only_on_an_h100():
    paths = [
        gpu.GpuPath(
            "ort_cuda_fp32", Outcome.ran(), "CUDAExecutionProvider", best_items_per_s=8871.4
        ),
        gpu.GpuPath("torch_cuda_fp32", Outcome.ran(), "H100", best_items_per_s=4000.0),
        gpu.GpuPath("ort_tensorrt_fp16", Outcome.not_run("no libnvinfer")),
    ]
    h100 = gpu.mlperf_comparison(_probe(["NVIDIA H100 80GB HBM3, 81559 MiB"]), paths)
    assert h100.outcome.ok and h100.ours_path == "ort_cuda_fp32"
    assert h100.ratio == pytest.approx(0.1)
    a10 = gpu.mlperf_comparison(_probe(["NVIDIA A10"]), paths)
    assert a10.outcome.status == "not run" and "NVIDIA A10" in a10.outcome.reason
    none_ran = gpu.mlperf_comparison(_probe(["NVIDIA H100"]), paths[2:])
    assert str(none_ran.outcome) == "not run: no GPU path ran"


def test_first_sentence_keeps_a_reason_short():
    assert gpu.first_sentence("No GPU. Run elsewhere.") == "No GPU"
    assert gpu.first_sentence("x" * 300, limit=10) == "x" * 9 + "…"
