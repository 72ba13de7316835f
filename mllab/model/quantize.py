"""INT8 static quantization with ONNX Runtime's tools: a smaller, faster θ, at a measured drift.

Static quantization fixes the scale of every activation ahead of time from calibration data
(here the photos in ``data/``, preprocessed by :mod:`mllab.model.preprocess`, the same function the
server uses). The format is QDQ (QuantizeLinear/DequantizeLinear pairs around float ops, which
ORT fuses into integer kernels) with per-channel weight scales, U8 activations and S8 weights,
the combination ORT recommends for x86 CPUs. The result is a new artefact: its drift against
fp32 is measured with :mod:`mllab.measure.drift`, never assumed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from mllab.core.errors import InputError
from mllab.model.integrity import verify_model, write_digest


def calibration_batches(images: list[str | Path] | None = None) -> list[np.ndarray]:
    """One ``(1, 3, 224, 224)`` batch per calibration image (default: ``data/`` photos)."""
    from mllab.model.preprocess import preprocess, sample_images

    paths = list(images) if images is not None else sample_images()
    if not paths:
        raise InputError("quantization needs at least one calibration image")
    return [preprocess(p)[None] for p in paths]


def _reader(batches: list[np.ndarray], input_name: str):
    """An ``onnxruntime.quantization.CalibrationDataReader`` over ``batches``."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.items, None)
            return None if batch is None else {input_name: batch}

        def rewind(self) -> None:
            self.items = iter(batches)

    return Reader()


def quantize_int8(
    model: str | Path,
    out: str | Path,
    images: list[str | Path] | None = None,
    verify: bool = True,
) -> Path:
    """Quantize an fp32 ONNX model to INT8 (static, QDQ, per-channel) into ``out`` (+ sha256).

    ``images`` are the calibration photos (default: ``data/``). ``verify`` refuses an input
    model whose sha256 does not match its digest file. The output is one file with the input's
    metadata plus the quantization settings, checked at batch 1, 3 and 8.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from mllab.model.export import INPUT, check_dynamic_batch, metadata

    model, out = Path(model), Path(out)
    if verify:
        verify_model(model)
    batches = calibration_batches(images)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".quantize-") as tmp:
        prepared = Path(tmp, "prepared.onnx")
        # Shape inference + ORT's basic graph optimisations: quantization then sees fused
        # Conv (no BatchNormalization) and knows every tensor's shape.
        quant_pre_process(str(model), str(prepared), skip_symbolic_shape=True)
        quantized = Path(tmp, "quantized.onnx")
        quantize_static(
            str(prepared),
            str(quantized),
            _reader(batches, INPUT),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        proto = onnx.load(str(quantized))
        props = {
            **metadata(model),
            "quantization": "int8 static QDQ, per-channel S8 weights, U8 activations, MinMax",
            "calibration_images": str(len(batches)),
            "fp32_sha256": verify_model(model) if verify else "",
        }
        onnx.helper.set_model_props(proto, props)
        staged = Path(tmp, "final.onnx")
        onnx.save(proto, str(staged), save_as_external_data=False)
        onnx.checker.check_model(str(staged))
        check_dynamic_batch(staged)
        os.replace(staged, out)
    write_digest(out)
    return out


def default_int8_model(
    exporter: str = "dynamo", weights: str | Path | None = None, seed: int = 0
) -> Path:
    """The cached INT8 model of :func:`mllab.model.export.default_model`, rebuilt only when missing,
    when its sha256 does not verify, or when the fp32 model it came from changed."""
    from mllab.model.export import derived_model

    return derived_model("int8", quantize_int8, exporter, weights=weights, seed=seed)


def file_size_mb(path: str | Path) -> float:
    """Size of a file in MB (10^6 bytes)."""
    return Path(path).stat().st_size / 1e6


def add_cli(sub: argparse._SubParsersAction) -> None:
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
    parser.set_defaults(func=_cli_quantize)


def _cli_quantize(args: argparse.Namespace) -> int:
    from mllab.measure.drift import compare
    from mllab.model.export import load_session, reference_inputs, run
    from mllab.model.integrity import sha256_file

    if not args.model.is_file():
        raise InputError(f"no such model file: {args.model}")
    path = quantize_int8(args.model, args.out, verify=not args.no_verify)
    print(path)
    print(f"sha256 {sha256_file(path)}")
    ratio = file_size_mb(args.model) / file_size_mb(path)
    print(f"size {file_size_mb(args.model):.1f} MB -> {file_size_mb(path):.1f} MB ({ratio:.2f}x)")
    x = reference_inputs()["samples"]
    fp32 = run(load_session(args.model, verify=False), x)
    drift = compare(run(load_session(path), x), fp32)
    agreement = drift.top1_agreement
    print(f"drift vs fp32 on data/: delta {drift.l2:.3g}, top-1 agreement {agreement:.2f}")
    return 0
