"""The ``mllab`` command: argparse lives here and only here, one module per command group.

Each module in :data:`GROUPS` has ``register(subparsers)``: it adds its subcommands and sets
``func`` to a handler that takes the parsed arguments and returns an exit code. Handlers are
thin: they call the package's functions and print. Heavy imports (torch, onnxruntime, docker)
happen when a handler runs, not here, so that ``mllab --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mllab.core.errors import MllabError

#: command-group modules (``mllab.cli.<name>``), in the order of ``mllab --help``
GROUPS = (
    "doctor",
    "engine",
    "images",
    "labs",
    "export",
    "quantize",
    "serve",
    "bench",
    "repro",
    "claims",
    "resources",
    "registry",
    "pipeline",
    "deploy",
)


def build_parser(groups: tuple[str, ...] = GROUPS) -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="mllab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in groups:
        importlib.import_module(f"mllab.cli.{name}").register(sub)
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
