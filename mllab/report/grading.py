"""Grading handed-in labs with nbgrader (``mllab labs grade SUBMISSIONS_DIR``).

``SUBMISSIONS_DIR`` holds one folder per student with the lab notebooks that student handed in
(``alice/01_export_onnx.ipynb``; any depth below the student's folder). A fresh nbgrader course
folder is built from ``labs/`` (``editions.build_course``), each submission is copied into
``submitted/<student>/labNN/``, executed by nbgrader's ``autograde`` (the hidden asserts of the
self-checks put back, a time limit per cell) and given feedback pages by ``generate_feedback``.
The grade table is read from nbgrader's gradebook; the reason an exercise scored 0 is the error
its answer or self-check cell showed in the autograded notebook (the self-check's hint is the
assert message). A notebook that does not parse, or that nbgrader cannot grade, scores 0 on every
exercise with the reason, and grading goes on with the next submission.
"""

from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from mllab.core.errors import MllabError
from mllab.core.paths import LABS, RUNS
from mllab.report.editions import (
    GRADE_CELL_TIMEOUT_S,
    assignment_id,
    build_course,
    exercises,
    log_tail,
    venv_on_path,
)
from mllab.report.grade_pages import write_tables
from mllab.report.runner import discover, lab_id

PASSED = "pass"
NOT_SUBMITTED = "not submitted"
MISSING = "the self-check cell was deleted from the submission"


@dataclass
class GradeRow:
    """One exercise of one student's lab: the points it earned and why."""

    student: str
    lab: str
    exercise: str
    points: float
    max_points: float
    feedback: str


@dataclass
class GradeReport:
    """What ``grade_submissions`` wrote: the rows, the tables and the per-student pages."""

    out: str
    course: str
    rows: list[GradeRow] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # "csv", "html", "student:<id>"

    def totals(self) -> dict[str, tuple[float, float]]:
        """Per student: (points, max points) over every lab handed in or due."""
        sums: dict[str, tuple[float, float]] = {}
        for row in self.rows:
            got, most = sums.get(row.student, (0.0, 0.0))
            sums[row.student] = (got + row.points, most + row.max_points)
        return sums


def find_submissions(submissions_dir: Path, lab_names: set[str]) -> dict[str, dict[str, Path]]:
    """``{student: {lab notebook name: path}}``: every student folder, the lab notebooks in it
    (named as in ``labs/``; JupyterLab's checkpoints are not submissions)."""
    if not submissions_dir.is_dir():
        raise MllabError(f"{submissions_dir} is not a folder of student folders")
    found: dict[str, dict[str, Path]] = {}
    for student in sorted(p for p in submissions_dir.iterdir() if p.is_dir()):
        notebooks = sorted(
            p
            for p in student.rglob("*.ipynb")
            if p.name in lab_names and ".ipynb_checkpoints" not in p.parts
        )
        found[student.name] = {p.name: p for p in notebooks}
    if not any(found.values()):
        raise MllabError(f"no lab notebooks ({', '.join(sorted(lab_names))}) in {submissions_dir}")
    return found


def parse_problem(path: Path) -> str | None:
    """Why a handed-in notebook cannot be graded as a notebook, or None when it parses."""
    try:
        nbformat.validate(nbformat.read(path, as_version=4))
    except Exception as error:  # noqa: BLE001 - any unreadable file: JSON, schema, encoding
        return f"the notebook does not parse: {type(error).__name__}: {str(error)[:200]}"
    return None


def _errors(cell: Any) -> list[tuple[str, str]]:
    return [(o.ename, o.evalue) for o in cell.get("outputs", []) if o.output_type == "error"]


def _reason(errors: list[tuple[str, str]], where: str) -> str:
    names = {name for name, _ in errors}
    if "CellTimeoutError" in names:
        value = next(v for n, v in errors if n == "CellTimeoutError")
        return f"timed out in the {where}: {value}"
    name, value = errors[0]
    if name == "AssertionError":  # the hidden assert carries the self-check's message
        return value or "the self-check did not pass"
    if name == "NotImplementedError":
        return "not done"
    return f"{name} in the {where}: {value}"[:500]


def feedback_by_cell(autograded: Path, expected: list[str] | None = None) -> dict[str, str]:
    """Per grade id of a self-check: why it did not pass (from the autograded notebook's errors:
    the answer cell's first, since a broken answer makes its check fail too); a self-check of
    ``expected`` that is not in the notebook was deleted by the student."""
    nb = nbformat.read(autograded, as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    reasons = {g: MISSING for g in expected or [] if g not in cells}
    for grade_id, cell in cells.items():
        if not grade_id or not cell.metadata["nbgrader"].get("grade"):
            continue
        answer = cells.get(grade_id.removesuffix("_check"))
        answer_errors = _errors(answer) if answer is not None else []
        if answer_errors:
            reasons[grade_id] = _reason(answer_errors, "answer cell")
        elif _errors(cell):
            reasons[grade_id] = _reason(_errors(cell), "self-check")
    return reasons


def _scores(api: Any, notebook: Path, student: str) -> dict[str, tuple[float, float]]:
    """``{grade_id: (score, max_score)}`` from nbgrader's gradebook."""
    gradebook = api.gradebook
    try:
        submission = gradebook.find_submission_notebook(
            notebook.stem, assignment_id(notebook), student
        )
        return {g.name: (float(g.score), float(g.max_score)) for g in submission.grades}
    finally:
        gradebook.close()


def zero_rows(student: str, notebook: Path, reason: str) -> list[GradeRow]:
    """Every exercise of a lab at 0 points, with one reason (not handed in, does not parse)."""
    return [
        GradeRow(student, lab_id(notebook), ex.name, 0.0, ex.points, reason)
        for ex in exercises(notebook)
    ]


def grade_one(
    api: Any, course: Path, student: str, notebook: Path, handed_in: Path
) -> list[GradeRow]:
    """Autograde one student's lab and give it feedback; never raises for a bad submission."""
    problem = parse_problem(handed_in)
    if problem:
        return zero_rows(student, notebook, problem)
    target = course / "submitted" / student / assignment_id(notebook) / notebook.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(handed_in, target)
    with venv_on_path(), warnings.catch_warnings():
        # nbgrader's own SQLAlchemy session use warns on every submission; it is not ours to fix
        warnings.filterwarnings("ignore", message=".*not in session.*")
        result = api.autograde(assignment_id(notebook), student)
        if result["success"]:
            result = api.generate_feedback(assignment_id(notebook), student)
    if not result["success"]:
        return zero_rows(student, notebook, "nbgrader could not grade it: " + log_tail(result, 2))
    autograded = course / "autograded" / student / assignment_id(notebook) / notebook.name
    graded = exercises(notebook)
    reasons = feedback_by_cell(autograded, [ex.grade_id for ex in graded])
    scores = _scores(api, notebook, student)
    rows = []
    for ex in graded:
        score, most = scores.get(ex.grade_id, (0.0, ex.points))
        reason = (
            PASSED if score >= most else reasons.get(ex.grade_id, "the self-check did not pass")
        )
        rows.append(GradeRow(student, lab_id(notebook), ex.name, score, most, reason))
    return rows


def feedback_page(course: Path, student: str, notebook: Path) -> Path:
    """nbgrader's feedback page (HTML) of one student's lab."""
    return course / "feedback" / student / assignment_id(notebook) / f"{notebook.stem}.html"


def grade_submissions(
    submissions_dir: str | Path,
    out: str | Path | None = None,
    cell_timeout_s: int = GRADE_CELL_TIMEOUT_S,
    labs_dir: Path = LABS,
) -> GradeReport:
    """Grade every student's handed-in labs into ``out`` (default ``runs/grades-<stamp>``):
    ``grades.csv``, ``grades.html``, ``students/<student>.html`` and nbgrader's course folder."""
    labs = {nb.name: nb for nb in discover(labs_dir)}
    submissions = find_submissions(Path(submissions_dir), set(labs))
    due = sorted({name for handed in submissions.values() for name in handed})
    out_dir = Path(out) if out else RUNS / time.strftime("grades-%Y%m%d-%H%M%S")
    course = out_dir / "course"
    api = build_course([labs[name] for name in due], course, cell_timeout_s)
    report = GradeReport(out=str(out_dir), course=str(course))
    pages: dict[str, dict[str, Path]] = {}
    for student, handed in submissions.items():
        pages[student] = {}
        for name in due:
            notebook = labs[name]
            if name not in handed:
                report.rows += zero_rows(student, notebook, NOT_SUBMITTED)
                continue
            report.rows += grade_one(api, course, student, notebook, handed[name])
            page = feedback_page(course, student, notebook)
            if page.exists():
                pages[student][lab_id(notebook)] = page
    report.files = write_tables(report.rows, pages, out_dir)
    return report
