"""``mllab labs run [--only 00,03] [-p KEY=VALUE ...] [--out DIR]`` and ``mllab labs list``."""

from __future__ import annotations

import argparse
from pathlib import Path

from mllab.core.errors import LabFailed
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``labs run`` and ``labs list``."""
    labs = sub.add_parser("labs", help="run the lab notebooks with papermill")
    actions = labs.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run the labs in order into a run folder")
    run.add_argument("--only", help="comma-separated lab numbers, e.g. 00,03")
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
