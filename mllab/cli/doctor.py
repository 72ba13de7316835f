"""``mllab doctor``: fingerprint the environment E (lab 00), save it, compare two."""

from __future__ import annotations

import argparse
import json

from mllab.experiments.environment import fingerprint as env


def register(sub: argparse._SubParsersAction) -> None:
    """``mllab doctor [--json] [--save PATH] [--diff A B]``."""
    doctor = sub.add_parser("doctor", help="fingerprint the environment E (lab 00)")
    doctor.add_argument("--json", action="store_true", help="print the whole fingerprint as JSON")
    doctor.add_argument("--save", metavar="PATH", help="also save the fingerprint as JSON")
    doctor.add_argument(
        "--diff", nargs=2, metavar=("A", "B"), help="compare two saved fingerprints"
    )
    doctor.set_defaults(func=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    """Print the fingerprint summary (or JSON), save it, or diff two saved ones."""
    if args.diff:
        rows = env.diff(env.load(args.diff[0]), env.load(args.diff[1]))
        print(env.format_diff(rows, (args.diff[0], args.diff[1])))
        return 0
    print_ = env.fingerprint()
    if args.save:
        env.save(print_, args.save)
    if args.json:
        print(json.dumps(print_, indent=2, sort_keys=True))
    else:
        print("\n".join(env.summary_lines(print_)))
    return 0
