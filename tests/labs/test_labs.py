"""Every lab notebook: well-formed, stored without outputs, tagged parameters, a kernel that
exists; and executed end to end through the lab runner with its default parameters."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from mllab.report import runner as labs
from mllab.core.paths import LABS

NOTEBOOKS = labs.discover(LABS)
IDS = [nb.name for nb in NOTEBOOKS]


def test_labs_exist_in_order():
    assert [labs.lab_id(nb) for nb in NOTEBOOKS][:1] == ["00"]
    ids = [labs.lab_id(nb) for nb in NOTEBOOKS]
    assert ids == sorted(set(ids)), "lab numbers must be unique and ordered"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_notebook_is_clean(notebook: Path):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a lab has code"
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell tagged parameters"
    for cell in code:
        assert not cell.outputs and cell.execution_count is None, "outputs stored in git"
    assert nb.metadata["kernelspec"]["name"] == labs.KERNEL


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_notebook_cells_are_short(notebook: Path):
    nb = nbformat.read(notebook, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if line.strip()]
            assert len(lines) <= 16, f"cell {index} has {len(lines)} lines: move logic into mllab/"


def test_kernel_exists():
    from jupyter_client.kernelspec import KernelSpecManager

    assert labs.KERNEL in KernelSpecManager().find_kernel_specs(), (
        "the 'mllab' kernel is missing: python -m ipykernel install --sys-prefix --name mllab"
    )


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_lab_runs(notebook: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("MLLAB_RESULTS", str(tmp_path / "results"))
    summary = labs.run_labs(only=labs.lab_id(notebook), out=tmp_path)
    result = summary.results[0]
    assert result.status == "passed", f"cell {result.failed_cell}: {result.error}\n{result.source}"
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["results"][0]["status"] == "passed"
    assert (tmp_path / notebook.name).exists() and (tmp_path / "report.html").exists()
    assert labs.lab_id(notebook) in report["recorded"], "the lab records what it measured"
