"""Rebuilds, their differences, reproducible builds, manifests and the integrity gate."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from mllab.experiments import rebuilds as builds
from mllab.experiments import manifests as manifest
from mllab.core.errors import BuildError, IntegrityError

PREFIX = "mllab-repro-test"


# --- diffing saved images (synthetic docker-save tars, no engine) ------------------------------


def _layer(files: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (data, mtime) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _saved(path: Path, created: str, layers: list[bytes]) -> builds.SavedImage:
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    history = [{"created": created, "created_by": f"/bin/sh -c step {i}"} for i in range(2)]
    config = {"created": created, "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": history}  # fmt: skip
    raw = json.dumps(config).encode()
    with tarfile.open(path, "w") as tar:
        names = []
        for i, layer in enumerate(layers):
            names.append(f"l{i}/layer.tar")
            info = tarfile.TarInfo(names[-1])
            info.size = len(layer)
            tar.addfile(info, io.BytesIO(layer))
    return builds.SavedImage("t", path, config, hashlib.sha256(raw).hexdigest(), names)


def test_layer_diff_separates_content_from_timestamps(tmp_path):
    same = {"etc/passwd": (b"root", 0)}
    a = _saved(
        tmp_path / "a.tar",
        "2025-01-01",
        [
            _layer(same),
            _layer(
                {"app/x.py": (b"print(1)", 100), "app/x.pyc": (b"\x01", 100), "app/gone": (b"", 1)}
            ),
        ],
    )
    b = _saved(
        tmp_path / "b.tar",
        "2025-01-02",
        [
            _layer(same),
            _layer(
                {"app/x.py": (b"print(1)", 200), "app/x.pyc": (b"\x02", 100), "app/new": (b"", 1)}
            ),
        ],
    )
    # fmt: skip
    assert a.diff_ids[0] == b.diff_ids[0] and a.diff_ids[1] != b.diff_ids[1]
    diff = builds.layer_diff(a, b, 1)
    assert diff.content == ["app/x.pyc"]
    assert diff.metadata == ["app/x.py"] and diff.metadata_fields == {"mtime": 1}
    assert diff.only_a == ["app/gone"] and diff.only_b == ["app/new"]
    assert "1 .pyc" in diff.why() and "mtime" in diff.why()
    fields = builds.field_names(builds.config_diff(a.config, b.config))
    assert "created" in fields and "history[].created (×2)" in fields
    assert "rootfs.diff_ids[]" in fields


def test_flatten_and_config_diff():
    flat = builds.flatten({"a": {"b": [1, {"c": 2}]}, "e": []})
    assert flat == {"a.b[0]": 1, "a.b[1].c": 2, "e": []}
    rows = builds.config_diff({"x": 1, "y": [1, 2]}, {"x": 1, "y": [1, 3], "z": 0})
    assert [r["field"] for r in rows] == ["y[1]", "z"]


def test_reproducible_dockerfile_only_declares_source_date_epoch():
    from mllab.core.paths import DOCKER

    original = (DOCKER / "Dockerfile").read_text().splitlines()
    repro = builds.reproducible_dockerfile().splitlines()
    stages = sum(line.startswith("FROM ") for line in original)
    assert stages >= 2  # multi-stage: both stages need the ARG
    assert [line for line in repro if line != "ARG SOURCE_DATE_EPOCH"] == original
    for i, line in enumerate(repro):
        if line.startswith("FROM "):
            assert repro[i + 1] == "ARG SOURCE_DATE_EPOCH"


def test_buildkit_path_is_written_and_reports_why_it_cannot_run(monkeypatch):
    command = builds.buildkit_command(Path("/ctx"), "x:1")
    assert "rewrite-timestamp=true" in " ".join(command)
    assert "SOURCE_DATE_EPOCH=0" in command
    monkeypatch.setattr(builds, "buildkit_status", lambda: "Docker 20.10.24 without buildx")
    result = builds.buildkit_rewrite_timestamp()
    assert result["status"] == "not available: Docker 20.10.24 without buildx"
    assert "rewrite-timestamp=true" in result["command"]


# --- integrity gate ------------------------------------------------------------------------


def _model(tmp_path: Path) -> Path:
    from mllab.model.integrity import write_digest

    model = tmp_path / "m" / "model.onnx"
    model.parent.mkdir()
    model.write_bytes(bytes(range(256)) * 64)
    write_digest(model)
    return model


def test_build_with_gate_refuses_a_tampered_model_before_docker(tmp_path, monkeypatch):
    bad = builds.tampered_copy(_model(tmp_path), tmp_path / "bad")
    called = []
    monkeypatch.setattr(builds, "slim_context", lambda *a, **k: called.append(a))
    monkeypatch.setattr(builds, "docker_build", lambda *a, **k: called.append(a))
    with pytest.raises(IntegrityError, match="refusing"):
        builds.build_with_gate(bad, f"{PREFIX}/gate:bad")
    assert called == []  # nothing staged, nothing sent to the engine


def test_server_refuses_a_tampered_model(tmp_path):
    bad = builds.tampered_copy(_model(tmp_path), tmp_path / "bad")
    result = manifest.server_refuses(bad, timeout=60)
    assert result["refused"] is True
    assert "sha256" in result["message"] or "refusing" in result["message"]


# --- manifests -------------------------------------------------------------------------------


def test_manifest_diff_splits_shared_and_one_sided():
    host = {"numpy": "2.4.6", "torch": "2.14.1", "onnxruntime-gpu": "1.31.1"}
    box = {"numpy": "2.4.6", "onnxruntime": "1.31.1"}
    diff = manifest.manifest_diff(host, box)
    assert diff["shared"] == 1 and diff["equal_on_shared"] is True
    assert diff["only_a"] == ["onnxruntime-gpu==1.31.1", "torch==2.14.1"]
    assert diff["only_b"] == ["onnxruntime==1.31.1"]
    diff = manifest.manifest_diff(host, {"numpy": "2.4.5"})
    assert diff["equal_on_shared"] is False and diff["different"] == {"numpy": ("2.4.6", "2.4.5")}
    assert manifest.manifest_digest(host) != manifest.manifest_digest(box)


def test_host_manifest_is_this_venv_in_freeze_form():
    import importlib.metadata

    host = manifest.host_manifest()
    assert host["numpy"] == importlib.metadata.version("numpy")
    assert "typing-extensions" in host or "typing_extensions" not in host
    assert all("==" in line for line in manifest.freeze_lines(host))


# --- with the engine -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cleanup():
    yield
    try:
        builds.remove_images(PREFIX)
        builds.buildah_remove(
            [f"localhost/{PREFIX}/slim-buildah:run1", f"localhost/{PREFIX}/slim-buildah:run2"]
        )
    except Exception:  # noqa: BLE001 - cleanup must not hide the test's result
        pass


@pytest.mark.docker
@pytest.mark.slow
def test_docker_rebuild_same_id_with_cache_new_id_without(cleanup):
    runs = builds.docker_rebuilds(PREFIX)
    ids = {k: r.image_id for k, r in runs["builds"].items()}
    assert ids["first"] == ids["cached"]
    assert all(s.cached for s in runs["builds"]["cached"].steps
               if not s.instruction.startswith(builds.NO_CACHE_LINE))  # fmt: skip
    assert ids["nocache"] != ids["first"]
    comparison = builds.compare_images(runs["tags"]["first"], runs["tags"]["nocache"])
    fields = builds.field_names(comparison.fields)
    assert "created" in fields and any(f.startswith("history[].created") for f in fields)
    assert comparison.changed_layers and 0 not in comparison.changed_layers  # base is shared
    assert all(d.metadata_fields.get("mtime") for d in comparison.layers)  # timestamps differ


@pytest.mark.docker
@pytest.mark.slow
def test_cache_reuse_and_the_model_layer(cleanup):
    result = builds.cache_experiment(PREFIX)
    assert result["model_change"]["pip_cached"] and result["model_change"]["before_change_cached"]
    assert result["lock_change"]["pip_rerun"]
    layer = result["model_layer"]
    assert layer["ids_differ"] and layer["only_model_layer"], layer


@pytest.mark.docker
@pytest.mark.slow
def test_dockerfile_gate_stops_a_model_changed_after_staging(cleanup):
    context = builds.slim_context("slim-tampered")
    builds.tamper_in_context(context)
    with pytest.raises(BuildError, match="sha256sum"):
        builds.docker_build(context, f"{PREFIX}/gate:tampered")


@pytest.mark.docker
@pytest.mark.slow
def test_buildah_gives_the_same_id_twice_and_runs_in_docker(cleanup):
    if status := builds.buildah_status():
        pytest.skip(status)
    result = builds.buildah_twice(PREFIX)
    assert result["same_id"], result["ids"]
    docker_id = builds.buildah_to_docker(result["tags"][0], f"{PREFIX}/slim-buildah:docker")
    manifest_id = manifest.image_identity(f"{PREFIX}/slim-buildah:docker")
    assert manifest_id["id_is_config_sha256"] and docker_id == manifest_id["Id"]
    from mllab.containers.images import run

    with run(f"{PREFIX}/slim-buildah:docker", name=f"{PREFIX}-buildah") as container:
        assert container.exec(["python", "-c", "import onnxruntime"])[0] == 0


@pytest.mark.docker
@pytest.mark.slow
def test_container_manifest_and_identity(cleanup):
    from mllab.containers.images import build_slim

    tag = build_slim()
    box = manifest.container_manifest(tag)
    assert "onnxruntime" in box and "torch" not in box
    diff = manifest.manifest_diff(manifest.host_manifest(), box)
    assert diff["shared"] > 0
    identity = manifest.image_identity(tag)
    assert identity["id_is_config_sha256"]
    assert identity["RepoDigests"] == [] and "never pushed" in identity["digest_note"]


@pytest.mark.docker
@pytest.mark.slow
def test_mmdebstrap_base_tar_is_the_same_twice(cleanup):
    result = builds.base_tar_twice(PREFIX)
    assert result["same_sha256"], result["runs"]
