"""The drift matrix: every configuration listed (unavailable ones with a reason), repeatability
measured from output digests, pairwise drift with the lecture's thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.core.errors import MllabError
from mllab.experiments.reproducibility import drift_configs
from mllab.experiments.reproducibility import drift_matrix as repro
from mllab.measure.drift import LECTURE_DELTA

EXPECTED = {
    "torch-cpu",
    "torch-cpu-1t",
    "ort-disable",
    "ort-basic",
    "ort-extended",
    "ort-all",
    "ort-all-1t",
    "ort-deterministic",
    "ort-deterministic-1t",
    "ort-int8",
    "ort-fp16",
    "torch-cuda",
    "ort-cuda",
    "ort-cuda-deterministic",
    "ort-cuda-fp16",
    "ort-tensorrt",
    "container-ort-all",
    "container-ort-deterministic",
}
#: available on any machine that runs the kit (CPU only)
CPU_ONLY = {name for name in EXPECTED if "cuda" not in name and "tensorrt" not in name}


def _fake(name: str, outputs=None, error: Exception | None = None) -> drift_configs.Configuration:
    def make():
        if error:
            raise error
        it = iter(outputs)
        return lambda x, repeats: [next(it) for _ in range(repeats)]

    return drift_configs.Configuration(name, f"fake {name}", make)


def test_configurations_list_every_runtime_even_without_gpu_or_image():
    names = [c.name for c in drift_configs.configurations(model="unused.onnx", image=None)]
    assert set(names) == EXPECTED
    assert len(names) == len(set(names))


def test_matrix_keeps_unavailable_rows_and_measures_repeatability():
    base = np.arange(12, dtype=np.float32).reshape(2, 6)
    wobble = base.copy()
    wobble[1, 2] += 1e-3
    configs = [
        _fake("steady", [base] * 3),
        _fake("wobbly", [base, wobble, base]),
        _fake("gpu", error=drift_configs.Unavailable("no GPU (test)")),
        _fake("broken", error=MllabError("boom")),
    ]
    matrix = repro.run_matrix(configs, x=np.zeros((2, 3, 224, 224)), repeats=3, progress=False)
    assert [r.name for r in matrix.results] == ["steady", "wobbly", "gpu", "broken"]
    assert matrix["steady"].bitwise_repeatable is True
    assert matrix["wobbly"].bitwise_repeatable is False
    assert matrix["wobbly"].repeat_max_abs == pytest.approx(1e-3, rel=1e-3)
    assert str(matrix["gpu"].outcome) == "not run: no GPU (test)"
    assert str(matrix["broken"].outcome) == "failed: MllabError: boom"
    names, values = matrix.metric_matrix("max_abs")
    assert names == ["steady", "wobbly", "gpu", "broken"]
    assert values[0, 0] == 0 and values[0, 1] == 0  # the first repeats are equal
    assert np.isnan(values[2]).all() and np.isnan(values[:, 3]).all()
    rows = {r.a: r for r in matrix.against("steady")}
    assert set(rows) == {"wobbly", "gpu", "broken"}
    assert rows["gpu"].outcome.status == "not run" and rows["gpu"].delta_l2 is None
    assert rows["broken"].outcome.status == "failed"
    assert rows["wobbly"].bitwise_equal is True  # first repeats equal
    table = {r["configuration"]: r for r in matrix.repeatability()}
    assert table["gpu"]["bitwise repeatable"] is None and table["gpu"]["repeats"] == 0


def test_bad_repeats_is_refused():
    with pytest.raises(Exception, match="repeats must be >= 1"):
        repro.run_matrix([], x=np.zeros((1, 3, 224, 224)), repeats=0)


def test_real_matrix_runs_every_cpu_configuration_and_lists_the_rest():
    x = drift_configs.drift_inputs(n_random=1, n_images=1)
    matrix = repro.run_matrix(
        drift_configs.configurations(image=None), x=x, repeats=2, progress=False
    )
    outcomes = {r.name: r.outcome for r in matrix.results}
    assert set(outcomes) == EXPECTED  # none silently dropped
    for name in CPU_ONLY - {"container-ort-all", "container-ort-deterministic"}:
        assert outcomes[name].ok, (name, str(outcomes[name]))
    for name in ("container-ort-all", "container-ort-deterministic"):
        assert str(outcomes[name]).startswith("not run: no slim image")
    from mllab.runtime.sessions import cuda_works

    if not cuda_works():
        for name in EXPECTED - CPU_ONLY:
            assert outcomes[name].status == "not run", (name, str(outcomes[name]))
    # the exported graph computes the same function as PyTorch (lecture's Δ ≤ 1e-3)
    assert matrix.compare("ort-all", "torch-cpu").delta_l2 <= LECTURE_DELTA
    determinism = repro.determinism(matrix)
    assert determinism.outcome.ok and determinism.across_runs_max_abs is not None
    assert determinism.threads_1_vs_n.ok and determinism.threads_1_vs_n_max_abs is not None
    assert determinism.host_vs_container.status == "not run"
    assert determinism.host_vs_container_max_abs is None
    c4 = repro.container_vs_host(matrix)
    assert c4.outcome.status == "not run" and c4.delta_l2 is None
    summary = matrix.summary()
    assert set(summary.configurations) == EXPECTED


def test_heatmap_draws_every_configuration():
    import matplotlib

    matplotlib.use("Agg")
    base = np.ones((1, 5), dtype=np.float32)
    configs = [_fake("a", [base]), _fake("b", [base * 1.001]), _fake("c", error=MllabError("nope"))]
    matrix = repro.run_matrix(configs, x=np.zeros((1, 3, 224, 224)), repeats=1, progress=False)
    ax = repro.plot_heatmap(matrix)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["a", "b", "c"]
    cells = {t.get_text() for t in ax.texts}
    assert "n/a" in cells and "0" in cells  # "c" did not run; a pair with itself is equal


@pytest.mark.docker
@pytest.mark.slow
def test_container_rows_run_in_the_slim_image():
    from mllab.containers.build import build_slim

    tag = build_slim()
    configs = [
        c
        for c in drift_configs.configurations(image=tag)
        if c.name
        in ("ort-all", "ort-deterministic", "container-ort-all", "container-ort-deterministic")
    ]
    x = drift_configs.drift_inputs(n_random=1, n_images=1)
    matrix = repro.run_matrix(configs, x=x, repeats=2, progress=False)
    assert all(r.ok for r in matrix.results), matrix.repeatability()
    c4 = repro.container_vs_host(matrix)
    assert c4.outcome.ok and c4.delta_l2 <= LECTURE_DELTA  # same ORT, same options
    c6 = repro.determinism(matrix)
    assert c6.host_vs_container.ok and c6.host_vs_container_max_abs is not None
