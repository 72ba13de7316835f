"""``mllab claims [--results DIR] [--only C7]``: the lecture's claims judged by one run."""

from __future__ import annotations

import argparse

from mllab.core.records import load_all
from mllab.report.claims import format_claims, format_verdicts, judge, load_claims, results_folder


def _claims(args: argparse.Namespace) -> int:
    if args.only:
        print(judge(args.only, load_all(run=results_folder(args.results))))
        return 0
    rows = load_claims(args.results)
    print(format_claims(rows))
    print()
    print(format_verdicts(rows))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``claims``."""
    parser = sub.add_parser("claims", help="the lecture's claims judged by recorded results")
    parser.add_argument(
        "--results",
        help="a run's results folder (runs/<stamp>/results, or the run folder); "
        "default: MLLAB_RESULTS, else an error naming the newest run",
    )
    parser.add_argument("--only", metavar="CLAIM", help="one claim, e.g. C7")
    parser.set_defaults(func=_claims)
