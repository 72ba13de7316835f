"""The integrity gate refuses a tampered model before a build and at server start."""

from __future__ import annotations

from pathlib import Path

import pytest

from mllab.core.errors import IntegrityError
from mllab.experiments.reproducibility import integrity_gates

PREFIX = "mllab-repro-test"


def _model(tmp_path: Path) -> Path:
    from mllab.model.integrity import write_digest

    model = tmp_path / "m" / "model.onnx"
    model.parent.mkdir()
    model.write_bytes(bytes(range(256)) * 64)
    write_digest(model)
    return model


def test_build_with_gate_refuses_a_tampered_model_before_docker(tmp_path, monkeypatch):
    bad = integrity_gates.tampered_copy(_model(tmp_path), tmp_path / "bad")
    called = []
    monkeypatch.setattr(integrity_gates, "slim_context", lambda *a, **k: called.append(a))
    monkeypatch.setattr(integrity_gates, "docker_build", lambda *a, **k: called.append(a))
    with pytest.raises(IntegrityError, match="refusing"):
        integrity_gates.build_with_gate(bad, f"{PREFIX}/gate:bad")
    assert called == []  # nothing staged, nothing sent to the engine
    gate = integrity_gates.build_refuses(bad, f"{PREFIX}/gate:bad")
    assert gate.refused and "refusing" in gate.message and called == []


def test_server_refuses_a_tampered_model(tmp_path):
    bad = integrity_gates.tampered_copy(_model(tmp_path), tmp_path / "bad")
    gate = integrity_gates.server_refuses(bad, timeout=60)
    assert gate.refused is True
    assert "sha256" in gate.message or "refusing" in gate.message


def test_an_untampered_model_passes_the_copy_check(tmp_path):
    from mllab.model.integrity import verify_model

    model = _model(tmp_path)
    verify_model(model)  # the original passes: the gate refuses the flip, not every model
    bad = integrity_gates.tampered_copy(model, tmp_path / "bad")
    assert bad.read_bytes() != model.read_bytes() and bad.stat().st_size == model.stat().st_size


@pytest.mark.docker
@pytest.mark.slow
def test_dockerfile_gate_stops_a_model_changed_after_staging():
    from mllab.experiments.reproducibility.rebuilds import remove_images

    try:
        gate = integrity_gates.dockerfile_refuses(None, f"{PREFIX}/gate:tampered")
        assert gate.refused and "sha256sum" in gate.message, gate
    finally:
        remove_images(PREFIX)
