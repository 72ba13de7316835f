"""The lab runner on small synthetic notebooks: goes on past a failure, reports the failing
cell, never writes the source notebooks, parses parameters."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from mllab.report import runner as labs
from mllab.cli.main import main
from mllab.core.errors import MllabError


def _notebook(path: Path, body: str) -> Path:
    params = nbformat.v4.new_code_cell("X = 1")
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": labs.KERNEL, "display_name": "mllab", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "labs"
    folder.mkdir()
    _notebook(folder / "00_ok.ipynb", "from mllab import results\nresults.record('00', {'x': X})")
    _notebook(folder / "01_broken.ipynb", "raise ValueError('cell failed on purpose')")
    _notebook(folder / "02_after.ipynb", "Y = X * 2")
    return folder


def test_runner_goes_on_past_a_failure(lab_dir: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("MLLAB_RESULTS", str(tmp_path / "ignored"))
    before = {p: p.read_bytes() for p in lab_dir.iterdir()}
    summary = labs.run_labs(out=tmp_path / "run", labs_dir=lab_dir, parameters={"X": 21})
    assert [r.status for r in summary.results] == ["passed", "failed", "passed"]
    broken = summary.results[1]
    assert broken.error == "ValueError: cell failed on purpose"
    assert broken.failed_cell is not None and "raise ValueError" in broken.source
    assert {p: p.read_bytes() for p in lab_dir.iterdir()} == before, "sources untouched"
    report = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert report["recorded"]["00"] == {"x": 21}, "parameters reach the notebook"
    assert "cell failed on purpose" in (tmp_path / "run" / "report.html").read_text()


def test_select_and_unknown_lab(lab_dir: Path):
    found = labs.discover(lab_dir)
    assert [p.name for p in labs.select(found, "0,2")] == ["00_ok.ipynb", "02_after.ipynb"]
    with pytest.raises(MllabError, match="no lab 07"):
        labs.select(found, "07")


def test_parse_parameters():
    assert labs.parse_parameters(["A=1", "B=[1, 8]", "C=cuda", "D=true"]) == {
        "A": 1,
        "B": [1, 8],
        "C": "cuda",
        "D": True,
    }
    with pytest.raises(MllabError, match="KEY=VALUE"):
        labs.parse_parameters(["no-equals"])


def test_cli_reports_unknown_lab_without_traceback(capsys):
    assert main(["labs", "run", "--only", "42"]) == 2
    assert "no lab 42" in capsys.readouterr().err
