"""Under Docker: the ablation lab 04 ran in this session (issue 17: not repeated here), checked
for what makes C3's verdict trustworthy: one lock, every slim-base variant built, pip's cache
really filled (else the clean-up could not show anything), the same app in every image."""

from __future__ import annotations

import pytest

from mllab.experiments.images.ablation import SizeAblation


@pytest.fixture(scope="module")
def ablation(executed_lab) -> dict:
    return executed_lab("04").record("SizeAblation")


@pytest.mark.docker
@pytest.mark.slow
def test_lab_03_built_the_slim_base_variants_and_says_why_not_the_others(ablation):
    assert ablation["_schema"] == SizeAblation.SCHEMA_VERSION
    assert ablation["outcome"]["status"] == "ran" and len(ablation["lock_sha256"]) == 64
    slim = [v for v in ablation["variants"] if v["slim_base"]]
    assert len(slim) == 4 and all(v["size_mb"] > 0 and v["tag"] for v in slim)
    for variant in (v for v in ablation["variants"] if not v["slim_base"]):  # FULL_BASE = False
        assert variant["build"]["status"] == "not run" and variant["size_mb"] is None
        assert "FULL_BASE = False" in variant["build"]["reason"]


@pytest.mark.docker
@pytest.mark.slow
def test_pip_cached_what_it_downloaded_so_the_clean_up_removes_something(ablation):
    sizes = {v["variant"]: v["size_mb"] for v in ablation["variants"]}
    kept, cleaned = sizes["slim base alone"], sizes["slim base + cache clean-up"]
    assert kept - cleaned > ablation["same_mb"]  # the wheels, kept in /root/.cache/pip


@pytest.mark.docker
@pytest.mark.slow
def test_every_variant_holds_the_same_app_and_runtime(ablation, docker_client):
    answers = set()
    for variant in (v for v in ablation["variants"] if v["tag"]):
        probe = "import mllab.serve.app, onnxruntime, os; print(onnxruntime.__version__, "
        probe += "os.path.getsize(os.environ['MODEL_PATH']))"
        out = docker_client.containers.run(variant["tag"], ["python", "-c", probe], remove=True)
        answers.add(out.decode().strip())
    assert len(answers) == 1  # one ONNX Runtime version and one model in all of them
