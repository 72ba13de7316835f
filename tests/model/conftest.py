"""Fixtures of the model tests."""

from __future__ import annotations

import pytest

from mllab.cli.main import build_parser


@pytest.fixture
def only_our_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI with just the model's commands (``export``, ``quantize``): other groups' imports
    do not affect these tests."""
    parser = build_parser(groups=("export", "quantize"))
    monkeypatch.setattr("mllab.cli.main.build_parser", lambda: parser)
