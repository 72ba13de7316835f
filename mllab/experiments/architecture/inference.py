"""The lecture's ``inference.py`` for lab 03's ENTRYPOINT and CMD: the kit's server, with flags.

The lecture ("CMD и ENTRYPOINT") writes ``ENTRYPOINT ["python", "inference.py"]`` with the
arguments in ``CMD ["--batch", "32"]``, which ``docker run IMAGE --batch 64`` replaces. The
kit's server (``python -m mllab.serve.app``) reads its settings from ENV only, so an argument
given to it would change nothing and show nothing. This script is the lecture's entry point over
that server: ``--port`` and ``--threads`` become the ENV the server reads, so arguments from CMD
or from ``docker run`` really decide where it listens.

:mod:`mllab.experiments.architecture.entrypoints` copies this file into its small images as
``/app/inference.py`` (the slim image holds the ``mllab`` it imports, not this lab's code).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The flags: ``--port`` and ``--threads`` (absent: the image's ENV decides)."""
    parser = argparse.ArgumentParser(
        prog="inference.py", description="Serve the image's model (ENV as the server reads it)."
    )
    parser.add_argument("--port", type=int, help="port to listen on (ENV PORT)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (ENV THREADS)")
    return parser.parse_args(argv)


def environment(args: argparse.Namespace) -> dict[str, str]:
    """The ENV the flags set for the server: ``{"PORT": "9090"}`` for ``--port 9090``."""
    settings = {"PORT": args.port, "THREADS": args.threads}
    return {name: str(value) for name, value in settings.items() if value is not None}


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT with the flags laid over the ENV; the server's exit code."""
    os.environ.update(environment(parse(argv)))
    # deferred: the server imports fastapi and uvicorn, not needed to parse the flags
    from mllab.serve.app import main as serve

    return serve()


if __name__ == "__main__":
    sys.exit(main())
