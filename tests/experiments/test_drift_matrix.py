"""The drift matrix: every configuration listed (unavailable ones with a reason), repeatability
measured from output digests, pairwise drift with the lecture's thresholds."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mllab.experiments import drift_matrix as repro
from mllab.core.errors import MllabError

EXPECTED = {
    "torch-cpu", "torch-cpu-1t", "ort-disable", "ort-basic", "ort-extended", "ort-all",
    "ort-all-1t", "ort-deterministic", "ort-deterministic-1t", "ort-int8", "ort-fp16",
    "torch-cuda", "ort-cuda", "ort-cuda-deterministic", "ort-cuda-fp16", "ort-tensorrt",
    "container-ort-all", "container-ort-deterministic",
}  # fmt: skip
#: available on any machine that runs the kit (CPU only)
CPU_ONLY = {name for name in EXPECTED if "cuda" not in name and "tensorrt" not in name}


def _fake(name: str, outputs=None, error: str | None = None) -> repro.Configuration:
    def make():
        if error:
            raise MllabError(error)
        it = iter(outputs)
        return lambda x, repeats: [next(it) for _ in range(repeats)]

    return repro.Configuration(name, f"fake {name}", make)


def test_configurations_list_every_runtime_even_without_gpu_or_image():
    names = [c.name for c in repro.configurations(model="unused.onnx", image=None)]
    assert set(names) == EXPECTED
    assert len(names) == len(set(names))


def test_output_digest_sees_one_ulp():
    a = np.linspace(-3, 3, 1000, dtype=np.float32).reshape(1, -1)
    b = a.copy()
    b[0, 17] = np.nextafter(b[0, 17], np.float32(10))
    assert repro.output_digest(a) == repro.output_digest(a.copy())
    assert repro.output_digest(a) != repro.output_digest(b)


def test_matrix_keeps_unavailable_rows_and_measures_repeatability():
    base = np.arange(12, dtype=np.float32).reshape(2, 6)
    wobble = base.copy()
    wobble[1, 2] += 1e-3
    configs = [
        _fake("steady", [base] * 3),
        _fake("wobbly", [base, wobble, base]),
        _fake("gpu", error="not available: no GPU (test)"),
        _fake("broken", error="boom"),
    ]
    matrix = repro.run_matrix(configs, x=np.zeros((2, 3, 224, 224)), repeats=3, progress=False)
    assert [r.name for r in matrix.results] == ["steady", "wobbly", "gpu", "broken"]
    assert matrix["steady"].bitwise_repeatable is True
    assert matrix["wobbly"].bitwise_repeatable is False
    assert matrix["wobbly"].repeat_max_abs == pytest.approx(1e-3, rel=1e-3)
    assert matrix["gpu"].status == "not available: no GPU (test)"
    assert matrix["broken"].status.startswith("failed: MllabError: boom")
    names, values = matrix.metric_matrix("max_abs")
    assert names == ["steady", "wobbly", "gpu", "broken"]
    assert values[0, 0] == 0 and values[0, 1] == 0  # the first repeats are equal
    assert np.isnan(values[2]).all() and np.isnan(values[:, 3]).all()
    rows = {r["a"]: r for r in matrix.against("steady")}
    assert set(rows) == {"wobbly", "gpu", "broken"}
    assert rows["gpu"]["status"].startswith("not available")
    table = {r["configuration"]: r for r in matrix.repeatability()}
    assert table["gpu"]["bitwise repeatable"] is None and table["gpu"]["repeats"] == 0


def test_bad_repeats_is_refused():
    with pytest.raises(Exception, match="repeats must be >= 1"):
        repro.run_matrix([], x=np.zeros((1, 3, 224, 224)), repeats=0)


def test_real_matrix_runs_every_cpu_configuration_and_lists_the_rest():
    x = repro.drift_inputs(n_random=1, n_images=1)
    matrix = repro.run_matrix(repro.configurations(image=None), x=x, repeats=2, progress=False)
    statuses = {r.name: r.status for r in matrix.results}
    assert set(statuses) == EXPECTED  # none silently dropped
    for name in CPU_ONLY - {"container-ort-all", "container-ort-deterministic"}:
        assert statuses[name] == "ok", (name, matrix[name].detail)
    for name in ("container-ort-all", "container-ort-deterministic"):
        assert statuses[name].startswith("not available: no slim image")
    from mllab.runtime.sessions import cuda_works

    if not cuda_works():
        for name in EXPECTED - CPU_ONLY:
            assert statuses[name].startswith("not available"), (name, statuses[name])
    # the exported graph computes the same function as PyTorch (lecture's Δ ≤ 1e-3)
    assert matrix.compare("ort-all", "torch-cpu")["delta_l2"] <= 1e-3
    assert repro.determinism_figures(matrix)["across_runs_max_abs"] is not None
    summary = matrix.summary()
    assert set(summary["configurations"]) == EXPECTED


def test_heatmap_draws_every_configuration():
    import matplotlib

    matplotlib.use("Agg")
    base = np.ones((1, 5), dtype=np.float32)
    configs = [_fake("a", [base]), _fake("b", [base * 1.001]), _fake("c", error="nope")]
    matrix = repro.run_matrix(configs, x=np.zeros((1, 3, 224, 224)), repeats=1, progress=False)
    ax = repro.plot_heatmap(matrix)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["a", "b", "c"]


def test_version_drift_machinery_against_the_same_version_is_bitwise_equal():
    """The other-version path run with this very interpreter: same ORT, same bytes."""
    import onnxruntime as ort

    x = repro.drift_inputs(n_random=1, n_images=0)
    result = repro.ort_version_drift(ort.__version__, x=x, python=sys.executable)
    assert result["old"] == result["new"] == ort.__version__
    assert result["bitwise_equal"] and result["max_abs"] == 0.0
    assert set(result["levels"]) == {"all", "disable"}


@pytest.mark.docker
@pytest.mark.slow
def test_container_rows_run_in_the_slim_image():
    from mllab.containers.images import build_slim

    tag = build_slim()
    configs = [
        c
        for c in repro.configurations(image=tag)
        if c.name in ("ort-all", "ort-deterministic", "container-ort-all",
                      "container-ort-deterministic")
    ]  # fmt: skip
    x = repro.drift_inputs(n_random=1, n_images=1)
    matrix = repro.run_matrix(configs, x=x, repeats=2, progress=False)
    assert all(r.ok for r in matrix.results), matrix.repeatability()
    figures = repro.container_vs_host(matrix)
    assert figures["delta_l2"] <= 1e-3  # the lecture's C4 bound, host vs container
    assert "host_vs_container_max_abs" in repro.determinism_figures(matrix)
