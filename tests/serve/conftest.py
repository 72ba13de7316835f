"""Fixtures of the serve tests: a tiny model with ResNet-50's interface, ONNX Runtime on it in
this process (what the server must answer), random batches."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from tiny_models import tiny_resnet_interface

from mllab.runtime.sessions import create_session


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """ResNet-50's interface in three nodes, with its sha256 file."""
    return tiny_resnet_interface(tmp_path_factory.mktemp("model") / "tiny.onnx")


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
