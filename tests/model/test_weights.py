"""mllab.model.weights: the weights policy by name, without torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mllab.core.errors import InputError, WeightsUnavailable
from mllab.core.hashing import sha256_file
from mllab.model import weights


def test_kinds():
    assert weights.kind(None) == weights.kind("Random") == "random"
    assert weights.kind("ckpt.pth") == weights.kind("dir/x") == "file"
    assert weights.kind("IMAGENET1K_V2") == "enum"


def test_ids(tmp_path):
    assert weights.weights_id(None, 7) == "random-seed7"
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"not really a checkpoint")
    assert weights.weights_id(ckpt) == "file:" + sha256_file(ckpt)[:12]
    assert weights.weights_id("ResNet50_Weights.DEFAULT") == "IMAGENET1K_V2"
    with pytest.raises(InputError, match="IMAGENET1K_V1"):
        weights.weights_id("IMAGENET_V9")
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        weights.weights_id(tmp_path / "missing.pth")


def test_enum_table_matches_torchvision():
    from torchvision.models import ResNet50_Weights

    assert set(weights.ENUM_NAMES) == set(ResNet50_Weights.__members__)
    for name, resolved in weights.ENUM_NAMES.items():
        assert ResNet50_Weights[name].name == resolved


def test_the_cache_path_imports_no_torch():
    code = (
        "import sys, mllab.model.artifact_paths as a; a.default_model_path(); "
        "print(sorted(m for m in ('torch', 'torchvision', 'onnx') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
