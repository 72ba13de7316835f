"""``mllab labs run [--only 00,04] [-p KEY=VALUE ...] [--out DIR]``, ``mllab labs list``,
``mllab labs student [--out DIR] [--lang ru]`` (student editions) and
``mllab labs grade SUBMISSIONS_DIR``."""

from __future__ import annotations

import argparse
from pathlib import Path

from mllab.core.errors import LabFailed
from mllab.report.edition_language import DEFAULT, LANGUAGES
from mllab.report.editions import GRADE_CELL_TIMEOUT_S, WORKSPACE, make_student_editions
from mllab.report.grading import grade_submissions
from mllab.report.runner import discover, parse_parameters, run_labs


def _run(args: argparse.Namespace) -> int:
    summary = run_labs(args.only, parse_parameters(args.parameter or []), args.out)
    print(f"{summary.passed} passed, {len(summary.failed)} failed")
    print(f"report: {Path(summary.out) / 'report.html'}")
    if summary.failed:
        raise LabFailed(", ".join(f"{r.notebook} ({r.error})" for r in summary.failed))
    return 0


def _list(args: argparse.Namespace) -> int:
    for notebook in discover():
        print(notebook.name)
    return 0


def _student(args: argparse.Namespace) -> int:
    editions = make_student_editions(args.only, args.out, force=args.force, lang=args.lang)
    for edition in editions:
        print(f"{edition.notebook}: {edition.status} (exercises: {edition.exercises})")
    print(f"student editions ({args.lang}) in {Path(editions[0].path).parent}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    report = grade_submissions(args.submissions, args.out, cell_timeout_s=args.timeout)
    for student, (got, most) in sorted(report.totals().items()):
        print(f"{student}: {got:g} / {most:g} points")
    print(f"grades: {report.files['csv']} and {report.files['html']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``labs run``, ``labs list``, ``labs student`` and ``labs grade``."""
    labs = sub.add_parser(
        "labs", help="run the labs (papermill), make student editions, grade them (nbgrader)"
    )
    actions = labs.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run the labs in order into a run folder")
    run.add_argument("--only", help="comma-separated lab numbers, e.g. 00,04")
    run.add_argument(
        "-p",
        "--parameter",
        action="append",
        metavar="KEY=VALUE",
        help="a parameter for every lab (JSON values: -p BATCHES=[1,8])",
    )
    run.add_argument("--out", help="run folder (default runs/<timestamp>)")
    run.set_defaults(func=_run)
    listing = actions.add_parser("list", help="list the labs")
    listing.set_defaults(func=_list)
    student = actions.add_parser(
        "student", help="make the student editions (nbgrader) into a workspace"
    )
    student.add_argument("--only", help="comma-separated lab numbers, e.g. 00,04")
    student.add_argument("--out", help=f"workspace folder (default {WORKSPACE.name}/, git-ignored)")
    student.add_argument(
        "--force", action="store_true", help="replace notebooks already there (loses the work)"
    )
    student.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=DEFAULT,
        help=f"the language of the text, prompts and self-check messages (default {DEFAULT})",
    )
    student.set_defaults(func=_student)
    grade = actions.add_parser("grade", help="grade handed-in labs with nbgrader")
    grade.add_argument("submissions", help="a folder per student holding their lab notebooks")
    grade.add_argument("--out", help="grades folder (default runs/grades-<timestamp>)")
    grade.add_argument(
        "--timeout",
        type=int,
        default=GRADE_CELL_TIMEOUT_S,
        help=f"seconds a cell may run before it scores 0 (default {GRADE_CELL_TIMEOUT_S})",
    )
    grade.set_defaults(func=_grade)
