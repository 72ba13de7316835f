"""mllab.model.resnet, export, checks, artifacts, parity, graph and integrity: one checked file,
parity, tamper detection, the cache, and the ``mllab export`` command."""

from __future__ import annotations

import shutil
import urllib.error
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from tiny_models import flip_bit

from mllab.cli.main import build_parser, main
from mllab.core.errors import ExportFailed, InputError, IntegrityError, WeightsUnavailable
from mllab.measure.drift import LECTURE_DELTA, compare
from mllab.model import artifact_paths, artifacts, checks, export, graph, integrity, parity, weights
from mllab.model import resnet as models
from mllab.model.metadata import export_metadata, metadata
from mllab.runtime.sessions import create_session

#: exports or quantizes the real ResNet-50 (~10–20 s each on 2 cores): the full tier, not test-quick
SLOW = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """One export per exporter (random weights, seed 0), shared by the module's tests."""
    folder = tmp_path_factory.mktemp("export")
    return {
        e: export.export_onnx(folder / f"{e}.onnx", exporter=e) for e in artifact_paths.EXPORTERS
    }


# -- weights policy ----------------------------------------------------------------------------


def test_random_weights_are_seeded_and_reproducible():
    a, b, c = models.load_resnet50(), models.load_resnet50(seed=0), models.load_resnet50(seed=1)
    assert not a.training
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)
    assert weights.weights_id() == "random-seed0" == weights.weights_id("random", 0)
    assert weights.weights_id(None, 7) == "random-seed7"


def test_checkpoint_path(tmp_path):
    path = tmp_path / "resnet50.pth"
    torch.save({"state_dict": models.load_resnet50(seed=3).state_dict()}, path)
    loaded = models.load_resnet50(path)
    assert torch.equal(loaded.fc.weight, models.load_resnet50(seed=3).fc.weight)
    wid = weights.weights_id(path)
    assert wid.startswith("file:") and wid[5:] == integrity.sha256_file(path)[:12]


def test_missing_or_wrong_checkpoint(tmp_path):
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        models.load_resnet50(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"fc.weight": torch.zeros(3)}, bad)
    with pytest.raises(InputError, match="not a ResNet-50 state_dict"):
        models.load_resnet50(bad)


def test_enum_weights_offline_say_what_to_do(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: a download is needed
    monkeypatch.setattr(torch.hub, "urlopen", offline)
    assert weights.weights_id("ResNet50_Weights.IMAGENET1K_V2") == "IMAGENET1K_V2"
    with pytest.raises(WeightsUnavailable, match="pass its path") as error:
        models.load_resnet50("IMAGENET1K_V2")
    assert "https://download.pytorch.org" in str(error.value)


def test_unknown_weights_name():
    with pytest.raises(InputError, match="IMAGENET1K_V2"):
        models.load_resnet50("IMAGENET_V9")


# -- the exported file -------------------------------------------------------------------------


@SLOW
@pytest.mark.parametrize("exporter", artifact_paths.EXPORTERS)
def test_single_self_contained_file(exported, exporter):
    path = exported[exporter]
    assert sorted(p.name for p in path.parent.glob("*.data")) == []
    proto = onnx.load(str(path), load_external_data=False)
    external = [
        t.name for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL
    ]
    assert external == [] and path.stat().st_size > 90e6, "the weights are inside the file"
    onnx.checker.check_model(str(path), full_check=True)


@SLOW
@pytest.mark.parametrize("exporter", artifact_paths.EXPORTERS)
def test_metadata_and_names(exported, exporter):
    path = exported[exporter]
    props = metadata(path)
    proto = onnx.load(str(path), load_external_data=False)
    assert props["exporter"] == exporter
    assert props["opset"] == str(next(o.version for o in proto.opset_import if o.domain == ""))
    assert props["torch_version"] == torch.__version__
    assert props["weights_id"] == "random-seed0"
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["logits"]


@SLOW
def test_export_metadata_record(exported):
    found = export_metadata(exported["torchscript"])
    assert (found.exporter, found.weights_id, found.fold) == ("torchscript", "random-seed0", True)
    assert found.sha256 == integrity.verify_model(exported["torchscript"])
    assert found.size_mb > 90 and found.extra_files == []


@SLOW
@pytest.mark.parametrize("exporter", artifact_paths.EXPORTERS)
def test_dynamic_batch(exported, exporter):
    session = create_session(exported[exporter], device="cpu")
    for batch in (1, 3, 8):
        x = np.zeros((batch, 3, 224, 224), dtype=np.float32)
        assert checks.run(session, x).shape == (batch, 1000)
    assert checks.check_dynamic_batch(exported[exporter]) == {
        1: (1, 1000),
        3: (3, 1000),
        8: (8, 1000),
    }


def test_fixed_batch_is_detected(tmp_path):
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["input"], ["logits"])],
        "fixed",
        [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 1000])],
        [onnx.helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [1, 1000])],
    )
    path = tmp_path / "fixed.onnx"
    onnx.save(onnx.helper.make_model(graph), str(path))
    with pytest.raises(ExportFailed, match="fixed to 1"):
        checks.check_dynamic_batch(path)


@SLOW
def test_unsupported_opset_is_refused_not_silently_raised(tmp_path):
    with pytest.raises(ExportFailed, match="asked for opset 5"):
        export.export_onnx(tmp_path / "m.onnx", exporter="dynamo", opset=5)
    assert list(tmp_path.iterdir()) == [], "no partial file is left behind"


def test_bad_exporter_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="exporter"):
        export.export_onnx(tmp_path / "m.onnx", exporter="tflite")


# -- parity ------------------------------------------------------------------------------------


@SLOW
def test_parity_within_lecture_and_tutorial_tolerances(exported):
    report = parity.parity_report(exported)
    assert report.weights_id == "random-seed0" and report.delta == LECTURE_DELTA
    assert {(r.exporter, r.inputs) for r in report.rows} == {
        (e, i) for e in artifact_paths.EXPORTERS for i in ("samples", "random")
    }
    for row in report.rows:
        label = f"{row.exporter}/{row.inputs}"
        assert row.l2 <= LECTURE_DELTA and row.within_delta, label
        if row.inputs == "samples":  # random noise reaches logits where atol=1e-5 is tight
            assert row.allclose_ratio <= 1.0, label
        assert row.top1_agreement == 1.0 and row.cosine > 0.999999, label


@SLOW
def test_parity_detects_other_weights(exported):
    x = parity.reference_inputs()["samples"]
    other = parity.torch_logits(models.load_resnet50(seed=1), x)
    onnx_logits = checks.run(create_session(exported["dynamo"], device="cpu"), x)
    assert compare(onnx_logits, other).l2 > LECTURE_DELTA
    same = create_session(exported["dynamo"])
    rows = parity.compare_sessions(same, same, {"x": x})
    assert [(r.inputs, r.l2, r.within_delta) for r in rows] == [("x", 0.0, True)]
    with pytest.raises(InputError, match="random-seed0"):
        parity.parity_report({"dynamo": exported["dynamo"]}, seed=1)


# -- integrity ---------------------------------------------------------------------------------


@SLOW
def test_digest_beside_the_model(exported):
    path = exported["dynamo"]
    line = integrity.digest_path(path).read_text().split()
    assert line == [integrity.sha256_file(path), path.name]  # sha256sum format
    assert integrity.verify_model(path) == line[0]


@SLOW
def test_tampered_model_is_refused(exported, tmp_path):
    copy = tmp_path / "model.onnx"
    shutil.copy(exported["dynamo"], copy)
    shutil.copy(integrity.digest_path(exported["dynamo"]), integrity.digest_path(copy))
    integrity.verify_model(copy)
    flip_bit(copy, offset=-1000, mask=0xFF)
    with pytest.raises(IntegrityError, match="expects") as error:
        integrity.verify_model(copy)
    assert "Re-export" in str(error.value)
    with pytest.raises(IntegrityError):
        checks.load_session(copy)


@SLOW
def test_missing_digest_is_refused(exported, tmp_path):
    copy = tmp_path / "model.onnx"
    shutil.copy(exported["torchscript"], copy)
    with pytest.raises(IntegrityError, match="digest file"):
        integrity.verify_model(copy)


@SLOW
def test_default_model_is_cached_and_repaired(exported, tmp_path, monkeypatch):
    monkeypatch.setattr("mllab.core.paths.ARTIFACTS", tmp_path)
    cached = tmp_path / "models" / "resnet50-dynamo-random-seed0.onnx"
    cached.parent.mkdir()
    shutil.copy(exported["dynamo"], cached)
    integrity.write_digest(cached)
    before = cached.stat().st_mtime_ns
    assert artifacts.default_model("dynamo") == cached
    assert cached.stat().st_mtime_ns == before, "a verified model is not exported again"
    flip_bit(cached, offset=-1000, mask=0xFF)
    assert artifacts.default_model("dynamo") == cached
    assert integrity.verify_model(cached), "a tampered cache is replaced by a fresh export"


def test_default_model_path_needs_no_export(tmp_path, monkeypatch):
    monkeypatch.setattr("mllab.core.paths.ARTIFACTS", tmp_path)
    path = artifact_paths.default_model_path("torchscript", seed=3)
    assert path == tmp_path / "models" / "resnet50-torchscript-random-seed3.onnx"
    assert not path.exists()
    with pytest.raises(InputError, match="exporter"):
        artifact_paths.default_model_path("tflite")


# -- ONNX Runtime's graph optimiser ------------------------------------------------------------


def test_ort_fuses_conv_and_batchnorm(tmp_path):
    unfolded = export.export_onnx(tmp_path / "unfolded.onnx", "torchscript", fold=False)
    fusion = graph.graph_fusion(unfolded, tmp_path / "optimized.onnx")
    assert fusion.batchnorm_before == fusion.before["BatchNormalization"] == 53
    assert fusion.batchnorm_after == 0 and "BatchNormalization" not in fusion.after
    assert fusion.nodes_after < fusion.nodes_before / 2
    assert fusion.nodes_after == sum(graph.node_counts(tmp_path / "optimized.onnx").values())


# -- the command line --------------------------------------------------------------------------


@SLOW
def test_cli_export(tmp_path, capsys, only_our_commands):
    out = tmp_path / "cli.onnx"
    assert main(["export", "--out", str(out), "--exporter", "torchscript", "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and integrity.sha256_file(out) in printed
    assert "parity" in printed and "within_delta" in printed
    table = printed.split("within_delta: ")[1].splitlines()[3:]  # after header and rule
    assert len(table) == 2 and all(line.rstrip().endswith("yes") for line in table), printed
    assert metadata(out)["weights_id"] == "random-seed2"


def test_cli_bad_input_exits_2(tmp_path, capsys, only_our_commands):
    code = main(["export", "--out", str(tmp_path / "m.onnx"), "--weights", "/no/such.pt"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("mllab export: error:") and "does not exist" in err
    assert not (tmp_path / "m.onnx").exists()


def test_cli_registers_export_and_quantize():
    parser = build_parser(groups=("export", "quantize"))
    args = parser.parse_args(["export", "--out", "x.onnx"])
    assert args.exporter == "dynamo" and args.func.__name__ == "run_export"
    quantize_args = parser.parse_args(["quantize", "--model", "a", "--out", "b"])
    assert quantize_args.func.__name__ == "run_quantize" and quantize_args.no_verify is False
