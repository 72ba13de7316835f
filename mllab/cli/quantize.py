"""``mllab quantize``: INT8 static quantization of an fp32 model, with its size and drift."""

from __future__ import annotations

import argparse
from pathlib import Path

from mllab.core.errors import InputError
from mllab.core.hashing import sha256_file
from mllab.measure.drift import compare
from mllab.model.checks import load_session, run
from mllab.model.metadata import file_size_mb
from mllab.model.parity import reference_inputs
from mllab.model.quantize import quantize_int8


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``mllab quantize``."""
    parser = sub.add_parser(
        "quantize",
        help="INT8 static quantization (QDQ, per-channel) calibrated on data/",
        description="Quantize an fp32 ONNX model to INT8 and print sizes and drift vs fp32.",
    )
    parser.add_argument("--model", type=Path, required=True, help="fp32 ONNX model (+ .sha256)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the INT8 model")
    parser.add_argument(
        "--no-verify", action="store_true", help="accept a model without a matching .sha256"
    )
    parser.set_defaults(func=run_quantize)


def run_quantize(args: argparse.Namespace) -> int:
    """Quantize, then print the file, its sha256, the size ratio and the drift on data/."""
    if not args.model.is_file():
        raise InputError(f"no such model file: {args.model}")
    path = quantize_int8(args.model, args.out, verify=not args.no_verify)
    print(path)
    print(f"sha256 {sha256_file(path)}")
    before, after = file_size_mb(args.model), file_size_mb(path)
    print(f"size {before:.1f} MB -> {after:.1f} MB ({before / after:.2f}x)")
    x = reference_inputs()["samples"]
    fp32 = run(load_session(args.model, verify=False), x)
    drift = compare(run(load_session(path), x), fp32)
    agreement = drift.top1_agreement
    print(f"drift vs fp32 on data/: delta {drift.l2:.3g}, top-1 agreement {agreement:.2f}")
    return 0
