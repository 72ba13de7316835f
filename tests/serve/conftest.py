"""Fixtures of the serve tests: ONNX Runtime in this process on the tiny model with ResNet-50's
interface (``tiny_model``, tests/conftest.py): what the server must answer; random batches; a
tampered copy of the model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from tiny_models import tampered_copy

from mllab.runtime.sessions import create_session


@pytest.fixture(scope="session")
def reference(tiny_model) -> Callable[[np.ndarray], np.ndarray]:
    """In-process ONNX Runtime on the same file: what the server must answer."""
    session = create_session(tiny_model)
    return lambda x: session.run(None, {"input": x})[0]


@pytest.fixture
def random_batch() -> Callable[..., np.ndarray]:
    """``random_batch(n, seed)``: a standard-normal float32 ``(n, 3, 224, 224)`` batch."""

    def make(n: int = 1, seed: int = 1) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((n, 3, 224, 224)).astype(np.float32)

    return make


@pytest.fixture
def tampered(tiny_model: Path, tmp_path: Path) -> Path:
    """A copy of ``tiny_model`` with its sha256 file and one bit of one weight flipped."""
    return tampered_copy(tiny_model, tmp_path)
