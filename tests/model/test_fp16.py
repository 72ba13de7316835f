"""mllab.model.fp16: conversion keeps fp32 inputs and outputs; the drift against fp32."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from tiny_models import tiny_classifier

from mllab.core.errors import IntegrityError
from mllab.model import fp16


def test_fp16_conversion_keeps_fp32_io(tiny, tmp_path):
    half = fp16.convert(tiny, tmp_path / "tiny-fp16.onnx")
    assert fp16.io_types(half) == {"input": "float32", "logits": "float32"}
    proto = onnx.load(str(half))
    assert {t.data_type for t in proto.graph.initializer if t.name == "w"} == {
        onnx.TensorProto.FLOAT16
    }
    assert (tmp_path / "tiny-fp16.onnx.sha256").exists()
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    drift = fp16.drift_vs_fp32(half, tiny, x)
    assert 0 < drift.max_abs < 1e-2 and drift.top1_agreement == 1.0


def test_fp16_refuses_a_model_without_a_digest(tmp_path):
    bare = tiny_classifier(tmp_path / "bare.onnx", digest=False)
    with pytest.raises(IntegrityError):
        fp16.convert(bare, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
