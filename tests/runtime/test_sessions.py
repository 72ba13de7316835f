"""mllab.runtime.sessions: verified providers (no silent CPU fallback), threads from the cgroup
quota, session and provider options."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.cli.main import build_parser, main
from mllab.core.errors import InputError, ProviderUnavailable
from mllab.runtime import sessions as runtime
from mllab.runtime.nvidia import nvidia_driver
from mllab.runtime.sessions import SessionConfig, create_session

CUDA_HERE = runtime.cuda_works()


@pytest.mark.parametrize("device", ["cuda", "tensorrt"])
def test_gpu_request_uses_the_gpu_or_raises_naming_the_cause(tiny, device):
    if CUDA_HERE and device == "cuda":
        session = create_session(tiny, device=device)
        assert session.get_providers()[0] == "CUDAExecutionProvider"
        return
    with pytest.raises(ProviderUnavailable) as raised:
        create_session(tiny, device=device)
    message = str(raised.value)
    assert f"asked for {device}" in message and "CPUExecutionProvider" in message
    if nvidia_driver() is None:  # this machine: the cause is named, with the loader's error
        assert "No NVIDIA GPU or driver was found" in message
        assert "libonnxruntime_providers_" in message


def test_cli_bench_cuda_fails_loudly_with_exit_2(capsys, monkeypatch):
    if CUDA_HERE:
        pytest.skip("a GPU works here: the no-GPU contract is checked on machines without one")
    monkeypatch.setattr("mllab.cli.main.build_parser", lambda: build_parser(groups=("bench",)))
    assert main(["bench", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mllab bench: error: asked for cuda (CUDAExecutionProvider)")
    assert "Traceback" not in err
    if nvidia_driver() is None:
        assert "No NVIDIA GPU or driver was found" in err


@pytest.mark.parametrize("quota, expected", [(1.0, 1), (0.5, 1), (1.5, 2)])
def test_default_threads_follow_the_cgroup_quota(tiny, monkeypatch, quota, expected):
    import mllab.runtime.cgroup

    monkeypatch.setattr(mllab.runtime.cgroup, "cpu_quota", lambda root=None: quota)
    monkeypatch.setattr(mllab.runtime.cgroup.os, "sched_getaffinity", lambda pid: set(range(16)))
    session = create_session(tiny)
    assert session.get_session_options().intra_op_num_threads == expected
    assert session.get_providers() == ["CPUExecutionProvider"]


def test_explicit_threads_win_over_the_quota(tiny, monkeypatch):
    import mllab.runtime.cgroup

    monkeypatch.setattr(mllab.runtime.cgroup, "cpu_quota", lambda root=None: 1.0)
    session = create_session(tiny, threads=3)
    assert session.get_session_options().intra_op_num_threads == 3


def test_cpu_session_runs_and_config_is_not_mutated(tiny):
    config = SessionConfig()
    session = create_session(tiny, config, threads=1, opt_level="basic")
    assert config.threads is None and config.opt_level == "all"
    logits = session.run(None, {"input": np.zeros((2, 3, 8, 8), np.float32)})[0]
    assert logits.shape == (2, 5)


def test_auto_resolves_to_what_really_works():
    assert runtime.resolve_device("auto") == ("cuda" if CUDA_HERE else "cpu")


def test_bad_options_are_refused(tiny, tmp_path):
    with pytest.raises(ValueError, match="unknown session option"):
        create_session(tiny, thread=2)
    with pytest.raises(ValueError, match="device must be one of"):
        create_session(tiny, device="gpu")
    with pytest.raises(ValueError, match="opt_level"):
        create_session(tiny, opt_level="max")
    with pytest.raises(InputError, match="no such model file"):
        create_session(tmp_path / "missing.onnx")


def test_deterministic_options_follow_the_lecture():
    import onnxruntime as ort

    options = runtime.session_options(SessionConfig(deterministic=True, opt_level="all"))
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert options.enable_mem_pattern is False
    assert options.use_deterministic_compute is True


def test_cuda_provider_options():
    fast = runtime.cuda_provider_options(SessionConfig(device="cuda", device_id=1))
    assert fast["device_id"] == "1"
    assert fast["cudnn_conv_algo_search"] == "EXHAUSTIVE" and fast["use_tf32"] == "1"
    exact = runtime.cuda_provider_options(SessionConfig(device="cuda", deterministic=True))
    assert exact["cudnn_conv_algo_search"] == "DEFAULT" and exact["use_tf32"] == "0"
    override = SessionConfig(device="cuda", provider_options={"gpu_mem_limit": 2**30})
    assert runtime.cuda_provider_options(override)["gpu_mem_limit"] == str(2**30)
    with pytest.raises(ValueError, match="cudnn_conv_algo_search"):
        runtime.cuda_provider_options(SessionConfig(cudnn_conv_algo_search="FASTEST"))


def test_tensorrt_provider_options():
    options = runtime.tensorrt_provider_options(
        SessionConfig(device="tensorrt", trt_fp16=True, trt_max_batch=32), input_name="x"
    )
    assert options["trt_fp16_enable"] == "1" and options["trt_engine_cache_enable"] == "1"
    assert options["trt_profile_min_shapes"] == "x:1x3x224x224"
    assert options["trt_profile_max_shapes"] == "x:32x3x224x224"


def test_provider_chain_puts_the_wanted_provider_first(tiny):
    config = SessionConfig(device="tensorrt")
    chain = runtime._provider_chain("tensorrt", config, tiny)
    assert [p[0] if isinstance(p, tuple) else p for p in chain] == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert runtime._provider_chain("cpu", config, tiny) == ["CPUExecutionProvider"]


def test_ort_said_keeps_the_error_and_drops_the_retry_line():
    printed = (
        "EP Error CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version "
        "when using ['CUDAExecutionProvider']\n"
        "Falling back to ['CPUExecutionProvider'] and retrying.\n"
    )
    said = runtime._ort_said(printed)
    assert "CUDA driver version is insufficient" in said and "Falling back" not in said
    assert runtime._ort_said("") == ""
