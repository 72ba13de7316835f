"""Fixtures of the measure tests: artifacts in a temporary folder, a clock moved by hand (the
tiny ONNX classifier, ``tiny``, is in tests/conftest.py)."""

from __future__ import annotations

import pytest

import mllab.core.paths


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
