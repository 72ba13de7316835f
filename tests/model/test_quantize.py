"""mllab.model.quantize: INT8 static QDQ quantization, one checked file, drift measured vs fp32."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
import pytest
from tiny_models import flip_bit

from mllab.cli.main import main
from mllab.core.errors import IntegrityError
from mllab.measure.drift import compare
from mllab.model import checks, export, integrity, quantize
from mllab.model.graph import node_counts
from mllab.model.metadata import file_size_mb, metadata
from mllab.model.parity import reference_inputs
from mllab.runtime.sessions import create_session

#: quantizes the real ResNet-50 (~20 s on 2 cores): the full tier, not test-quick
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fp32(tmp_path_factory) -> Path:
    return export.export_onnx(tmp_path_factory.mktemp("fp32") / "model.onnx", "dynamo")


@pytest.fixture(scope="module")
def int8(fp32, tmp_path_factory) -> Path:
    return quantize.quantize_int8(fp32, tmp_path_factory.mktemp("int8") / "model-int8.onnx")


def test_int8_is_one_small_checked_file(fp32, int8):
    assert list(int8.parent.glob("*.data")) == [] and list(int8.parent.glob(".quantize-*")) == []
    assert integrity.verify_model(int8)
    onnx.checker.check_model(str(int8))
    # int8 weights take a quarter of fp32's bytes; scales and zero points add a little
    assert file_size_mb(int8) < 0.3 * file_size_mb(fp32)


def test_int8_graph_is_qdq_per_channel(int8):
    counts = node_counts(int8)
    assert counts.get("QuantizeLinear", 0) > 50 and counts.get("DequantizeLinear", 0) > 100
    proto = onnx.load(str(int8), load_external_data=False)
    scales = [t for t in proto.graph.initializer if t.name.endswith("_scale") and t.dims]
    assert scales, "per-channel quantization stores a vector of scales per weight"


def test_int8_metadata_names_its_fp32_source(fp32, int8):
    props = metadata(int8)
    assert props["fp32_sha256"] == integrity.sha256_file(fp32)
    assert "QDQ" in props["quantization"] and props["weights_id"] == "random-seed0"
    assert int(props["calibration_images"]) >= 4


def test_int8_keeps_the_dynamic_batch(int8):
    assert checks.check_dynamic_batch(int8)[8] == (8, 1000)


def test_int8_drift_is_small_but_not_zero(fp32, int8):
    x = reference_inputs()["samples"]
    drift = compare(checks.run(create_session(int8), x), checks.run(create_session(fp32), x))
    assert drift.cosine > 0.99 and drift.relative < 0.1
    assert drift.max_abs > 1e-3, "INT8 is a different artefact: it cannot match fp32 exactly"


def test_tampered_fp32_is_refused(fp32, tmp_path):
    copy = tmp_path / "model.onnx"
    shutil.copy(fp32, copy)
    integrity.write_digest(copy)
    flip_bit(copy, offset=-500)
    with pytest.raises(IntegrityError):
        quantize.quantize_int8(copy, tmp_path / "int8.onnx")
    assert not (tmp_path / "int8.onnx").exists()


def test_default_int8_model_is_cached(fp32, tmp_path, monkeypatch):
    monkeypatch.setattr("mllab.core.paths.ARTIFACTS", tmp_path)
    cached = tmp_path / "models" / "resnet50-dynamo-random-seed0.onnx"
    cached.parent.mkdir()
    shutil.copy(fp32, cached)
    integrity.write_digest(cached)
    first = quantize.default_int8_model()
    assert first == cached.with_name(cached.stem + "-int8.onnx")
    before = first.stat().st_mtime_ns
    assert quantize.default_int8_model() == first and first.stat().st_mtime_ns == before


def test_int8_gain_times_both_in_one_run(fp32, int8):
    x = reference_inputs()["samples"][:2]
    gain = quantize.int8_gain(fp32, int8, x, repeats=2)
    assert gain.batch == 2 and gain.fp32.repeats == gain.int8.repeats == 2
    assert gain.size_ratio == pytest.approx(gain.fp32_mb / gain.int8_mb) and gain.size_ratio > 3
    assert gain.speedup == pytest.approx(gain.fp32.median_ms / gain.int8.median_ms)


def test_cli_quantize(fp32, tmp_path, capsys, only_our_commands):
    out = tmp_path / "q.onnx"
    assert main(["quantize", "--model", str(fp32), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "top-1 agreement" in printed and "MB" in printed
    assert integrity.verify_model(out)


def test_cli_quantize_missing_model_exits_2(tmp_path, capsys, only_our_commands):
    code = main(["quantize", "--model", str(tmp_path / "no.onnx"), "--out", "x.onnx"])
    assert code == 2 and "no such model file" in capsys.readouterr().err
