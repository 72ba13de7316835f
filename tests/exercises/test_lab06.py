"""Lab 06's self-checks: the reference answers pass, an unfinished exercise is "not done", a
planted wrong answer fails with its hint; a tiny ONNX model and the Dockerfile as text only (no
Docker, no buildah)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from mllab.core.paths import DOCKER
from mllab.exercises import lab06
from mllab.exercises.hidden_cases import SPECS
from mllab.exercises.hidden_measured import conv_model
from mllab.exercises.hidden_run import run_groups
from mllab.experiments.reproducibility.buildah import reproducible_dockerfile


@pytest.fixture
def deterministic_options(solution):
    """The notebook's reference solution of ex01_deterministic."""
    return solution("06", "ex01_deterministic", {"ort": ort})


@pytest.fixture
def reproducible_build(solution):
    """The notebook's reference solution of ex02_repro_build."""
    return solution("06", "ex02_repro_build")


def kit_dockerfile(dockerfile):
    """The kit's answer for the student's Dockerfile text (its scratch copy removed after)."""
    with tempfile.TemporaryDirectory(prefix="mllab-test-") as folder:
        path = Path(folder) / "Dockerfile"
        path.write_text(dockerfile)
        return reproducible_dockerfile(path)


@pytest.fixture(scope="module")
def conv_and_x():
    """A model of convolutions (the hidden cases' kind) on which ONNX Runtime's default graph is
    more than ε from the graph as written, and two inputs for it."""
    rng = np.random.default_rng(0)
    model = conv_model(rng, 32, batch_norm=False)
    return model, rng.standard_normal((2, 3, 16, 16)).astype(np.float32)


@pytest.fixture(scope="module")
def bn_and_x():
    """The same with a BatchNormalization that every optimisation level folds."""
    rng = np.random.default_rng(1)
    model = conv_model(rng, 64, batch_norm=True)
    return model, rng.standard_normal((2, 3, 16, 16)).astype(np.float32)


def options_of(**settings):
    """An answer that sets ``settings`` on fresh SessionOptions."""

    def answer(threads):
        options = ort.SessionOptions()
        for name, value in settings.items():
            setattr(options, name, value)
        return options

    return answer


LEVEL = ort.GraphOptimizationLevel


def test_the_control_is_off_by_more_than_epsilon(conv_and_x, bn_and_x):
    for model, x in (conv_and_x, bn_and_x):
        trial = lab06.try_options(lab06.default_options(2), model, x, 2)
        assert trial.control_to_graph > lab06.LECTURE_EPSILON and trial.credited == []


def test_deterministic_reference_passes(conv_and_x, capsys, deterministic_options):
    model, x = conv_and_x
    checked = lab06.check_deterministic_options(deterministic_options, model, x, threads=2)
    assert checked.passed and checked.value.intra_op_num_threads == 2
    out = " ".join(capsys.readouterr().out.split())  # the printed check wraps its lines
    assert "✓ ex01_deterministic: passed" in out and "credited: graph_optimization_level" in out


@pytest.mark.parametrize(
    "answer",
    [
        options_of(enable_mem_pattern=False, graph_optimization_level=LEVEL.ORT_DISABLE_ALL),
        lab06.reference_options,
    ],
    ids=["the-lectures-two-options", "the-kits-config"],
)
def test_the_lectures_own_options_pass(conv_and_x, bn_and_x, capsys, answer):
    for model, x in (conv_and_x, bn_and_x):
        checked = lab06.check_deterministic_options(answer, model, x, threads=2)
        assert checked.passed, checked.message
    out = " ".join(capsys.readouterr().out.split())  # the printed check wraps its lines
    assert "not credited: enable_mem_pattern = False" in out  # on a CPU it changes nothing


def test_deterministic_not_done_goes_on_with_the_kit(conv_and_x, capsys, not_done):
    model, x = conv_and_x
    checked = lab06.check_deterministic_options(not_done, model, x, threads=2)
    assert not checked.done and not checked.passed
    assert not checked.value.enable_mem_pattern  # the kit's deterministic options
    assert "not done yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (options_of(enable_mem_pattern=False), "change nothing here"),
        (options_of(use_deterministic_compute=True, intra_op_num_threads=2), "change nothing"),
        (options_of(), "change nothing here"),
        (options_of(graph_optimization_level=LEVEL.ORT_ENABLE_ALL), "change nothing here"),
    ],
    ids=["mem-pattern-only", "deterministic-compute-and-threads", "defaults", "level-all"],
)
def test_an_option_that_changes_nothing_is_not_credited(conv_and_x, capsys, answer, hint):
    model, x = conv_and_x
    checked = lab06.check_deterministic_options(answer, model, x, threads=2)
    assert checked.done and not checked.passed
    out = capsys.readouterr().out
    assert hint in out and "Воспроизводимость численных результатов" in out
    assert "Traceback" not in out


def test_a_fusion_left_on_is_caught_on_a_batch_norm(bn_and_x, capsys):
    model, x = bn_and_x
    basic = options_of(graph_optimization_level=LEVEL.ORT_ENABLE_BASIC)
    checked = lab06.check_deterministic_options(basic, model, x, threads=2)
    assert checked.done and not checked.passed
    assert "still" in checked.message and "from the graph as the file writes it" in checked.message


def matmul_model() -> bytes:
    """One MatMul: nothing for any optimisation level to rewrite."""
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.eye(4, 3, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def test_a_model_that_cannot_tell_options_apart_says_so(capsys):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    trial = lab06.try_options(lab06.default_options(2), matmul_model(), x, 2)
    assert trial.control_to_graph == 0.0
    checked = lab06.check_deterministic_options(options_of(), matmul_model(), x, threads=2)
    assert checked.passed and "does not tell options apart" in capsys.readouterr().out


def test_deterministic_answer_of_the_wrong_type(conv_and_x, capsys):
    model, x = conv_and_x
    checked = lab06.check_deterministic_options(lambda t: {"threads": t}, model, x, threads=1)
    assert not checked.passed and "return an onnxruntime.SessionOptions" in checked.message


def test_build_reference_passes_and_is_the_kit_recipe(capsys, reproducible_build):
    checked = lab06.check_reproducible_build(reproducible_build)
    assert checked.passed and checked.value == lab06.kit_recipe()
    assert checked.value.options()["source_date_epoch"] == 0
    assert "✓ ex02_repro_build: passed" in capsys.readouterr().out


def test_build_not_done_goes_on_with_the_kit_recipe(capsys, not_done):
    checked = lab06.check_reproducible_build(not_done)
    assert not checked.done and checked.value == lab06.kit_recipe()
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
    checked = lab06.check_reproducible_build(wrong)
    assert checked.done and not checked.passed and checked.value == lab06.kit_recipe()
    out = " ".join(capsys.readouterr().out.split())  # the printed check wraps its lines
    assert hint in out and "reproducible build" in out and "Traceback" not in out


def test_a_fixed_time_other_than_zero_is_right_too():

    def at_2026(dockerfile):
        text = kit_dockerfile(dockerfile)
        return text, {"timestamp": 1_780_000_000, "source_date_epoch": 1_780_000_000}

    checked = lab06.check_reproducible_build(at_2026, DOCKER / "Dockerfile")
    assert checked.passed and checked.value.timestamp == 1_780_000_000


@pytest.mark.parametrize("section", [lab06.SECTION_C6, lab06.SECTION_BUILD], ids=["c6", "build"])
def test_the_sections_cited_are_lecture_headings(section, cited_headings):
    cited, headings = cited_headings(section)
    assert cited and set(cited) <= headings


def _hidden(answer, seed: int = 0):
    spec = SPECS["ex01_deterministic"]
    return run_groups(spec, spec.groups(np.random.default_rng(seed)), answer)


def test_hidden_cases_give_the_lecture_full_points_and_the_idle_options_none():
    lecture = options_of(enable_mem_pattern=False, graph_optimization_level=LEVEL.ORT_DISABLE_ALL)
    assert _hidden(lecture).share == 1.0
    idle = _hidden(options_of(enable_mem_pattern=False, use_deterministic_compute=True))
    assert idle.share == 0.0 and "change nothing here" in idle.reason
    basic = _hidden(options_of(graph_optimization_level=LEVEL.ORT_ENABLE_BASIC))
    assert basic.share == 0.5 and basic.reason.startswith("a BatchNormalization")


def test_hidden_cases_refuse_the_kits_own_options():
    result = _hidden(lambda threads: lab06.reference_options(threads))
    assert result.share == 0.0 and "kit's own answer" in result.reason
