"""``mllab export``: ResNet-50 to one checked ONNX file, its sha256, and a parity table."""

from __future__ import annotations

import argparse
from pathlib import Path

from mllab.core.hashing import sha256_file
from mllab.core.paths import artifact
from mllab.core.tables import format_table
from mllab.model.artifact_paths import EXPORTERS
from mllab.model.export import export_onnx
from mllab.model.metadata import metadata
from mllab.model.parity import parity_report

#: columns of the parity table the command prints
PARITY_COLUMNS = ["inputs", "max_abs", "l2", "top1_agreement", "within_delta"]


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``mllab export``."""
    parser = sub.add_parser(
        "export",
        help="export ResNet-50 to one ONNX file with metadata and a sha256 file",
        description="Export torchvision ResNet-50 to ONNX, check it, and print a parity line.",
    )
    parser.add_argument("--out", type=Path, default=None, help="default artifacts/resnet50.onnx")
    parser.add_argument("--exporter", choices=EXPORTERS, default="dynamo")
    parser.add_argument("--opset", type=int, default=None, help="default: the exporter's")
    parser.add_argument(
        "--weights",
        default=None,
        help="random (default), a .pt/.pth state_dict path, or a torchvision name (IMAGENET1K_V2)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export, then print the file, its sha256, its metadata and the parity table."""
    out = args.out or artifact("resnet50.onnx")
    path = export_onnx(out, args.exporter, args.opset, args.weights, args.seed)
    props = metadata(path)
    print(path)
    print(f"sha256 {sha256_file(path)}")
    print(f"exporter {props['exporter']}, opset {props['opset']}, weights {props['weights_id']}")
    parity = parity_report({args.exporter: path}, weights=args.weights, seed=args.seed)
    print(f"parity PyTorch vs ONNX Runtime CPU (within_delta: Δ <= {parity.delta:g}):")
    print(format_table(parity.rows, PARITY_COLUMNS))
    return 0
