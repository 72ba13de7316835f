"""Grading handed-in labs (``mllab labs grade SUBMISSIONS_DIR``).

``SUBMISSIONS_DIR`` holds one folder per student with the lab notebooks that student handed in
(``alice/01_export_onnx.ipynb``; any depth below the student's folder). Each submission is run
by :mod:`mllab.report.grade_run`: the kit's own copy of the self-check cells (hidden tests
included; the student's copies are not used), one kernel, a time limit per cell, a dead or
hung kernel ending the run where it happened. An exercise earns points only from a self-check
that ran to its end in a live kernel; for an exercise with hidden cases
(``lab.hidden_tests(...)`` in its self-check) the answer cell is also run outside the kernel
(``python -m mllab.exercises.hidden``), and the grade is the smaller share of the two: an
answer that patched the kit's checker, or called the kit's own answer, scores 0 there with
the reason. A notebook that does not parse scores 0 on every exercise with the reason; grading
goes on with the next submission whatever one does.

The points, the reason in words (which case failed and what was expected, never the hidden
test's code) and the lecture section to reread go to ``grades.csv``/``grades.html``, a page
per student, and the class summary (``summary.csv``/``summary.html``). A student's reasons
and page are worded in the language of the edition they handed in (its notebook's
``metadata.mllab.lang``): the grader's own words come from :mod:`mllab.report.grade_words`.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from mllab.core.errors import MllabError
from mllab.core.paths import LABS, RUNS
from mllab.report.edition_language import DEFAULT, LANG_ENV, LANGUAGES
from mllab.report.editions import GRADE_CELL_TIMEOUT_S, Exercise, exercises
from mllab.report.grade_pages import write_tables
from mllab.report.grade_run import (
    HIDDEN_CALL,
    LabRun,
    answer_cells,
    environment,
    graded_cells,
    hidden_outside,
    prelude,
    run_submission,
    save,
)
from mllab.report.grade_words import say
from mllab.report.runner import discover, lab_id, recording_into

#: the grader's words in English (each has its Russian version in mllab.report.grade_words)
PASSED = say("pass")
NOT_SUBMITTED = say("not submitted")
NOT_DONE = say("not done")
MISSING = say("missing")
DEAD = say("dead")
#: the self-check's line naming the lecture section, in English or in Russian
#: (mllab.exercises.messages.FRAME)
_SECTION = re.compile(r"(?:Reread the lecture|Lecture|Перечитайте в лекции|Лекция): (.+)")


@dataclass
class GradeRow:
    """One exercise of one student's lab: the points it earned, why (in words), the lecture
    section to reread, per group of hidden cases how it went (``details``), and the language
    of the words (the edition the student worked in: their page is written in it)."""

    student: str
    lab: str
    exercise: str
    points: float
    max_points: float
    feedback: str
    section: str = ""
    details: list[str] = field(default_factory=list)
    lang: str = DEFAULT


@dataclass
class GradeReport:
    """What ``grade_submissions`` wrote: the rows, the files, and the seed of the hidden cases
    (the same seed draws the same cases again)."""

    out: str
    seed: int
    rows: list[GradeRow] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # "csv", "html", "summary_*", "student:"

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


def read_submission(path: Path, lang: str = DEFAULT) -> nbformat.NotebookNode | str:
    """The handed-in notebook, or why it cannot be graded as a notebook (in ``lang``)."""
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # noqa: BLE001 - any unreadable file: JSON, schema, encoding
        return say("does not parse", lang, error=f"{type(error).__name__}: {str(error)[:200]}")
    return nb


def parse_problem(path: Path) -> str | None:
    """Why a handed-in notebook cannot be graded as a notebook, or None when it parses."""
    read = read_submission(path)
    return read if isinstance(read, str) else None


def edition_language(nb: nbformat.NotebookNode) -> str:
    """The language of the student edition a submission was made from (``mllab labs student
    --lang``; English when it says none): the self-checks and the hidden cases' feedback are
    given in it (the grader sets the kernel's and the hidden run's ``MLLAB_LANG``)."""
    meta = nb.get("metadata", {}).get("mllab", {})
    lang = meta.get("lang", DEFAULT) if isinstance(meta, dict) else DEFAULT
    return lang if lang in LANGUAGES else DEFAULT


def student_language(handed: dict[str, Path]) -> str:
    """The language of a student's editions (the first handed-in notebook that says one): the
    words for a lab not handed in, or one that does not parse, are given in it."""
    for path in handed.values():
        read = read_submission(path)
        if not isinstance(read, str) and (lang := edition_language(read)) != DEFAULT:
            return lang
    return DEFAULT


def _reason(errors: list[tuple[str, str]], where: str, lang: str = DEFAULT) -> str:
    """Why a cell failed, from its errors; ``where``: "in the answer cell" or "in the
    self-check", in ``lang``."""
    names = {name for name, _ in errors}
    if "CellTimeoutError" in names:
        value = next(v for n, v in errors if n == "CellTimeoutError")
        return say("timed out", lang, where=where, value=value)
    name, value = errors[0]
    if name == "AssertionError":  # the hidden assert carries the self-check's message
        return value or say("did not pass", lang)
    if name == "NotImplementedError":
        return say("not done", lang)
    return say("raised", lang, name=name, where=where, value=value)[:500]


def _shown(text: str, exercise: str) -> tuple[str, str]:
    """The self-check's own words from what it printed: (what is wrong, the section)."""
    wrong = next((line for line in text.splitlines() if f" {exercise}: " in line), "")
    found = _SECTION.search(text)
    return wrong.split(f" {exercise}: ", 1)[-1].strip(), found[1].strip() if found else ""


def in_kernel(run: LabRun, ex: Exercise, lang: str = DEFAULT) -> tuple[float, str, str, bool]:
    """(share, reason in ``lang``, section, final) of an exercise from its cells as the kernel
    ran them; ``final``: the cells themselves failed (deleted, never ran, a dead kernel, an
    error, the time limit), so nothing outside the kernel can earn it points."""
    check, answer = run.cells.get(ex.grade_id), run.cells.get(ex.name)
    if answer is None:
        return 0.0, say("missing", lang), "", True
    cut = run.stopped_at is not None and check is not None and check.index >= run.stopped_at
    if check is None or not check.ran or cut:
        why = run.stopped or say("did not run", lang)
        return 0.0, say("not to its end", lang, why=why, dead=say("dead", lang)), "", True
    wrong, section = _shown(check.text, ex.name)
    if answer.errors:
        return 0.0, _reason(answer.errors, say("in answer", lang), lang), section, True
    if check.errors:
        return 0.0, _reason(check.errors, say("in check", lang), lang), section, True
    share = 1.0 if check.value is None else max(0.0, min(1.0, check.value))
    reason = "" if share >= 1 else (wrong or say("hidden failed", lang))
    return share, reason, section, False


def score(
    student: str,
    notebook: Path,
    ex: Exercise,
    run: LabRun,
    outside: dict[str, Any] | None,
    lang: str = DEFAULT,
) -> GradeRow:
    """The row of one exercise: the kernel's share, or the outside run's if that is smaller
    (its reason then: a patched checker, a delegation, the hidden case that failed); the
    grader's words in ``lang``."""
    share, reason, section, final = in_kernel(run, ex, lang)
    groups = (outside or {}).get("groups", [])
    details = [f"{'✓' if g['passed'] else '✗'} {g['name']}" for g in groups]
    if outside is not None and not final:
        if float(outside["share"]) <= share:
            share, reason = float(outside["share"]), outside["reason"] or reason
        section = outside.get("section") or section
    if ex.grade_id in run.notes:
        details.append(run.notes[ex.grade_id])
    points = round(share * ex.points, 3)
    feedback = say("pass", lang) if points >= ex.points else reason or say("did not pass", lang)
    lab = lab_id(notebook)
    return GradeRow(student, lab, ex.name, points, ex.points, feedback, section, details, lang)


def zero_rows(student: str, notebook: Path, reason: str, lang: str = DEFAULT) -> list[GradeRow]:
    """Every exercise of a lab at 0 points, with one reason (not handed in, does not parse),
    given in ``lang``."""
    return [
        GradeRow(student, lab_id(notebook), ex.name, 0.0, ex.points, reason, lang=lang)
        for ex in exercises(notebook)
    ]


@dataclass
class Grader:
    """How submissions are graded: the cell time limit, the seed of the hidden cases, the
    lab parameters set for every submission, and where the scratch folders go."""

    out_dir: Path
    cell_timeout_s: int = GRADE_CELL_TIMEOUT_S
    seed: int = 0
    parameters: dict[str, Any] = field(default_factory=dict)

    def grade_one(
        self, student: str, notebook: Path, handed_in: Path, fallback_lang: str = DEFAULT
    ) -> list[GradeRow]:
        """Run and score one student's lab, in the language of its edition (``fallback_lang``
        when it does not parse); never raises for a bad submission."""
        submitted = read_submission(handed_in, fallback_lang)
        if isinstance(submitted, str):
            return zero_rows(student, notebook, submitted, fallback_lang)
        kit = nbformat.read(notebook, as_version=4)
        work = (self.out_dir / "work" / student / f"lab{lab_id(notebook)}").resolve()
        lang = edition_language(submitted)
        limits = {"MLLAB_HIDDEN_SEED": str(self.seed)}
        limits["MLLAB_HIDDEN_LIMIT_S"] = str(max(1, self.cell_timeout_s // 2))
        limits[LANG_ENV] = lang
        with recording_into(work / "results"), environment(limits):
            run = run_submission(
                kit, submitted, work, self.cell_timeout_s, self.parameters, lang=lang
            )
            save(run.notebook, self.out_dir / "graded" / student / notebook.name)
            answers = answer_cells(submitted)
            hidden = {g for g, c in graded_cells(kit).items() if HIDDEN_CALL.search(c.source)}
            imports = prelude(kit)
            rows = []
            for ex in exercises(notebook):
                outside = None  # not run when the kernel's cells already decided: 0
                if ex.grade_id in hidden and ex.name in answers and not in_kernel(run, ex)[3]:
                    source = answers[ex.name].source
                    outside = hidden_outside(
                        ex.name, source, imports, self.seed, self.cell_timeout_s, work, lang
                    )
                rows.append(score(student, notebook, ex, run, outside, lang))
        return rows


def grade_submissions(
    submissions_dir: str | Path,
    out: str | Path | None = None,
    cell_timeout_s: int = GRADE_CELL_TIMEOUT_S,
    labs_dir: Path = LABS,
    seed: int | None = None,
    parameters: dict[str, Any] | None = None,
) -> GradeReport:
    """Grade every student's handed-in labs into ``out`` (default ``runs/grades-<stamp>``):
    ``grades.csv``, ``grades.html``, ``students/<student>.html``, ``summary.csv``,
    ``summary.html``; the executed notebooks (with the hidden tests: the instructor's) under
    ``graded/``. ``seed`` draws the hidden cases (a fresh one when None, kept in the report)."""
    labs = {nb.name: nb for nb in discover(labs_dir)}
    submissions = find_submissions(Path(submissions_dir), set(labs))
    due = sorted({name for handed in submissions.values() for name in handed})
    out_dir = (Path(out) if out else RUNS / time.strftime("grades-%Y%m%d-%H%M%S")).resolve()
    grader = Grader(
        out_dir,
        cell_timeout_s,
        secrets.randbelow(2**31) if seed is None else seed,
        dict(parameters or {}),
    )
    report = GradeReport(out=str(out_dir), seed=grader.seed)
    for student, handed in submissions.items():
        lang = student_language(handed)
        for name in due:
            if name not in handed:
                report.rows += zero_rows(student, labs[name], say("not submitted", lang), lang)
                continue
            report.rows += grader.grade_one(student, labs[name], handed[name], lang)
    report.files = write_tables(report.rows, out_dir)
    return report
