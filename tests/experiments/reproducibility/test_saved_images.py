"""Diffing saved images (synthetic ``docker save`` tars, no engine): content vs timestamps."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from mllab.experiments.reproducibility import saved_images


def _layer(files: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (data, mtime) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _saved(path: Path, created: str, layers: list[bytes]) -> saved_images.SavedImage:
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    history = [{"created": created, "created_by": f"/bin/sh -c step {i}"} for i in range(2)]
    config = {
        "created": created,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    raw = json.dumps(config).encode()
    with tarfile.open(path, "w") as tar:
        names = []
        for i, layer in enumerate(layers):
            names.append(f"l{i}/layer.tar")
            info = tarfile.TarInfo(names[-1])
            info.size = len(layer)
            tar.addfile(info, io.BytesIO(layer))
    return saved_images.SavedImage("t", path, config, hashlib.sha256(raw).hexdigest(), names)


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
    assert a.diff_ids[0] == b.diff_ids[0] and a.diff_ids[1] != b.diff_ids[1]
    diff = saved_images.layer_diff(a, b, 1)
    assert diff.content == ["app/x.pyc"]
    assert diff.metadata == ["app/x.py"] and diff.metadata_fields == {"mtime": 1}
    assert diff.only_a == ["app/gone"] and diff.only_b == ["app/new"]
    assert "1 .pyc" in diff.why() and "mtime" in diff.why()
    fields = saved_images.field_names(saved_images.config_diff(a.config, b.config))
    assert "created" in fields and "history[].created (×2)" in fields
    assert "rootfs.diff_ids[]" in fields


def test_flatten_and_config_diff():
    flat = saved_images.flatten({"a": {"b": [1, {"c": 2}]}, "e": []})
    assert flat == {"a.b[0]": 1, "a.b[1].c": 2, "e": []}
    rows = saved_images.config_diff({"x": 1, "y": [1, 2]}, {"x": 1, "y": [1, 3], "z": 0})
    assert [r["field"] for r in rows] == ["y[1]", "z"]
