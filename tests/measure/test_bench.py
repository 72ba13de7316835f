"""mllab.measure.bench: the single-device benchmark on a tiny model."""

from __future__ import annotations

import pytest

from mllab.core.errors import InputError, ProviderUnavailable
from mllab.measure.bench import check_device, run_bench
from mllab.runtime.sessions import cuda_works


def test_run_bench_sweeps_fits_and_picks_n_star(tiny):
    report = run_bench(tiny, batches=[1, 2, 4], repeats=3, latency_bound_ms=1000.0, progress=False)
    assert report.provider == "CPUExecutionProvider" and report.device == "cpu"
    assert [s.batch for s in report.stats] == [1, 2, 4]
    assert report.fit is not None and report.fit.batches == [1, 2, 4]
    assert report.n_star == report.fit.n_star and report.n_star in (1, 2, 4)  # all under 1 s
    text = "\n".join(report.lines())
    assert "T(n) = n/(a + bn)" in text and "n* under a p99 bound of 1000 ms" in text
    data = report.to_dict()
    assert data["fit"]["max_throughput"] == pytest.approx(report.fit.max_throughput)
    assert [s["batch"] for s in data["stats"]] == [1, 2, 4]


def test_one_batch_has_no_fit_but_an_n_star(tiny):
    report = run_bench(tiny, batches=[2], repeats=2, latency_bound_ms=1000.0, progress=False)
    assert report.fit is None and report.n_star == 2
    assert not any("T(n)" in line for line in report.lines())


def test_run_bench_refuses_a_missing_model(tmp_path):
    with pytest.raises(InputError, match="no such model file"):
        run_bench(tmp_path / "none.onnx")


def test_check_device_fails_loudly_without_a_gpu():
    assert check_device("cpu") == "cpu"
    if cuda_works():
        pytest.skip("a GPU works here: the failure is checked on machines without one")
    with pytest.raises(ProviderUnavailable, match="cuda"):
        check_device("cuda")
