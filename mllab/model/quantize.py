"""INT8 static quantization with ONNX Runtime's tools: a smaller, faster θ, at a measured drift.

Static quantization fixes the scale of every activation ahead of time from calibration data
(here the photos in ``data/``, preprocessed by :mod:`mllab.model.preprocess`, the same function the
server uses). The format is QDQ (QuantizeLinear/DequantizeLinear pairs around float ops, which
ORT fuses into integer kernels) with per-channel weight scales, U8 activations and S8 weights,
the combination ORT recommends for x86 CPUs. The result is a new artefact: its drift against
fp32 is measured with :mod:`mllab.measure.drift`, never assumed.
"""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import onnx

from mllab.core.errors import InputError
from mllab.measure.stats import Stats, interleaved
from mllab.model.artifacts import derived_model
from mllab.model.checks import INPUT, check_dynamic_batch, run
from mllab.model.integrity import verify_model, write_digest
from mllab.model.metadata import file_size_mb, metadata
from mllab.model.preprocess import preprocess, sample_images
from mllab.runtime.sessions import create_session

if TYPE_CHECKING:  # annotations only
    from onnxruntime.quantization import CalibrationDataReader

# onnxruntime.quantization is imported inside the functions that quantize: it pulls in a
# large part of onnxruntime's Python tooling, which nothing else here needs.


def calibration_batches(images: list[str | Path] | None = None) -> list[np.ndarray]:
    """One ``(1, 3, 224, 224)`` batch per calibration image (default: ``data/`` photos)."""
    paths = list(images) if images is not None else sample_images()
    if not paths:
        raise InputError("quantization needs at least one calibration image")
    return [preprocess(p)[None] for p in paths]


def _reader(batches: list[np.ndarray], input_name: str) -> CalibrationDataReader:
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
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

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
    """The cached INT8 model of :func:`mllab.model.artifacts.default_model`, rebuilt only when
    missing, when its sha256 does not verify, or when the fp32 model it came from changed."""
    return derived_model("int8", quantize_int8, exporter, weights=weights, seed=seed)


@dataclass
class Int8Gain:
    """What INT8 buys over fp32: file size, and latency measured in the same run (interleaved)."""

    fp32_mb: float
    int8_mb: float
    size_ratio: float  # fp32 / int8
    batch: int
    fp32: Stats
    int8: Stats
    speedup: float  # fp32 median / int8 median

    SCHEMA_VERSION: ClassVar[int] = 1


def int8_gain(fp32: str | Path, int8: str | Path, x: np.ndarray, repeats: int = 10) -> Int8Gain:
    """Sizes of both files and their ONNX Runtime CPU latency on ``x``, timed round-robin
    (fp32, int8, fp32, ...) so that both see the same load on a shared CPU."""
    sessions = {"fp32": create_session(fp32), "int8": create_session(int8)}
    timings = interleaved({k: functools.partial(run, s, x) for k, s in sessions.items()}, repeats)
    sizes = file_size_mb(fp32), file_size_mb(int8)
    return Int8Gain(
        fp32_mb=sizes[0],
        int8_mb=sizes[1],
        size_ratio=sizes[0] / sizes[1],
        batch=len(x),
        fp32=timings["fp32"],
        int8=timings["int8"],
        speedup=timings["fp32"].median_ms / timings["int8"].median_ms,
    )
