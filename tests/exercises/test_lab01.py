"""Lab 01's exercises on a tiny torch model: the export (one file, symbolic batch, parity) and
the lecture's Δ (per sample, worst sample), against mllab.measure.drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mllab.exercises import lab01
from mllab.measure.drift import compare

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
    out = capsys.readouterr().out
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
    out = capsys.readouterr().out
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
