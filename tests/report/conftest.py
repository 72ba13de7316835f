"""Helpers for the report tests: typed records written into a fresh results folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mllab.core.records import Results, load_all, record


@pytest.fixture
def results_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``results_of(("05", item), ...)``: record the items into a fresh folder, load them."""

    def write(*records: tuple[str, Any]) -> Results:
        folder = tmp_path / f"results-{len(list(tmp_path.iterdir()))}"
        monkeypatch.setenv("MLLAB_RESULTS", str(folder))
        for lab, item in records:
            record(lab, item)
        return load_all(run=folder)

    return write
