"""The ``mllab`` command: a thin layer over the package's functions.

Each module that offers commands has ``add_cli(subparsers)``; it registers its subcommands and
sets ``func`` to a handler taking the parsed arguments and returning an exit code. Heavy imports
(torch, onnxruntime) stay inside the handlers so that ``mllab --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mllab.errors import MllabError

#: modules with an ``add_cli``; the order is the order of ``mllab --help``
COMMAND_MODULES = (
    "mllab.env",
    "mllab.engine",
    "mllab.images",
    "mllab.labs",
    "mllab.export",
    "mllab.quantize",
    "mllab.serving",
    "mllab.bench",
    "mllab.repro",
    "mllab.claims",
    "mllab.resources",
)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="mllab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: typed errors become one clear line, exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MllabError as error:
        print(f"mllab {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
