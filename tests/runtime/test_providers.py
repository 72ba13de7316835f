"""mllab.runtime.providers: which providers really work, and the diagnosis of one that does not."""

from __future__ import annotations

import onnxruntime as ort

from mllab.runtime import providers
from mllab.runtime.nvidia import nvidia_driver


def test_working_providers_are_verified_not_listed():
    working = providers.ort_working_providers()
    assert "CPUExecutionProvider" in working
    assert set(working) <= set(ort.get_available_providers())
    if nvidia_driver() is None:  # no GPU: CUDA may be listed, it must not be "working"
        assert "CUDAExecutionProvider" not in working


def test_probe_model_makes_a_cpu_session():
    session = ort.InferenceSession(providers.PROBE_MODEL, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x"]


def test_diagnosis_names_missing_libraries(monkeypatch):
    monkeypatch.setattr(providers, "nvidia_driver", lambda: "580.65.06")
    monkeypatch.setattr(providers, "_library_loadable", lambda stem: stem != "libcudnn")
    message = providers.why_provider_failed("CUDAExecutionProvider")
    assert "Driver 580.65.06 is present but libcudnn could not be loaded" in message


def test_diagnosis_names_a_driver_too_old(monkeypatch):
    info = {"driver": "535.54.03", "driver_max_cuda": "12.2", "gpus": [], "ort_build_cuda": "13.0"}
    monkeypatch.setattr(providers, "nvidia_driver", lambda: "535.54.03")
    monkeypatch.setattr(providers, "nvidia_info", lambda: info)
    monkeypatch.setattr(providers, "_library_loadable", lambda stem: True)
    message = providers.why_provider_failed("CUDAExecutionProvider")
    assert "too old" in message
    assert "the build wants CUDA 13.0, the driver supports up to CUDA 12.2" in message


def test_diagnosis_when_versions_fit_does_not_blame_the_driver(monkeypatch):
    info = {"driver": "580.1", "driver_max_cuda": "13.0", "gpus": [], "ort_build_cuda": "13.0"}
    monkeypatch.setattr(providers, "nvidia_driver", lambda: "580.1")
    monkeypatch.setattr(providers, "nvidia_info", lambda: info)
    monkeypatch.setattr(providers, "_library_loadable", lambda stem: True)
    message = providers.why_provider_failed("CUDAExecutionProvider")
    assert "too old" not in message and "the libraries load" in message


def test_diagnosis_without_a_driver(monkeypatch):
    monkeypatch.setattr(providers, "nvidia_driver", lambda: None)
    message = providers.why_provider_failed("CUDAExecutionProvider")
    assert message.startswith(providers.NO_DRIVER)


def test_diagnosis_for_a_build_without_the_provider():
    message = providers.why_provider_failed("NoSuchExecutionProvider")
    assert "has no NoSuchExecutionProvider" in message


def test_preload_loads_the_wheels_or_says_why_not():
    outcome = providers.preload_cuda_libraries()
    if hasattr(ort, "preload_dlls"):
        assert outcome is None
    else:
        assert "preload_dlls" in outcome
