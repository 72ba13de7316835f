"""Lab 04's facade: which of the kit's images a run builds, and why one is not built."""

from __future__ import annotations

import pytest

from mllab.labs import lab04


def test_true_and_false_are_taken_as_said():
    assert lab04.wanted_build("naive", True) == (True, "")
    on, why = lab04.wanted_build("naive", False)
    assert (
        not on and why == "BUILD_NAIVE = False (the torch/CUDA research image, ~10 GB, ~3 min cold)"
    )


@pytest.mark.parametrize("driver, built", [("580.65", True), (None, False)])
def test_auto_builds_the_cuda_image_only_where_a_driver_answers(monkeypatch, driver, built):
    monkeypatch.setattr(lab04, "nvidia_driver", lambda: driver)
    on, why = lab04.wanted_build("cuda", "auto")
    assert on is built
    assert (why == "") is built and ("no NVIDIA driver" in why or built)


def test_an_image_not_built_is_recorded_with_the_reason(monkeypatch):
    monkeypatch.setattr(lab04, "nvidia_driver", lambda: None)
    builds = lab04.build_images({"cuda": "auto"}, slim="s:1", base="b:1", on_log=None)
    assert builds.outcomes["cuda"].status == "not run" and "auto" in builds.outcomes["cuda"].reason
    assert "cuda" not in builds.tags


def test_the_size_ablation_gets_the_naive_images_outcome_for_the_diet(monkeypatch, tmp_path):
    monkeypatch.setenv("MLLAB_RESULTS", str(tmp_path))
    seen = {}
    monkeypatch.setattr(lab04, "run_ablation", lambda full, **kw: seen.update(full=full, **kw))
    builds = lab04.build_images({"naive": False}, slim="s:1", base="b:1", on_log=None)
    _, log = lab04.size_ablation(False, builds)
    assert seen["full"] is False and seen["naive"] == (builds.outcomes["naive"], None)
    assert seen["on_log"] is log and log.path.parent == tmp_path / "logs"
