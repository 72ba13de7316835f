"""mllab.runtime.compat: C9's evidence is an attempted CUDA session, not a version comparison."""

from __future__ import annotations

import json

from mllab.core.errors import ProviderUnavailable
from mllab.core.outcome import Outcome
from mllab.core.records import record
from mllab.runtime import compat
from mllab.runtime.nvidia import nvidia_driver

OLD_DRIVER = {"driver": "535.1", "driver_max_cuda": "12.2", "ort_build_cuda": "13.0"}


def test_no_driver_means_not_run_with_the_reason():
    found = compat.cuda_compatibility({"driver": None, "ort_build_cuda": "13.0"})
    assert found.observed == Outcome.not_run("no NVIDIA driver on this machine")
    assert found.container_cuda == "13.0" and found.driver_max_cuda is None
    assert found.error is None


def test_a_failed_session_is_recorded_with_its_error(monkeypatch):
    insufficient = "CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version"

    def refuse(*args, **kwargs):
        raise ProviderUnavailable(f"asked for cuda ... ONNX Runtime said: {insufficient}")

    monkeypatch.setattr(compat, "_cuda_listed", lambda: True)
    monkeypatch.setattr(compat, "create_session", refuse)
    found = compat.cuda_compatibility(OLD_DRIVER)
    assert found.observed.status == "failed" and insufficient in found.error
    assert (found.container_cuda, found.driver_max_cuda) == ("13.0", "12.2")


def test_a_session_that_runs_is_observed_as_ran(monkeypatch):
    calls = []
    monkeypatch.setattr(compat, "_cuda_listed", lambda: True)
    monkeypatch.setattr(compat, "create_session", lambda *a, **k: calls.append(k) or object())
    found = compat.cuda_compatibility(OLD_DRIVER)  # versions alone decide nothing
    assert found.observed == Outcome.ran() and found.error is None
    assert calls == [{"device": "cuda"}]


def test_a_cpu_build_is_not_run(monkeypatch):
    monkeypatch.setattr(compat, "_cuda_listed", lambda: False)
    found = compat.cuda_compatibility(OLD_DRIVER)
    assert found.observed.status == "not run" and "CUDAExecutionProvider" in found.observed.reason


def test_this_machine_and_the_record(monkeypatch, tmp_path):
    monkeypatch.setenv("MLLAB_RESULTS", str(tmp_path))
    found = compat.cuda_compatibility()
    if nvidia_driver() is None:
        assert found.observed.status == "not run"
    else:
        assert found.observed.status in ("ran", "failed")
    stored = json.loads(record("00", found).read_text())["CudaCompatibility"]
    assert set(stored) == {"_schema", "container_cuda", "driver_max_cuda", "observed", "error"}
    assert stored["observed"]["status"] == found.observed.status
