"""Fixtures of the measure tests: a tiny ONNX classifier, and artifacts in a temporary folder."""

from __future__ import annotations

import pytest
from tiny_models import tiny_classifier

import mllab.core.paths


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 2-node Conv + Gemm classifier (input (N, 3, 8, 8)), with its sha256 file."""
    return tiny_classifier(tmp_path_factory.mktemp("models") / "tiny.onnx")


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    """Profiles and caches of these tests go to a temporary folder, not artifacts/."""
    monkeypatch.setattr(mllab.core.paths, "ARTIFACTS", tmp_path / "artifacts")
    return tmp_path / "artifacts"


class FakeClock:
    """A clock that only moves when told to: timings are then known exactly."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, ms: float) -> None:
        self.now += ms / 1000.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
