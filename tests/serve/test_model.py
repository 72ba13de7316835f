"""The served model: its sha256 checked before it loads, clear errors, its ONNX header."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mllab.core.errors import IntegrityError, MllabError
from mllab.model.integrity import sha256_file, write_digest
from mllab.serve.model import Model, onnx_header


def test_model_loads_warm_and_answers_like_ort(tiny_model, reference):
    model = Model(tiny_model)
    assert model.ready and model.sha256 == sha256_file(tiny_model)
    assert model.provider == "CPUExecutionProvider" and model.sample_shape == (3, 224, 224)
    x = np.ones((2, 3, 224, 224), np.float32)
    logits, ms = model.run(x)
    assert ms > 0 and np.array_equal(logits, reference(x))
    meta = model.metadata()
    assert meta["input"] == {"name": "input", "shape": ["N", 3, 224, 224], "type": "tensor(float)"}
    assert meta["opsets"] == {"ai.onnx": 17} and meta["ir_version"] == 8


def test_tampered_model_is_refused(tampered):
    with pytest.raises(IntegrityError, match="sha256"):
        Model(tampered)


def test_missing_digest_is_refused(tiny_model, tmp_path):
    path = tmp_path / "nodigest.onnx"
    shutil.copy(tiny_model, path)
    with pytest.raises(IntegrityError, match="digest"):
        Model(path)


def test_unloadable_model_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"not a protobuf" * 10)
    write_digest(path)  # the digest matches: the file is intact, just not a model
    with pytest.raises(MllabError, match="ONNX Runtime cannot load"):
        Model(path)


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(MllabError, match="no model file"):
        Model(tmp_path / "absent.onnx")


def test_onnx_header_matches_onnx(tiny_model):
    import onnx  # the test checks the hand-written protobuf reader against the real one

    proto = onnx.load(tiny_model)
    header = onnx_header(tiny_model)
    assert header["ir_version"] == proto.ir_version
    assert header["opsets"] == {(o.domain or "ai.onnx"): o.version for o in proto.opset_import}
    assert header["producer_version"] == (proto.producer_version or None)


def test_onnx_header_of_a_non_model_is_empty(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x0f\xff\xff")
    assert onnx_header(path) == {"ir_version": None, "producer_version": None, "opsets": {}}


def test_batching_is_off_by_default_on_cpu(tiny_model, random_batch):
    model = Model(tiny_model)
    assert model.batching is None
    answer = model.infer(random_batch(3))
    assert (answer.batch_rows, answer.offset, answer.batch_id) == (3, 0, 0)


def test_batching_on_answers_like_ort_and_counts_its_batches(tiny_model, reference, random_batch):
    model = Model(tiny_model, batch_max_size=4, batch_max_queue_delay_ms=0)
    x = random_batch(2, seed=7)
    logits, ms = model.run(x)
    assert ms > 0 and np.array_equal(logits, reference(x))  # a batch of its own: same size
    counters = model.batching
    assert counters["max_size"] == 4 and counters["batches"] == 1 and counters["rows"] == 2
    model.close()


def test_probe_answers_from_a_recent_run_or_runs_one(tiny_model):
    model = Model(tiny_model)
    assert model.probe()  # the warm-up just answered
    model._answered = 0.0  # long ago: the probe runs the session itself
    assert model.probe() and model._answered > 0.0
    with model._lock:  # the session is held (a run that hangs): not ready after wait_s
        model._answered = 0.0
        assert not model.probe(wait_s=0.05)
