"""C10/C11 on real builds: a new model reruns only the last steps and one layer; a new lock
reruns pip."""

from __future__ import annotations

import pytest

from mllab.containers.buildlog import BuildResult, BuildStep
from mllab.experiments.reproducibility import cache_effects


def _result(cached: list[bool]) -> BuildResult:
    names = [
        "FROM base",
        "COPY requirements.lock /b/",
        "RUN pip install -r /b/requirements.lock",
        "COPY model.onnx /app/",
    ]
    steps = [BuildStep(i + 1, n, c) for i, (n, c) in enumerate(zip(names, cached, strict=True))]
    return BuildResult("t", "sha256:x", steps)


def test_step_effects_reads_the_first_rerun_and_the_pip_step():
    model_change = cache_effects.step_effects(_result([False, True, True, False]))
    assert model_change.pip_cached is True and model_change.before_change_cached is True
    assert model_change.rebuilt == ["COPY model.onnx /app/"]
    lock_change = cache_effects.step_effects(_result([False, False, False, False]))
    assert lock_change.pip_cached is False and lock_change.first_rebuilt_step == 2


@pytest.mark.docker
@pytest.mark.slow
def test_cache_reuse_and_the_model_layer(executed_lab):
    """The real builds are lab 06's run (issue 17: not repeated here)."""
    lab = executed_lab("06")
    effects, layer = lab.record("CacheEffects"), lab.record("ModelLayer")
    assert effects["outcome"]["status"] == "ran", effects["outcome"]
    assert effects["model_change_pip_cached"] and effects["before_change_cached"]
    assert effects["lock_change_pip_rerun"]
    assert effects["model_change_rebuilt"][0].startswith("COPY model.onnx")
    assert layer["ids_differ"] and layer["only_model_layer"], layer
