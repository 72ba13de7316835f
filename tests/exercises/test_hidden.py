"""Hidden tests: the notebooks' own solutions earn every group on several seeds, an unfinished
answer none, a partly right answer part (the failed case named in words), an answer that calls
the kit's own answer 0 with that reason; and in a fresh process (``python -m
mllab.exercises.hidden``) an answer cell that patches the checker scores 0 with the names it
replaced, one that kills the process or loops scores 0 with the reason."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import httpx
import nbformat
import numpy as np
import onnxruntime
import pytest

from mllab.core.errors import MllabError
from mllab.core.paths import LABS as LAB_NOTEBOOKS
from mllab.exercises import hidden, lab00, messages
from mllab.exercises.check import Check
from mllab.exercises.hidden_cases import SPECS
from mllab.exercises.hidden_run import HiddenResult, changed, run_groups, snapshot, unavailable
from mllab.report import editions, grading
from mllab.report.grade_pages import reason_kind
from mllab.report.grade_run import hidden_outside

LABS = {"ex00": "00", "ex01_fit": "05", "ex02_n_star": "05", "ex01_lc": "07", "ex01_next": "08"}
LABS |= {"ex01_export": "01", "ex01_delta": "01", "ex04": "04", "ex02_rollout": "08"}
LABS |= {"ex03": "03"}
LABS |= {"ex02_limits": "07", "ex01_deterministic": "06", "ex02_binary_client": "02"}
#: exports a network per case (seconds each): every seed in the slow run, one in lab 01's tests
SLOW = {"ex01_export"}
#: builds and stops containers per case: tests/exercises/test_lab03.py, with Docker, one seed
MEASURED_ON_THE_ENGINE = {"ex03_stop"}
GRADE_IDS = [
    pytest.param(g, marks=[pytest.mark.slow] if g in SLOW else [])
    for g in sorted(set(SPECS) - MEASURED_ON_THE_ENGINE)
]
NAMES = {"np": np, "math": math, "re": re, "ort": onnxruntime, "httpx": httpx, "json": json}


def _lab(grade_id: str) -> str:
    return next(lab for prefix, lab in LABS.items() if grade_id.startswith(prefix))


def _score(grade_id: str, function, seed: int = 0) -> hidden.HiddenResult:
    spec = SPECS[grade_id]
    return run_groups(spec, spec.groups(np.random.default_rng(seed)), function)


@pytest.mark.parametrize("grade_id", GRADE_IDS)
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_the_notebooks_solutions_earn_every_group(solution, grade_id, seed):
    result = _score(grade_id, solution(_lab(grade_id), grade_id, dict(NAMES)), seed)
    assert result.share == 1.0, result.reason
    assert len(result.groups) >= 2 and all(g.passed for g in result.groups)
    assert abs(sum(g.share for g in result.groups) - 1) < 1e-9


@pytest.mark.parametrize("grade_id", sorted(SPECS))
def test_an_unfinished_answer_earns_nothing(not_done, grade_id):
    result = _score(grade_id, not_done)
    assert (result.share, result.reason) == (0.0, "not done")


def test_the_cases_change_with_the_seed_and_stay_with_it():
    spec = SPECS["ex01_fit"]
    labels = [
        [c.label for g in spec.groups(np.random.default_rng(s)) for c in g.cases] for s in (0, 0, 1)
    ]
    assert labels[0] == labels[1] != labels[2]


def test_a_partly_right_answer_earns_part_and_hears_which_case(solution):
    result = _score("ex00_cuda", lambda c, d: c <= d)  # strings: "12.10" < "12.9"
    assert 0 < result.share < 1
    assert "two-digit" in result.reason and "expected False, got True" in result.reason
    median = solution("05", "ex02_n_star")  # the median instead of p99: one group of four lost

    def by_median(stats, fit, bound):
        return median([replace(s, p99_ms=s.p50_ms) for s in stats], fit, bound)

    result = _score("ex02_n_star", by_median)
    assert result.share == 0.75 and result.reason.startswith("p99 within the bound")


def test_calling_the_kits_own_answer_scores_zero_with_the_reason():
    def delegating(e1, e2):
        return lab00.reference_differing_fields(e1, e2)

    def hiding_it(e1, e2):  # catching the refusal does not help
        try:
            return lab00.reference_differing_fields(e1, e2)
        except Exception:  # noqa: BLE001
            return []

    for answer in (delegating, hiding_it):
        result = _score("ex00_diff", answer)
        assert result.share == 0.0
        assert "kit's own answer" in result.reason and "differing_fields" in result.reason
    assert lab00.reference_differing_fields({"a": 1}, {"a": 2}) == ["a"]  # put back after


def test_a_reference_held_in_a_default_argument_or_a_closure_is_refused_too():
    """Bound before the hidden cases began (``def f(x, ref=kit.answer)``): still the kit's."""

    def by_default(e1, e2, ref=lab00.reference_differing_fields):
        return ref(e1, e2)

    def by_keyword(e1, e2, *, ref=lab00.reference_differing_fields):
        return ref(e1, e2)

    def closing_over(ref):
        return lambda e1, e2: ref(e1, e2)

    for answer in (by_default, by_keyword, closing_over(lab00.reference_differing_fields)):
        result = _score("ex00_diff", answer)
        assert result.share == 0.0 and "kit's own answer" in result.reason
    assert by_default({"a": 1}, {"a": 2}) == ["a"]  # put back after


def test_the_references_are_refused_also_in_the_students_namespace():
    namespace = {"rule": lab00.reference_cuda_compatible}
    with unavailable([lab00.reference_cuda_compatible], [namespace]) as called:
        with pytest.raises(MllabError, match="kit's own answer"):
            namespace["rule"]("12.0", "12.1")
    assert called and namespace["rule"] is lab00.reference_cuda_compatible


def test_a_replaced_name_of_the_kit_is_seen():
    before = snapshot()
    original = lab00.check_cuda_rule
    try:
        lab00.check_cuda_rule = lambda *a: None  # type: ignore[assignment]
        assert "mllab.exercises.lab00.check_cuda_rule" in changed(before, snapshot())
    finally:
        lab00.check_cuda_rule = original
    assert changed(before, snapshot()) == []


def test_in_the_kernel_an_unfinished_or_interrupted_check_is_not_run_again(capsys):
    def never(*_args):
        raise AssertionError("must not run")

    for done, message in ((False, "not done"), (True, "interrupted (stop button)")):
        checked = Check("ex00_cuda", done, False, message, "section")
        assert hidden.hidden_tests(checked, never) == 0.0
    assert "hidden cases: 0%" in capsys.readouterr().out


def test_the_hidden_line_is_in_the_students_language(capsys, monkeypatch):
    monkeypatch.setenv("MLLAB_LANG", "ru")
    checked = Check("ex00_cuda", False, False, "not done", "section")
    hidden.hidden_tests(checked, lambda *_: None)
    assert capsys.readouterr().out.startswith("скрытые случаи: 0% баллов (групп пройдено: 0 из")


CUDA = "def cuda_compatible(container_cuda, driver_max_cuda):\n    {}\n"
RIGHT = "return Version(container_cuda) <= Version(driver_max_cuda)"
PRELUDE = "from mllab.labs import lab00\nfrom packaging.version import Version"


def _outside(tmp_path: Path, body: str, *, prefix: str = "", timeout: int = 60) -> dict:
    return hidden_outside(
        "ex00_cuda", prefix + CUDA.format(body), PRELUDE, 3, timeout, tmp_path / "work"
    )


def test_outside_the_kernel_patches_kills_and_loops_score_zero(tmp_path, monkeypatch):
    assert _outside(tmp_path, RIGHT)["share"] == 1.0
    patch = (
        "import mllab.exercises.check as check\ncheck.self_check = lambda *a, **k: None\n"
        "lab00.hidden_tests = lambda *a: 1.0\n"
    )
    patched = _outside(tmp_path, RIGHT, prefix=patch)
    assert patched["share"] == 0.0 and "mllab.exercises.check.self_check" in patched["reason"]
    killed = _outside(tmp_path, "import os; os._exit(0)")
    assert killed["share"] == 0.0 and "ended the Python process" in killed["reason"]
    monkeypatch.setenv(hidden.LIMIT_ENV, "2")
    looped = _outside(tmp_path, "while True: pass")
    assert looped["share"] == 0.0 and "timed out" in looped["reason"]
    wrecker = "import os, shutil\nshutil.rmtree(os.getcwd())\nos.chdir('/')\n"
    assert _outside(tmp_path, RIGHT, prefix=wrecker)["share"] == 1.0
    broken = _outside(tmp_path, "return (", prefix="")
    assert broken["share"] == 0.0 and "SyntaxError" in broken["reason"]


# --- the feedback in the Russian edition's language --------------------------------------------

CYRILLIC = re.compile(r"[а-яё]", re.I)


def _russian(text: str) -> bool:
    """Whether the catalogue turns ``text`` into Russian (it has a Russian version)."""
    said = messages.translate(text)
    return said != text and bool(CYRILLIC.search(said))


@pytest.mark.parametrize("grade_id", sorted(SPECS))
def test_every_group_and_case_is_said_in_russian(grade_id):
    """What the grader shows of a hidden case (its group's name, its label) as drawn, not only
    as the source spells it (tests/labs/test_russian_edition.py): the catalogue's templates
    must match the words the cases are made of."""
    groups = SPECS[grade_id].groups(np.random.default_rng(0))
    untranslated = [g.name for g in groups if not _russian(g.name)]
    untranslated += [c.label for g in groups for c in g.cases if not _russian(c.label)]
    assert not untranslated, f"no Russian version: {untranslated}"


def test_a_result_is_shown_in_russian_and_scores_the_same():
    result = _score("ex00_cuda", lambda c, d: c <= d)  # strings: "12.10" < "12.9"
    english = result.to_json()
    russian = HiddenResult.shown(english, "ru")
    assert russian["share"] == english["share"] and 0 < russian["share"] < 1
    assert [g["passed"] for g in russian["groups"]] == [g["passed"] for g in english["groups"]]
    assert russian["reason"].startswith("версии с двузначной частью (12.10 новее, чем 12.9): на ")
    assert "ожидалось False, получено True" in russian["reason"]
    assert "two-digit" not in russian["reason"] and "expected" not in russian["reason"]
    assert all(CYRILLIC.search(g["name"]) for g in russian["groups"])
    assert russian["section"].startswith("«Управление версиями CUDA и драйверов»")
    assert HiddenResult.shown(english, "en") == english
    kind = reason_kind(russian["reason"])  # the class summary counts alike reasons together
    assert kind.startswith("версии с двузначной частью") and "CUDA" not in kind


def test_outside_the_kernel_the_feedback_follows_mllab_lang(tmp_path, monkeypatch):
    wrong = "return container_cuda <= driver_max_cuda"
    monkeypatch.setenv(messages.LANG_ENV, "en")
    english = _outside(tmp_path, wrong)
    monkeypatch.setenv(messages.LANG_ENV, "ru")
    russian = _outside(tmp_path, wrong)
    assert russian["share"] == english["share"] and 0 < russian["share"] < 1
    assert "two-digit" in english["reason"] and "двузначной" in russian["reason"]
    assert russian == HiddenResult.shown(english, "ru")


def test_the_grader_reads_the_section_of_a_russian_self_check():
    section = lab00.SECTION_CUDA
    for lang in messages.LANGUAGES:
        shown = messages.render("ex00_cuda", True, False, "wrong", section, ("✓", "✗", "…"), lang)
        wrong, found = grading._shown(shown, "ex00_cuda")
        assert found == messages.localize(section, lang) and wrong == "wrong"


@pytest.mark.slow
def test_a_russian_submission_is_graded_with_russian_feedback(tmp_path):
    """``mllab labs grade`` on lab 00's Russian edition with a partly right answer: the same
    points as in English, the failed case, the groups and the section in Russian."""
    lab = LAB_NOTEBOOKS / "00_environment.ipynb"
    [edition] = editions.make_student_editions(
        only="00", out=tmp_path / "workspace", course=tmp_path / "course", lang="ru"
    )
    nb = nbformat.read(edition.path, as_version=4)
    answer = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex00_cuda"
    )
    answer.source = CUDA.format("return container_cuda <= driver_max_cuda")
    (tmp_path / "subs" / "ivan").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "subs" / "ivan" / lab.name)
    report = grading.grade_submissions(
        tmp_path / "subs", tmp_path / "grades", 60, seed=3, parameters={"CONTAINER": False}
    )
    row = next(r for r in report.rows if r.exercise == "ex00_cuda")
    assert 0 < row.points < row.max_points
    assert "двузначной" in row.feedback and "ожидалось False, получено True" in row.feedback
    assert row.section.startswith("«Управление версиями CUDA"), row.section
    assert row.details and all(CYRILLIC.search(d) for d in row.details), row.details
    page = Path(report.files["student:ivan"]).read_text()
    assert "двузначной" in page and "two-digit" not in page
    untouched = next(r for r in report.rows if r.exercise == "ex00_diff")  # the grader's words
    assert untouched.points == 0 and untouched.lang == "ru" and CYRILLIC.search(untouched.feedback)
    assert "Отзыв для ivan" in page and "Итого баллов:" in page and "раздел лекции" in page
    assert "Total" not in page and "Feedback for" not in page and "not done" not in page
