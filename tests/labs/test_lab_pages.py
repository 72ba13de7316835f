"""Every lab opens with its plan (``labNN.plan()`` right after the parameters, before any work)
and ends with what its run showed (a text cell, then ``labNN.summary()``); each facade binds
both to its own lab."""

from __future__ import annotations

import importlib
from pathlib import Path

import nbformat
import pytest

from mllab.core.paths import LABS
from mllab.core.records import Results
from mllab.report import runner

NOTEBOOKS = runner.discover(LABS)
IDS = [nb.name for nb in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_a_lab_opens_with_its_plan(notebook: Path):
    lab = runner.lab_id(notebook)
    code = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    lines = [line for line in code[1].source.splitlines() if line.strip()]
    assert lines[0] == f"from mllab.labs import lab{lab}"
    assert lines[1].startswith(f"lab{lab}.plan()") and len(lines) == 2


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_a_lab_ends_with_what_this_run_showed(notebook: Path):
    lab = runner.lab_id(notebook)
    *_, text, call = nbformat.read(notebook, as_version=4).cells
    assert text.cell_type == "markdown" and text.source.startswith("## What this run showed")
    assert call.cell_type == "code" and call.source == f"lab{lab}.summary()"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_each_facade_binds_plan_and_summary_to_its_lab(
    notebook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
):
    monkeypatch.delenv("MLLAB_LANG", raising=False)
    lab = runner.lab_id(notebook)
    facade = importlib.import_module(f"mllab.labs.lab{lab}")
    facade.plan()
    facade.summary(Results(tmp_path))
    said = capsys.readouterr().out
    assert said.startswith(f"Lab {lab}: about ")
    assert f"What this run showed — lab {lab} (records in {tmp_path})" in said
    assert f"Nothing recorded yet for lab {lab}" in said
