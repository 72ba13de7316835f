"""Lab 01's exercises on a tiny torch model: the export (one file, symbolic batch, parity) and
the lecture's Δ (per sample, worst sample), against mllab.measure.drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mllab.exercises import lab01
from mllab.exercises.hidden_cases import SPECS
from mllab.exercises.hidden_run import run_groups
from mllab.measure import drift
from mllab.measure.drift import compare
from mllab.report.grade_run import hidden_outside

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_net():
    """A tiny torch classifier (Conv 3->4, ReLU, pool, Linear 4->5) for the export exercise."""
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1)]
    return torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(4, 5)).eval()


def _torchscript(model, path, dynamic=True):
    axes = {"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic else None
    torch.onnx.export(
        model,
        (torch.randn(2, 3, 8, 8),),
        str(path),
        dynamo=False,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes=axes,
    )


def _check(student, model, tmp_path):
    ref = tmp_path / "kit.onnx"
    return lab01.check_export(student, model, tmp_path / "yours.onnx", lambda: ref, (3, 8, 8))


def test_a_right_export_passes_and_is_the_value(tiny_net, tmp_path, capsys):
    checked = _check(_torchscript, tiny_net, tmp_path)
    assert checked.passed and checked.value == tmp_path / "yours.onnx"
    assert "Traceback" not in capsys.readouterr().out


@pytest.mark.slow
def test_the_notebooks_solution_passes(solution, tiny_net, tmp_path):
    export = solution("01", "ex01_export")
    checked = lab01.check_export(export, tiny_net, tmp_path / "y.onnx", lambda: None)
    assert checked.passed, checked.message


def test_not_done_and_a_fixed_batch_go_on_with_the_kits_file(tiny_net, tmp_path, not_done, capsys):
    checked = _check(not_done, tiny_net, tmp_path)
    assert not checked.done and checked.value == tmp_path / "kit.onnx"
    checked = _check(lambda m, p: _torchscript(m, p, dynamic=False), tiny_net, tmp_path)
    assert not checked.passed and "the batch axis is fixed" in checked.message
    assert checked.value == tmp_path / "kit.onnx"
    out = " ".join(capsys.readouterr().out.split())  # the printed check wraps its lines
    assert lab01.SECTION_EXPORT in out and "Traceback" not in out


def test_external_weights_and_no_file_fail_with_their_hint(tiny_net, tmp_path):
    import onnx

    def external(model, path):
        _torchscript(model, path)
        onnx.save(
            onnx.load(str(path)),
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=Path(path).stem + ".data",
            size_threshold=0,
        )

    checked = _check(external, tiny_net, tmp_path)
    assert "not inside the file" in checked.message
    checked = _check(lambda m, p: None, tiny_net, tmp_path)
    assert "no file at" in checked.message


def test_an_export_of_another_model_fails_on_parity(tiny_net, tmp_path):
    other = torch.nn.Sequential(*list(tiny_net.children())[:-1], torch.nn.Linear(4, 5)).eval()
    checked = _check(lambda m, p: _torchscript(other, p), tiny_net, tmp_path)
    assert not checked.passed and "Δ against torch" in checked.message


def test_the_delta_solution_matches_drift(solution):
    delta = solution("01", "ex01_delta", {"np": np})
    a, b = np.random.default_rng(0).standard_normal((2, 4, 10))
    checked = lab01.check_delta(delta, a, b)
    assert checked.passed and checked.value == pytest.approx(compare(a, b).l2)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda a, b: float(np.linalg.norm(a - b)), "of the whole batch"),
        (lambda a, b: float(np.abs(a - b).max()), "max |a − b|"),
        (lambda a, b: float((np.atleast_2d(a - b) ** 2).sum(axis=1).max()), "square root"),
        (lambda a, b: None, "returned None"),
    ],
)
def test_planted_wrong_deltas_get_their_hint(wrong, hint, capsys):
    a, b = np.ones((2, 4)), np.zeros((2, 4))
    checked = lab01.check_delta(wrong, a, b)
    assert not checked.passed and hint in checked.message
    assert checked.value == pytest.approx(2.0)  # the kit's Δ of the real outputs
    out = " ".join(capsys.readouterr().out.split())  # the printed check wraps its lines
    assert lab01.SECTION_DELTA in out and "Traceback" not in out


def test_delta_not_done(not_done):
    checked = lab01.check_delta(not_done, np.ones(3), np.zeros(3))
    assert not checked.done and checked.value == pytest.approx(3**0.5)


@pytest.mark.parametrize(
    "section", [lab01.SECTION_EXPORT, lab01.SECTION_DELTA], ids=["first", "second"]
)
def test_the_sections_cited_are_the_lectures_headings(section, cited_headings):
    cited, headings = cited_headings(section)
    assert cited and set(cited) <= headings


# --- the hidden cases: other networks, other batches, other arrays ----------------------------


def _hidden(grade_id, function, seed=0):
    spec = SPECS[grade_id]
    return run_groups(spec, spec.groups(np.random.default_rng(seed)), function)


def _legacy(names=True, model_of=lambda given: given):
    """A TorchScript-exporter answer at 224×224 (fast); ``model_of`` picks what it exports."""

    def export(model, path):
        kwargs = {"input_names": ["input"], "output_names": ["logits"]} if names else {}
        axes = {"input": {0: "batch"}, "logits": {0: "batch"}} if names else None
        example = (torch.randn(2, 3, 224, 224),)
        torch.onnx.export(
            model_of(model), example, str(path), dynamo=False, dynamic_axes=axes, **kwargs
        )

    return export


def test_hidden_export_the_solution_earns_all_and_a_partial_answer_part(solution):
    assert _hidden("ex01_export", solution("01", "ex01_export")).share == 1.0
    unnamed = _hidden("ex01_export", _legacy(names=False))  # the batch axis stays fixed
    assert 0 < unnamed.share < 1 and "input 'input'" in unnamed.reason
    passed = {g.name: g.passed for g in unnamed.groups}
    assert passed["the model given is the one exported (Δ to torch ≤ 1e-3)"]


def test_hidden_export_of_another_network_than_the_given_fails_that_group(tiny_net):
    result = _hidden("ex01_export", _legacy(model_of=lambda _given: tiny_net))
    assert result.share < 1 and result.reason.startswith("the model given is the one exported")


def test_hidden_export_that_calls_the_kits_exporter_scores_zero():
    from mllab.model import export

    result = _hidden(
        "ex01_export", lambda m, p: export._export_with_torch(m, p, "dynamo", None, True)
    )
    assert result.share == 0.0 and "_export_with_torch" in result.reason
    assert "kit's own answer" in result.reason


@pytest.mark.parametrize("seed", [0, 3])
def test_hidden_delta_partial_credit_names_the_idea(seed):
    whole = _hidden("ex01_delta", lambda a, b: float(np.linalg.norm(np.subtract(a, b))), seed)
    assert 0 < whole.share < 1 and "the whole batch's norm" in whole.reason
    delegating = _hidden("ex01_delta", lambda a, b: drift.compare(a, b).l2, seed)
    assert delegating.share == 0.0 and "mllab.measure.drift.compare" in delegating.reason


DELTA = (
    "def lecture_delta(f1, f2):\n"
    "    return float(np.linalg.norm(np.atleast_2d(f1 - f2), axis=1).max())\n"
)


def test_outside_the_kernel_a_patched_checker_or_a_delegation_scores_zero(tmp_path):
    prelude = "import numpy as np\nfrom mllab.labs import lab01"

    def outside(source):
        return hidden_outside("ex01_delta", source, prelude, 5, 120, tmp_path / "work")

    assert outside(DELTA)["share"] == 1.0
    patch = "import mllab.exercises.hidden_run as h\nh.score = lambda *a, **k: None\n"
    patched = outside(patch + DELTA)
    assert patched["share"] == 0.0 and "mllab.exercises.hidden_run.score" in patched["reason"]
    delegated = outside(
        "from mllab.measure.drift import compare\n"
        "def lecture_delta(f1, f2):\n    return compare(f1, f2).l2\n"
    )
    assert delegated["share"] == 0.0 and "drift.compare" in delegated["reason"]
