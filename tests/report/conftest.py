"""Helpers for the report tests: the kit's own records written into a fresh results folder
(``mllab.core.records.record``) and read back (``load_all``), and a judge's verdict checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mllab.core.records import Results, load_all, record
from mllab.report.claims import judge


@pytest.fixture
def results_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``results_of(("06", item), ...)``: record the items into a fresh folder, load them."""

    def write(*records: tuple[str, Any]) -> Results:
        folder = tmp_path / f"results-{len(list(tmp_path.iterdir()))}"
        monkeypatch.setenv("MLLAB_RESULTS", str(folder))
        for lab, item in records:
            record(lab, item)
        return load_all(run=folder)

    return write


@pytest.fixture
def assert_judged(results_of):
    """``assert_judged(claim, records, kind, text)``: the claim judged from ``records`` gets the
    verdict ``kind`` with ``text`` in it, and a measured verdict names every record it read."""

    def check(claim: str, records: list[tuple[str, Any]], kind: str, text: str) -> None:
        row = judge(claim, results_of(*records))
        assert row.verdict.kind == kind, row
        assert text in row.verdict.text, row
        assert str(row.verdict) == f"{kind}: {row.verdict.text}"
        if kind != "not measured here":
            for lab, item in records:
                assert f"[{lab}:{type(item).__name__}]" in row.measured, "the source is named"

    return check
