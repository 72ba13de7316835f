"""Grading with nbgrader, on a toy lab (two exercises, 2 + 3 points): the reference solutions
get full marks, an untouched student edition gets 0 without a crash, a planted wrong answer gets
partial marks and its hint, and a submission that loops, raises or does not parse scores 0 on
the affected exercise with the reason while grading goes on. The grading run executes kernels
(slow); the table and feedback helpers are checked quickly on their own."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from mllab.core.errors import MllabError
from mllab.report import editions, grading
from mllab.report.grade_pages import write_tables

TOY = Path(__file__).parent / "toy" / "90_toy.ipynb"
TODO = "    # YOUR CODE HERE\n    raise NotImplementedError()"
TIMEOUT_S = 8


def _answer(edition: Path, target: Path, **answers: str) -> None:
    """Write ``edition`` to ``target`` with the body of each named answer cell replaced."""
    nb = nbformat.read(edition, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            assert TODO in cell.source
            cell.source = cell.source.replace(TODO, "    " + answers[grade_id])
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("grading")
    labs = root / "labs"
    labs.mkdir()
    shutil.copy2(TOY, labs / TOY.name)
    [edition] = editions.make_student_editions(
        out=root / "workspace", labs_dir=labs, course=root / "editions"
    )
    edition_path, subs, name = Path(edition.path), root / "submissions", TOY.name
    for student in ("alice", "bob", "frank", "gina"):
        (subs / student).mkdir(parents=True)
    shutil.copy2(TOY, subs / "alice" / name)  # the reference solutions
    shutil.copy2(edition_path, subs / "bob" / name)  # untouched
    _answer(
        edition_path,
        subs / "carol" / name,
        ex01_scaled="return SCALE * x",
        ex02_square="return x ** 3",
    )
    _answer(
        edition_path,
        subs / "dave" / "lab90" / name,
        ex01_scaled="while True: pass",
        ex02_square="return x * x",
    )
    _answer(
        edition_path,
        subs / "erin" / name,
        ex01_scaled="return SCALE *",
        ex02_square="raise ValueError('boom')",
    )
    (subs / "frank" / name).write_text('{"cells": [ not json')  # gina handed in nothing
    nb = nbformat.read(TOY, as_version=4)  # hana: the reference, one self-check cell deleted
    nb.cells = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "ex02_square_check"
    ]
    (subs / "hana").mkdir()
    nbformat.write(nb, subs / "hana" / name)
    report = grading.grade_submissions(subs, root / "grades", TIMEOUT_S, labs_dir=labs)
    rows = {(r.student, r.exercise): r for r in report.rows}
    return {"report": report, "rows": rows, "root": root}


def _points(graded: dict, student: str) -> list[float]:
    return [graded["rows"][(student, ex)].points for ex in ("ex01_scaled", "ex02_square")]


@pytest.mark.slow
def test_reference_solutions_get_full_marks(graded):
    assert _points(graded, "alice") == [2.0, 3.0]
    assert {graded["rows"][("alice", ex)].feedback for ex in ("ex01_scaled", "ex02_square")} == {
        grading.PASSED
    }


@pytest.mark.slow
def test_untouched_edition_gets_zero_and_no_crash(graded):
    assert _points(graded, "bob") == [0.0, 0.0]
    assert graded["rows"][("bob", "ex01_scaled")].feedback == "not done"


@pytest.mark.slow
def test_wrong_answer_gets_partial_marks_and_its_hint(graded):
    assert _points(graded, "carol") == [2.0, 0.0]
    assert graded["rows"][("carol", "ex02_square")].feedback == (
        "expected 36, got 216: reread section 2"
    )


@pytest.mark.slow
def test_a_loop_times_out_and_only_its_exercise_scores_zero(graded):
    assert _points(graded, "dave") == [0.0, 3.0]
    feedback = graded["rows"][("dave", "ex01_scaled")].feedback
    assert "timed out" in feedback and f"{TIMEOUT_S} s" in feedback


@pytest.mark.slow
def test_raising_and_unparsable_answers_score_zero_with_the_reason(graded):
    rows = graded["rows"]
    assert _points(graded, "erin") == [0.0, 0.0]
    assert rows[("erin", "ex01_scaled")].feedback.startswith("SyntaxError in the answer cell")
    assert rows[("erin", "ex02_square")].feedback == "ValueError in the self-check: boom"
    assert _points(graded, "frank") == [0.0, 0.0]
    assert rows[("frank", "ex01_scaled")].feedback.startswith("the notebook does not parse")
    assert rows[("gina", "ex02_square")].feedback == grading.NOT_SUBMITTED
    assert _points(graded, "hana") == [2.0, 0.0]
    assert rows[("hana", "ex02_square")].feedback == grading.MISSING


@pytest.mark.slow
def test_tables_and_feedback_pages_are_written(graded):
    report, root = graded["report"], graded["root"]
    with open(report.files["csv"]) as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["student", "lab", "exercise", "points", "max_points", "feedback"]
    assert len(table) == 8 * 2
    assert report.totals()["carol"] == (2.0, 5.0)
    page = Path(report.files["student:carol"]).read_text()
    assert "expected 36, got 216" in page and "2 / 5" in page
    nbgrader_page = root / "grades" / "course" / "feedback" / "carol" / "lab90" / "90_toy.html"
    assert nbgrader_page.exists() and "../course/feedback/carol/lab90/90_toy.html" in page
    assert "frank" in Path(report.files["html"]).read_text()


def _graded_notebook(path: Path) -> Path:
    def cell(grade_id: str, grade: bool, *errors: tuple[str, str]):
        c = new_code_cell("x", metadata={"nbgrader": {"grade_id": grade_id, "grade": grade}})
        c.outputs = [new_output("error", ename=n, evalue=v, traceback=[]) for n, v in errors]
        return c

    nb = new_notebook(
        cells=[
            cell("ex01_a", False, ("SyntaxError", "invalid syntax")),
            cell("ex01_a_check", True, ("NameError", "name 'a' is not defined")),
            cell("ex02_b", False),
            cell("ex02_b_check", True, ("KeyboardInterrupt", ""), ("CellTimeoutError", "8 s")),
            cell("ex03_c", False),
            cell("ex03_c_check", True, ("AssertionError", "got 3: reread 2.1")),
            cell("ex04_d_check", True),
        ]
    )
    nbformat.write(nb, path)
    return path


def test_feedback_names_the_answer_cell_first_and_keeps_the_hint(tmp_path: Path):
    expected = ["ex01_a_check", "ex02_b_check", "ex03_c_check", "ex04_d_check", "ex05_e_check"]
    reasons = grading.feedback_by_cell(_graded_notebook(tmp_path / "nb.ipynb"), expected)
    assert reasons == {
        "ex05_e_check": grading.MISSING,
        "ex01_a_check": "SyntaxError in the answer cell: invalid syntax",
        "ex02_b_check": "timed out in the self-check: 8 s",
        "ex03_c_check": "got 3: reread 2.1",
    }


def test_parse_problem_and_missing_submissions(tmp_path: Path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{")
    assert grading.parse_problem(bad).startswith("the notebook does not parse")
    assert grading.parse_problem(TOY) is None
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    with pytest.raises(MllabError, match="no lab notebooks"):
        grading.find_submissions(tmp_path / "subs", {TOY.name})
    with pytest.raises(MllabError, match="not a folder"):
        grading.find_submissions(tmp_path / "nothing", {TOY.name})


def test_tables_escape_and_total(tmp_path: Path):
    rows = [
        grading.GradeRow("ann<", "01", "ex01_x", 1.0, 2.0, "<script>"),
        grading.GradeRow("ann<", "01", "ex01_y", 2.0, 2.0, grading.PASSED),
    ]
    files = write_tables(rows, {}, tmp_path)
    html = Path(files["html"]).read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Total: 3 / 4 points" in Path(files["student:ann<"]).read_text()
