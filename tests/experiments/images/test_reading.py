"""Reading the ablation: the reference, which principle bought how much, the rows not built
and the dependency diet, each computed from the record."""

from __future__ import annotations

from ablation_records import FULL, NO_FULL_BASE, SLIM_ONLY, size_ablation

from mllab.core.outcome import Outcome
from mllab.experiments.images import reading


def test_with_the_full_base_the_gains_are_against_none():
    ablation = size_ablation(FULL)
    assert reading.reference(ablation)[0] == "none"
    assert reading.measured_principles(ablation) == ["multi_stage", "slim_base", "clean_cache"]
    rows = reading.table(ablation)
    assert [r["variant"] for r in rows][0] == "none" and len(rows) == 8
    assert rows[-1]["x_vs_none"] == round(800 / 450, 2) and rows[0]["base"] == "full*"


def test_without_the_full_base_two_principles_against_slim_base_alone():
    ablation = size_ablation(SLIM_ONLY, full_base=NO_FULL_BASE)
    assert reading.reference(ablation)[0] == "slim base alone"
    assert reading.measured_principles(ablation) == ["multi_stage", "clean_cache"]
    (line,) = reading.not_built(ablation)
    assert line.startswith("not built (none, multi-stage alone, cache clean-up alone, ")
    assert line.endswith(": FULL_BASE = False in the parameters")
    text = "\n".join(reading.which_principle(ablation))
    assert "against 'slim base alone' (500 MB)" in text
    assert "slim base: not measured: FULL_BASE = False in the parameters" in text


def test_overlapping_principles_are_said_to_overlap():
    lines = reading.which_principle(size_ablation(FULL))
    assert lines[0] == (
        "against 'none' (800 MB), each alone: multi-stage saves 50 MB (1.07×); "
        "slim base saves 300 MB (1.60×); cache clean-up saves 50 MB (1.07×)"
    )
    assert lines[1] == "all measured together ('all three', 450 MB): saves 350 MB (1.78×)"
    assert "cache clean-up nothing measurable (< 1 MB)" in lines[2]  # added last
    assert lines[3] == "the gains overlap: alone they save 400 MB in all, together 350 MB"


def test_independent_principles_add_up():
    sizes = {**FULL, "multi-stage alone": 780.0, "cache clean-up alone": 770.0}
    sizes |= {"multi-stage + slim base": 480.0, "slim base + cache clean-up": 470.0}
    sizes |= {"multi-stage + cache clean-up": 750.0}
    sizes["all three"] = 450.0
    assert reading.which_principle(size_ablation(sizes))[3] == "the gains add up"


def test_the_dependency_diet_is_its_own_line_and_says_why_it_is_missing():
    assert reading.diet_line(size_ablation(FULL, naive_mb=10000.0)).endswith(
        "torch/CUDA/JupyterLab 10,000 MB vs ONNX Runtime alone 500 MB = 20.00× smaller"
    )
    assert reading.diet_line(size_ablation(FULL)) == (
        "dependency diet: not built: BUILD_NAIVE = False (the torch/CUDA research image)"
    )


def test_a_failed_variant_is_listed_with_its_error():
    ablation = size_ablation(FULL)
    ablation.variants[-1].build = Outcome.failed("BuildError: step 7 returned 1")
    ablation.variants[-1].size_mb = None
    assert reading.not_built(ablation) == [
        "not built (all three): failed: BuildError: step 7 returned 1"
    ]
    assert reading.which_principle(ablation)[-1] == "all three: not built"
