"""``mllab repro matrix [--repeats N] [--image TAG]`` and ``mllab repro versions X``: the drift
matrix and framework-version drift (lab 06)."""

from __future__ import annotations

import argparse

from mllab.core.tables import format_table


def _cmd_matrix(args: argparse.Namespace) -> int:
    # deferred: the matrix pulls in onnxruntime and the model stack; `mllab --help` stays instant
    from mllab.experiments.reproducibility.drift_configs import configurations, drift_inputs
    from mllab.experiments.reproducibility.drift_matrix import run_matrix  # (same reason)

    x = drift_inputs(n_random=args.random, n_images=args.images)
    matrix = run_matrix(configurations(image=args.image, threads=args.threads), x, args.repeats)
    columns = ["configuration", "outcome", "distinct outputs", "bitwise repeatable"]
    print(format_table(matrix.repeatability(), columns))
    rows = [r for r in matrix.against("torch-cpu") if r.outcome.ok]
    print(format_table(rows, ["a", "bitwise_equal", "delta_l2", "max_abs", "top1_agreement"]))
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    # deferred: as above
    from mllab.experiments.reproducibility.ort_versions import ort_version_drift

    result = ort_version_drift(args.version, threads=args.threads)
    print(f"onnxruntime {result.old} vs {result.new}")
    print(format_table(result.levels))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``repro matrix`` and ``repro versions``."""
    repro = sub.add_parser("repro", help="drift matrix and framework-version drift")
    actions = repro.add_subparsers(dest="action", required=True)
    matrix = actions.add_parser("matrix", help="every runtime configuration on the same inputs")
    matrix.add_argument("--repeats", type=int, default=10)
    matrix.add_argument("--images", type=int, default=None, help="sample photos (default all)")
    matrix.add_argument("--random", type=int, default=2, help="seeded random inputs")
    matrix.add_argument("--threads", type=int, default=None)
    matrix.add_argument("--image", help="slim image tag for the container rows")
    matrix.set_defaults(func=_cmd_matrix)
    versions = actions.add_parser("versions", help="the same model under another onnxruntime")
    versions.add_argument("version", help="an onnxruntime version with a cp311 CPU wheel")
    versions.add_argument("--threads", type=int, default=None)
    versions.set_defaults(func=_cmd_versions)
