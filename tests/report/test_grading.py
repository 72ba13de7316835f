"""Grading that holds, on a real lab (lab 00, the quickest to run; its container part off):
the reference earns full marks; an untouched edition 0; a partly right answer part, with the
case that failed in words; an answer that calls the kit's own answer 0; a patched checker 0
with the names it replaced; a kernel killed by ``os._exit`` keeps only what was earned before;
an endless loop times out and grading goes on; edited or deleted check cells do not change the
grade; a notebook that is not JSON scores 0 with the reason. The grading run executes kernels
(slow); the scoring, the kit's copy of the check cells and the tables are checked quickly."""

from __future__ import annotations

import ast
import copy
import csv
import re
import shutil
import string
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from source_strings import templates  # tests/: on the path

from mllab.core.errors import MllabError
from mllab.core.paths import LABS
from mllab.report import editions, grade_words, grading
from mllab.report.editions import Exercise
from mllab.report.grade_pages import histogram, reason_kind, write_tables
from mllab.report.grade_run import CellRun, LabRun, graded_copy

REPORT = Path(grading.__file__).parent
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)

LAB = LABS / "00_environment.ipynb"
#: lab 00's slowest cell (the fingerprint) takes seconds; a looping answer waits this long
TIMEOUT_S = 30
SEED = 5
CUDA = "def cuda_compatible(container_cuda, driver_max_cuda):\n    {}\n"
DIFF = "def differing_fields(e1, e2):\n    {}\n"
RIGHT_CUDA = "return Version(container_cuda) <= Version(driver_max_cuda)"
WRECK = (
    "import os, shutil\nfrom packaging.version import Version\n"
    "shutil.rmtree(os.getcwd(), ignore_errors=True)\nos.chdir('/')\n"
)
PATCH = (
    "import types\n\n\ndef differing_fields(e1, e2):\n    return []\n\n\n"
    "def passed(function, host, container=None):\n"
    "    return types.SimpleNamespace(exercise='ex00_diff', done=True, passed=True,"
    " message='passed', value=[])\n\n\n"
    "lab00.check_differing_fields = passed\nlab00.hidden_tests = lambda checked, function: 1.0\n"
)


def _cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def _submit(base: Path, target: Path, **sources: str | None) -> None:
    """``base`` with the cells named by grade id given new sources (None: deleted)."""
    nb = nbformat.read(base, as_version=4)
    cells = _cells(nb)
    for grade_id, source in sources.items():
        if source is None:
            nb.cells.remove(cells[grade_id])
        else:
            cells[grade_id].source = source
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("grading")
    [edition] = editions.make_student_editions(
        only="00", out=root / "workspace", course=root / "course"
    )
    student_edition, subs = Path(edition.path), root / "submissions"
    (subs / "reference").mkdir(parents=True)
    shutil.copy2(LAB, subs / "reference" / LAB.name)
    _submit(student_edition, subs / "untouched" / LAB.name)
    _submit(
        student_edition,
        subs / "partial" / LAB.name,  # strings compared as strings; the kit's diff called
        ex00_cuda=CUDA.format("return container_cuda <= driver_max_cuda"),
        ex00_diff=DIFF.format("return [path for path, _, _ in lab00.diff(e1, e2)]"),
    )
    _submit(
        student_edition,
        subs / "killed" / LAB.name,  # a right answer that wrecks its folder, then os._exit
        ex00_cuda=WRECK + CUDA.format(RIGHT_CUDA),
        ex00_diff=DIFF.format("import os\n    os._exit(0)"),
    )
    _submit(
        student_edition,
        subs / "looping" / LAB.name,  # an endless loop, then a checker replaced
        ex00_cuda=CUDA.format("while True:\n        pass"),
        ex00_diff=PATCH,
    )
    _submit(  # the reference with its check cells edited and deleted
        LAB,
        subs / "edited" / LAB.name,
        ex00_cuda_check="raise RuntimeError()",
        ex00_diff_check=None,
    )
    forged = {"ex00_cuda_check": "checked = None\n1.0", "ex00_diff_check": "1.0"}
    _submit(student_edition, subs / "forged" / LAB.name, **forged)
    (subs / "notjson").mkdir()
    (subs / "notjson" / LAB.name).write_text('{"cells": [ not json')
    report = grading.grade_submissions(
        subs, root / "grades", TIMEOUT_S, seed=SEED, parameters={"CONTAINER": False}
    )
    rows = {(r.student, r.exercise): r for r in report.rows}
    return {"report": report, "rows": rows, "root": root}


def _points(graded: dict, student: str) -> list[float]:
    return [graded["rows"][(student, ex)].points for ex in ("ex00_cuda", "ex00_diff")]


def _feedback(graded: dict, student: str, exercise: str) -> str:
    return graded["rows"][(student, exercise)].feedback


@pytest.mark.slow
def test_the_reference_earns_full_marks_and_untouched_none(graded):
    assert _points(graded, "reference") == [1.0, 1.0]
    assert _feedback(graded, "reference", "ex00_diff") == grading.PASSED
    assert _points(graded, "untouched") == [0.0, 0.0]
    assert _feedback(graded, "untouched", "ex00_cuda") == grading.NOT_DONE


@pytest.mark.slow
def test_a_partly_right_answer_earns_part_and_a_delegation_none(graded):
    cuda, diff = _points(graded, "partial")
    assert 0 < cuda < 1 and diff == 0
    said = _feedback(graded, "partial", "ex00_cuda")
    assert "two-digit" in said and "expected False, got True" in said
    assert "kit's own answer" in _feedback(graded, "partial", "ex00_diff")
    assert "«Управление версиями CUDA" in graded["rows"][("partial", "ex00_cuda")].section


@pytest.mark.slow
def test_a_killed_kernel_keeps_only_what_it_earned_before(graded):
    assert _points(graded, "killed") == [1.0, 0.0]  # ex00_cuda also wrecked its folder
    said = _feedback(graded, "killed", "ex00_diff")
    assert "kernel died" in said and grading.DEAD in said


@pytest.mark.slow
def test_a_loop_times_out_and_a_patched_checker_scores_zero(graded):
    assert _points(graded, "looping") == [0.0, 0.0]
    assert "timed out in the self-check" in _feedback(graded, "looping", "ex00_cuda")
    said = _feedback(graded, "looping", "ex00_diff")
    assert "replaced the kit's own code" in said and "check_differing_fields" in said


@pytest.mark.slow
def test_edited_check_cells_do_not_change_the_grade(graded):
    assert _points(graded, "edited") == [1.0, 1.0]
    notes = " ".join(graded["rows"][("edited", "ex00_diff")].details)
    assert "deleted from your notebook" in notes
    assert _points(graded, "forged") == [0.0, 0.0]


@pytest.mark.slow
def test_a_notebook_that_is_not_json_scores_zero_and_grading_goes_on(graded):
    assert _points(graded, "notjson") == [0.0, 0.0]
    assert _feedback(graded, "notjson", "ex00_cuda").startswith("the notebook does not parse")
    assert len(graded["report"].rows) == 8 * 2


@pytest.mark.slow
def test_pages_say_what_failed_never_the_hidden_code(graded):
    report = graded["report"]
    page = Path(report.files["student:partial"]).read_text()
    assert "expected False, got True" in page and "Управление версиями CUDA" in page
    assert "hidden_tests" not in page and "BEGIN HIDDEN" not in page
    with open(report.files["summary_csv"]) as handle:
        summary = {row["exercise"]: row for row in csv.DictReader(handle)}
    assert set(summary) == {"ex00_cuda", "ex00_diff"}
    assert summary["ex00_diff"]["students"] == "8" and summary["ex00_diff"]["full"] == "2"


# --- quick: scoring, the kit's copy, the tables -------------------------------------------------


def test_the_kits_check_cells_replace_the_students():
    kit = nbformat.read(LAB, as_version=4)
    submitted = copy.deepcopy(kit)
    cells = _cells(submitted)
    cells["ex00_cuda_check"].source = "print('all passed')"
    submitted.cells.remove(cells["ex00_diff_check"])
    fake = new_code_cell("1.0", metadata={"nbgrader": {"grade_id": "ex99_x_check", "grade": True}})
    submitted.cells.append(fake)
    nb, notes = graded_copy(kit, submitted, {"CONTAINER": False})
    graded_cells = _cells(nb)
    for grade_id in ("ex00_cuda_check", "ex00_diff_check"):
        assert graded_cells[grade_id].source == _cells(kit)[grade_id].source
    assert "ex99_x_check" not in graded_cells and set(notes) == {
        "ex00_cuda_check",
        "ex00_diff_check",
    }
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert [c.source for c in injected] == ["CONTAINER = False"]
    _, russian = graded_copy(kit, submitted, {"CONTAINER": False}, lang="ru")
    assert set(russian) == set(notes) and all(CYRILLIC.search(n) for n in russian.values())
    assert "удалена из вашего ноутбука" in russian["ex00_diff_check"]


def _run(check: CellRun, answer: CellRun | None = None, **kwargs) -> LabRun:
    cells = {"ex01_a_check": check, **({"ex01_a": answer} if answer else {})}
    return LabRun(new_notebook(), cells, **kwargs)


EX = Exercise("ex01_a_check", 2.0)
OUT = {
    "share": 0.0,
    "reason": "patched",
    "section": "«S»",
    "groups": [{"name": "g", "passed": False}],
}


@pytest.mark.parametrize(
    ("run", "outside", "points", "said"),
    [
        (_run(CellRun(1, True), CellRun(0, True)), None, 2.0, grading.PASSED),
        (_run(CellRun(1, True, value=1.0), CellRun(0, True)), OUT, 0.0, "patched"),
        (
            _run(CellRun(1, True, value=0.6), CellRun(0, True)),
            {**OUT, "share": 0.6, "reason": "g: on x"},
            1.2,
            "g: on x",
        ),
        (
            _run(CellRun(1, True), CellRun(0, True), stopped="the kernel died", stopped_at=1),
            {**OUT, "share": 1.0},
            0.0,
            grading.DEAD,
        ),
        (
            _run(CellRun(1, True, [("CellTimeoutError", "8 s")]), CellRun(0, True)),
            None,
            0.0,
            "timed out in the self-check: 8 s",
        ),
        (
            _run(
                CellRun(1, True, [("NameError", "x")]), CellRun(0, True, [("SyntaxError", "bad")])
            ),
            None,
            0.0,
            "SyntaxError in the answer cell: bad",
        ),
        (_run(CellRun(1, True)), None, 0.0, grading.MISSING),
    ],
    ids=["passed", "patched", "partial", "dead", "timeout", "broken", "deleted"],
)
def test_an_exercise_scores_the_smaller_share_and_nothing_from_a_dead_kernel(
    run, outside, points, said
):
    row = grading.score("alice", LAB, EX, run, outside)
    assert row.points == points and said in row.feedback
    russian = grading.score("alice", LAB, EX, run, outside, lang="ru")
    assert russian.points == points and russian.lang == "ru"
    if outside is None or outside["reason"] not in russian.feedback:  # the grader's own words
        assert CYRILLIC.search(russian.feedback) and said not in russian.feedback, russian


def test_parse_problem_and_missing_submissions(tmp_path: Path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{")
    assert grading.parse_problem(bad).startswith("the notebook does not parse")
    assert grading.parse_problem(LAB) is None
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    with pytest.raises(MllabError, match="no lab notebooks"):
        grading.find_submissions(tmp_path / "subs", {LAB.name})
    with pytest.raises(MllabError, match="not a folder"):
        grading.find_submissions(tmp_path / "nothing", {LAB.name})


def test_tables_escape_total_and_summarise(tmp_path: Path):
    rows = [
        grading.GradeRow(
            "ann<", "01", "ex01_x", 1.0, 2.0, "g: on a case: <script>", "«S»", ["✗ g"]
        ),
        grading.GradeRow("ann<", "01", "ex01_y", 2.0, 2.0, grading.PASSED),
        grading.GradeRow("bob", "01", "ex01_x", 0.0, 2.0, "g: on another case: 3"),
        grading.GradeRow("bob", "01", "ex01_y", 0.0, 2.0, grading.NOT_DONE),
    ]
    rows.append(grading.GradeRow("ivan", "01", "ex01_x", 2.0, 2.0, "зачтено", lang="ru"))
    rows += grading.zero_rows("ivan", LAB, grade_words.say("not submitted", "ru"), "ru")
    files = write_tables(rows, tmp_path)
    html = Path(files["html"]).read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Total: 3 / 4 points" in Path(files["student:ann<"]).read_text()
    russian = Path(files["student:ivan"]).read_text()
    assert "Отзыв для ivan" in russian and "Итого баллов: 2 из 4." in russian
    assert "<th>раздел лекции</th>" in russian and "не сдано" in russian
    assert "Total" not in russian and "Feedback for" not in russian
    assert "<th>feedback</th>" in html  # the instructor's table keeps its English names
    with open(files["summary_csv"]) as handle:
        summary = {row["exercise"]: row for row in csv.DictReader(handle)}
    assert summary["ex01_x"]["common_reasons"] == "g (2)"
    assert (summary["ex01_x"]["partial"], summary["ex01_x"]["zero"]) == ("1", "1")
    assert "summary.html" in html and Path(files["summary_html"]).exists()


def test_histogram_and_alike_reasons():
    assert histogram([0.0, 2.0, 2.0], 2.0) == "0:█ 1:· 2:██"
    assert reason_kind("g: on a sweep at 12 ms: expected 3") == reason_kind("g: on 7: x") == "g"
    assert reason_kind("timed out in the self-check: 8 s") == "timed out in the self-check: N s"
    assert reason_kind("the kernel died in ex00_diff_check") == "the kernel died in ex00_diff_check"


# --- the grader's words in Russian ---------------------------------------------------------------


def _holes(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_grader_word_has_a_russian_version():
    """A word of the grader a student reads, with no Russian version, fails here."""
    assert set(grade_words.RU) == set(grade_words.EN), "keys without a Russian version"
    for key, english in grade_words.EN.items():
        russian = grade_words.RU[key]
        assert _holes(russian) == _holes(english), f"holes differ: {english!r} -> {russian!r}"
        words = re.sub(r"\{[^{}]*\}", "", russian)
        assert CYRILLIC.search(words) or not re.search(r"[A-Za-z]", words), russian


def _keys(tree: ast.AST) -> set[int]:
    """The strings given to ``say`` as its key (looked up in grade_words, not shown as such)."""
    return {
        id(node.args[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "say" and node.args
    }


def worded(path: Path) -> set[str]:
    """Every string of a module with two words or more (docstrings and the keys given to
    ``grade_words.say`` left out; an f-string's holes written ``{}``)."""
    return templates(path, r"[A-Za-z]{2,}[^\w{}]*\s[^\w{}]*[A-Za-z]{2,}", _keys)


#: the grader's strings no student reads: the instructor's errors and pages, the marks of the
#: hidden tests, and the self-check's section line it parses
NOT_STUDENT_WORDS = {
    "{} is not a folder of student folders",
    "no lab notebooks ({}) in {}",
    "(?:Reread the lecture|Lecture|Перечитайте в лекции|Лекция): (.+)",
    "BEGIN HIDDEN TESTS",
    "END HIDDEN TESTS",
    "Class summary",
    "Feedback pages",
}


@pytest.mark.parametrize("module", ["grading.py", "grade_run.py", "grade_pages.py"])
def test_the_grader_words_a_grade_only_through_its_table(module: str):
    """A student-visible sentence written in place (not through grade_words) fails here."""
    missing = sorted(worded(REPORT / module) - NOT_STUDENT_WORDS)
    assert not missing, f"{module}: words with no Russian version (use grade_words): {missing}"


def test_the_scan_finds_a_sentence_written_in_place(tmp_path: Path):
    module = tmp_path / "m.py"
    module.write_text('def f(x):\n    """Doc string."""\n    return f"{x} ran out of time"\n')
    assert worded(module) == {"{} ran out of time"}


def test_a_students_language_comes_from_their_editions(tmp_path: Path):
    nb = nbformat.read(LAB, as_version=4)
    nb.metadata["mllab"] = {"lang": "ru"}
    nbformat.write(nb, tmp_path / "ru.ipynb")
    (tmp_path / "bad.ipynb").write_text("{")
    handed = {"a": tmp_path / "bad.ipynb", "b": LAB}
    assert grading.student_language(handed) == "en"
    assert grading.student_language({**handed, "c": tmp_path / "ru.ipynb"}) == "ru"
    said = grading.read_submission(tmp_path / "bad.ipynb", "ru")
    assert isinstance(said, str) and said.startswith("ноутбук не читается")
