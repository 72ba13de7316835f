"""The lab runner on small synthetic notebooks: goes on past a failure, reports the failing
cell, never writes the source notebooks, records into the run's own folder, parses parameters."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from mllab.cli.main import build_parser
from mllab.core.errors import MllabError
from mllab.core.records import Results
from mllab.report import runner
from mllab.report.claims import CLAIMS, claims_table
from mllab.report.run_page import render_html
from mllab.report.summary import LabResult, RunSummary

RECORD_CELL = """\
from dataclasses import dataclass
from mllab.core.records import record

@dataclass
class Probe:
    x: int

record('00', Probe(X))
"""


def _notebook(path: Path, body: str) -> Path:
    params = nbformat.v4.new_code_cell("X = 1")
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(body)])
    kernel = {"name": runner.KERNEL, "display_name": "mllab", "language": "python"}
    nb.metadata["kernelspec"] = kernel
    nbformat.write(nb, path)
    return path


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "labs"
    folder.mkdir()
    _notebook(folder / "00_ok.ipynb", RECORD_CELL)
    _notebook(folder / "01_broken.ipynb", "raise ValueError('cell failed on purpose')")
    _notebook(folder / "02_after.ipynb", "Y = X * 2")
    return folder


def test_runner_goes_on_past_a_failure(lab_dir: Path, tmp_path: Path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("MLLAB_RESULTS", str(elsewhere))
    before = {p: p.read_bytes() for p in lab_dir.iterdir()}
    summary = runner.run_labs(out=tmp_path / "run", labs_dir=lab_dir, parameters={"X": 21})
    assert [r.status for r in summary.results] == ["passed", "failed", "passed"]
    broken = summary.results[1]
    assert broken.error == "ValueError: cell failed on purpose"
    assert broken.failed_cell is not None and "raise ValueError" in broken.source
    assert {p: p.read_bytes() for p in lab_dir.iterdir()} == before, "sources untouched"
    report = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert report["recorded"]["00"] == {"Probe": {"_schema": 1, "x": 21}}, "parameters reach it"
    assert (tmp_path / "run" / "results" / "00.json").exists(), "the run records in its folder"
    assert not elsewhere.exists(), "and nowhere else"
    assert os.environ["MLLAB_RESULTS"] == str(elsewhere), "the caller's setting is restored"
    assert [c["id"] for c in report["claims"]] == [c.id for c in CLAIMS]
    assert all(c["kind"] == "not measured here" for c in report["claims"])
    assert "cell failed on purpose" in (tmp_path / "run" / "report.html").read_text()


def test_select_and_unknown_lab(lab_dir: Path):
    found = runner.discover(lab_dir)
    assert [p.name for p in runner.select(found, "0,2")] == ["00_ok.ipynb", "02_after.ipynb"]
    with pytest.raises(MllabError, match="no lab 08"):
        runner.select(found, "08")


def test_parse_parameters():
    assert runner.parse_parameters(["A=1", "B=[1, 8]", "C=cuda", "D=true"]) == {
        "A": 1,
        "B": [1, 8],
        "C": "cuda",
        "D": True,
    }
    with pytest.raises(MllabError, match="KEY=VALUE"):
        runner.parse_parameters(["no-equals"])


def test_cli_reports_unknown_lab_before_running_anything(tmp_path: Path):
    args = build_parser(("labs",)).parse_args(["labs", "run", "--only", "42", "--out", "x"])
    with pytest.raises(MllabError, match="no lab 42"):
        args.func(args)


def test_the_report_page_shows_labs_and_claims(tmp_path: Path):
    summary = RunSummary(str(tmp_path), "now")
    summary.results.append(LabResult("01", "01_x.ipynb", "failed", 1.0, "o", 3, "E: <bad>"))
    page = render_html(summary, claims_table(Results(tmp_path / "none")))
    assert "The lecture's claims on this machine" in page
    assert page.count("class='not-measured-here'") == len(CLAIMS)
    assert "E: &lt;bad&gt;" in page and "0 passed, 1 failed" in page


def test_the_clean_up_runs_after_a_failing_lab_and_the_runner_goes_on(
    lab_dir: Path, tmp_path: Path, monkeypatch
):
    calls = []

    def undo() -> str:
        calls.append("01")
        raise RuntimeError("stack would not go")

    monkeypatch.setattr(runner, "AFTER_LAB", {"01": undo, "02": lambda: calls.append("02") or "ok"})
    summary = runner.run_labs(out=tmp_path / "run", labs_dir=lab_dir)
    assert [r.status for r in summary.results] == ["passed", "failed", "passed"]
    assert calls == ["01", "02"], "once after the failed lab, once after the next"


def test_after_lab_says_what_the_clean_up_did(monkeypatch):
    said = []
    monkeypatch.setattr(runner, "AFTER_LAB", {"08": lambda: "nothing to undo"})
    assert runner.after_lab(Path("08_delivery.ipynb"), said.append) == "nothing to undo"
    assert runner.after_lab(Path("07_resources_load.ipynb"), said.append) is None
    assert said == ["        clean-up after 08_delivery.ipynb: nothing to undo"]


def test_labs_03_and_08_are_cleaned_up_after_they_ran():
    assert set(runner.AFTER_LAB) == {"03", "08"}
