"""``mllab engine ensure [--check]``: a Docker engine that answers."""

from __future__ import annotations

import argparse

from mllab.containers.engine import ensure_engine


def _cmd_ensure(args: argparse.Namespace) -> int:
    print(f"docker engine answers: {ensure_engine(install=not args.check)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """``mllab engine ensure [--check]``."""
    engine = sub.add_parser("engine", help="a Docker engine that answers")
    actions = engine.add_subparsers(dest="action", required=True)
    ensure = actions.add_parser("ensure", help="check the engine; install/start it where allowed")
    ensure.add_argument("--check", action="store_true", help="only check, never install")
    ensure.set_defaults(func=_cmd_ensure)
