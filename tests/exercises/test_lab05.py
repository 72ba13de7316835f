"""Lab 05's self-checks: the reference answers pass, an unfinished exercise is "not done", a
planted wrong answer fails with its hint; a tiny ONNX model and the Dockerfile as text only (no
Docker, no buildah)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from mllab.core.paths import DOCKER
from mllab.exercises import lab05
from mllab.experiments.reproducibility.buildah import reproducible_dockerfile


@pytest.fixture
def deterministic_options(solution):
    """The notebook's reference solution of ex01_deterministic."""
    return solution("05", "ex01_deterministic", {"ort": ort})


@pytest.fixture
def reproducible_build(solution):
    """The notebook's reference solution of ex02_repro_build."""
    return solution("05", "ex02_repro_build")


def kit_dockerfile(dockerfile):
    path = Path(tempfile.mkdtemp(prefix="mllab-test-")) / "Dockerfile"
    path.write_text(dockerfile)
    return reproducible_dockerfile(path)


@pytest.fixture(scope="module")
def tiny_and_x(tiny):
    """The tiny classifier (tests/conftest.py; its digest file is not read: the check runs
    ONNX Runtime directly) and three inputs for it."""
    return tiny, np.random.default_rng(0).standard_normal((3, 3, 8, 8)).astype(np.float32)


def test_deterministic_reference_passes(tiny_and_x, capsys, deterministic_options):
    model, x = tiny_and_x
    checked = lab05.check_deterministic_options(deterministic_options, model, x, threads=2)
    assert checked.passed and checked.value.intra_op_num_threads == 2
    assert "✓ ex01_deterministic: passed" in capsys.readouterr().out


def test_deterministic_not_done_goes_on_with_the_kit(tiny_and_x, capsys, not_done):
    model, x = tiny_and_x
    checked = lab05.check_deterministic_options(not_done, model, x, threads=2)
    assert not checked.done and not checked.passed
    assert not checked.value.enable_mem_pattern  # the kit's deterministic options
    assert "not done yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        (
            {"graph_optimization_level": ort.GraphOptimizationLevel.ORT_ENABLE_ALL},
            "ORT_DISABLE_ALL",
        ),
        ({"enable_mem_pattern": True}, "enable_mem_pattern is True"),
        ({"use_deterministic_compute": False}, "deterministic variant"),
        ({"intra_op_num_threads": 0}, "a fixed pool"),
    ],
)
def test_deterministic_wrong_answer_fails_with_its_hint(tiny_and_x, capsys, change, hint):
    model, x = tiny_and_x

    def wrong(threads):
        options = lab05.reference_options(threads)
        for name, value in change.items():
            setattr(options, name, value)
        return options

    checked = lab05.check_deterministic_options(wrong, model, x, threads=2)
    assert checked.done and not checked.passed
    out = capsys.readouterr().out
    assert hint in out and "Воспроизводимость численных результатов" in out
    assert "Traceback" not in out


def test_deterministic_answer_of_the_wrong_type(tiny_and_x, capsys):
    model, x = tiny_and_x
    checked = lab05.check_deterministic_options(lambda t: {"threads": t}, model, x, threads=1)
    assert not checked.passed and "return an onnxruntime.SessionOptions" in checked.message


def test_build_reference_passes_and_is_the_kit_recipe(capsys, reproducible_build):
    checked = lab05.check_reproducible_build(reproducible_build)
    assert checked.passed and checked.value == lab05.kit_recipe()
    assert checked.value.options()["source_date_epoch"] == 0
    assert "✓ ex02_repro_build: passed" in capsys.readouterr().out


def test_build_not_done_goes_on_with_the_kit_recipe(capsys, not_done):
    checked = lab05.check_reproducible_build(not_done)
    assert not checked.done and checked.value == lab05.kit_recipe()
    assert "not done yet" in capsys.readouterr().out


def before_the_first_from(dockerfile):  # a global ARG: the stages do not see it
    text = dockerfile.replace("FROM ", "ARG SOURCE_DATE_EPOCH\nFROM ", 1)
    return text, {"timestamp": 0, "source_date_epoch": 0}


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (
            lambda d: (d, {"timestamp": 0, "source_date_epoch": 0}),
            "does not declare ARG SOURCE_DATE_EPOCH",
        ),
        (before_the_first_from, "stage 1 does not declare"),
        (
            lambda d: (kit_dockerfile(d), {"timestamp": None, "source_date_epoch": 0}),
            "every file's mtime",
        ),
        (
            lambda d: (kit_dockerfile(d), {"timestamp": 0, "source_date_epoch": None}),
            "useradd writes today's date",
        ),
        (
            lambda d: (kit_dockerfile(d), {"timestamp": 0, "source_date_epoch": 1}),
            "one fixed time for both",
        ),
        (
            lambda d: (
                kit_dockerfile(d).replace("USER", "# USER"),
                {"timestamp": 0, "source_date_epoch": 0},
            ),
            "leave the rest as it was",
        ),
        (lambda d: kit_dockerfile(d), "return (dockerfile, settings)"),
    ],
)
def test_build_wrong_answer_fails_with_its_hint(capsys, wrong, hint):
    checked = lab05.check_reproducible_build(wrong)
    assert checked.done and not checked.passed and checked.value == lab05.kit_recipe()
    out = capsys.readouterr().out
    assert hint in out and "reproducible build" in out and "Traceback" not in out


def test_a_fixed_time_other_than_zero_is_right_too():

    def at_2026(dockerfile):
        text = kit_dockerfile(dockerfile)
        return text, {"timestamp": 1_780_000_000, "source_date_epoch": 1_780_000_000}

    checked = lab05.check_reproducible_build(at_2026, DOCKER / "Dockerfile")
    assert checked.passed and checked.value.timestamp == 1_780_000_000


@pytest.mark.parametrize("section", [lab05.SECTION_C6, lab05.SECTION_BUILD], ids=["c6", "build"])
def test_the_sections_cited_are_lecture_headings(section, cited_headings):
    cited, headings = cited_headings(section)
    assert cited and set(cited) <= headings
