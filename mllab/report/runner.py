"""The lab runner: every notebook in ``labs/`` executed with papermill into a run folder.

``mllab labs run`` never writes the source notebooks. Every run has its own folder
(``runs/<stamp>`` or ``--out``); the labs record into ``<run>/results`` and nowhere else. It goes
on past a failing lab, writes a summary (``summary.json`` and ``report.html``: lab, status,
duration, the failing cell and its error, the records of this run and the claims judged by
them) and the command exits non-zero if any lab failed. A lab that leaves something running
across its cells (lab 08: a registry and a swarm stack) or whose killed cell could (lab 03) has
a clean-up in :data:`AFTER_LAB`, called after the lab has run, also when a cell failed or the
run was interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mllab.core.errors import MllabError
from mllab.core.paths import LABS, RUNS
from mllab.core.records import load_all
from mllab.experiments.architecture.cleanup import cleanup as architecture_cleanup
from mllab.experiments.delivery.cleanup import cleanup as delivery_cleanup
from mllab.report.claims import claims_table, rows_as_dicts
from mllab.report.run_page import render_html
from mllab.report.summary import LabResult, RunSummary

KERNEL = "mllab"
#: a cell may run this long before papermill stops it (image builds are the slowest)
CELL_TIMEOUT_S = 3600
#: what to undo after a lab, by lab id: each returns one line saying what it did
AFTER_LAB: dict[str, Callable[[], str]] = {
    "03": lambda: architecture_cleanup().line(),
    "08": lambda: delivery_cleanup().line(),
}


def discover(labs_dir: Path = LABS) -> list[Path]:
    """The lab notebooks, in order (``NN_name.ipynb``)."""
    return sorted(p for p in labs_dir.glob("[0-9][0-9]_*.ipynb"))


def lab_id(notebook: Path) -> str:
    """``labs/04_dockerfiles.ipynb`` -> ``"04"``."""
    return notebook.name[:2]


def select(notebooks: list[Path], only: str | list[str] | None) -> list[Path]:
    """Keep the labs named in ``only`` ("00,04" or ["00", "04"]); unknown ids are an error."""
    if not only:
        return notebooks
    wanted = only.split(",") if isinstance(only, str) else list(only)
    wanted = [w.strip().zfill(2) for w in wanted if w.strip()]
    known = {lab_id(nb) for nb in notebooks}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise MllabError(f"no lab {', '.join(unknown)}; the labs are {', '.join(sorted(known))}")
    return [nb for nb in notebooks if lab_id(nb) in wanted]


def parse_parameters(pairs: list[str]) -> dict[str, Any]:
    """``["DEVICE=cuda", "BATCHES=[1,8]"]`` -> dict; values are JSON where they parse as JSON."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise MllabError(f"parameter {pair!r} is not KEY=VALUE with a Python name as KEY")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def run_lab(notebook: Path, out_dir: Path, parameters: dict[str, Any]) -> LabResult:
    """Execute one notebook with papermill into ``out_dir``; never raises for a failing cell."""
    import papermill as pm  # deferred: papermill and its kernel machinery load slowly

    output = out_dir / notebook.name
    start = time.perf_counter()

    def result(status: str, **failure: Any) -> LabResult:
        elapsed = time.perf_counter() - start
        return LabResult(lab_id(notebook), notebook.name, status, elapsed, str(output), **failure)

    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            kernel_name=KERNEL,
            cwd=str(notebook.parent),
            progress_bar=False,
            execution_timeout=CELL_TIMEOUT_S,
        )
    except pm.PapermillExecutionError as error:
        return result(
            "failed",
            failed_cell=error.exec_count,
            error=f"{error.ename}: {error.evalue}",
            source=error.source,
        )
    except Exception as error:  # noqa: BLE001 - a dead kernel or a timeout fails this lab only
        return result("failed", error=f"{type(error).__name__}: {error}")
    return result("passed")


def run_results_folder(out_dir: Path) -> Path:
    """Where the labs of the run in ``out_dir`` record their numbers."""
    return (out_dir / "results").resolve()


@contextlib.contextmanager
def recording_into(folder: Path) -> Iterator[None]:
    """Point ``MLLAB_RESULTS`` at ``folder`` while the labs run (the kernels inherit it)."""
    before = os.environ.get("MLLAB_RESULTS")
    os.environ["MLLAB_RESULTS"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLLAB_RESULTS", None)
        else:
            os.environ["MLLAB_RESULTS"] = before


def run_labs(
    only: str | list[str] | None = None,
    parameters: dict[str, Any] | None = None,
    out: str | Path | None = None,
    labs_dir: Path = LABS,
) -> RunSummary:
    """Run the selected labs in order into ``out`` (default ``runs/<timestamp>``)."""
    from tqdm.auto import tqdm  # deferred: only a run shows a progress bar

    notebooks = select(discover(labs_dir), only)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = Path(out) if out else RUNS / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = RunSummary(out=str(out_dir), started_at=stamp)
    with recording_into(run_results_folder(out_dir)):
        bar = tqdm(notebooks, desc="labs", unit="lab")
        for notebook in bar:
            bar.set_postfix_str(notebook.name)
            try:
                result = run_lab(notebook, out_dir, parameters or {})
            finally:  # also when the run is interrupted: leave nothing running
                after_lab(notebook, bar.write)
            summary.results.append(result)
            bar.write(
                f"{result.status:>6}  {notebook.name}  {result.duration_s:7.1f} s"
                + (f"  cell {result.failed_cell}: {result.error}" if result.error else "")
            )
            write_report(summary, out_dir)
    return summary


def after_lab(notebook: Path, say: Callable[[str], object] = print) -> str | None:
    """Run the clean-up :data:`AFTER_LAB` has for ``notebook``'s lab, if any, and say what it
    did; a clean-up that raises is said, never raised (the next lab still runs)."""
    undo = AFTER_LAB.get(lab_id(notebook))
    if undo is None:
        return None
    try:
        done = undo()
    except Exception as error:  # noqa: BLE001 — the runner goes on; the line says what failed
        done = f"failed: {type(error).__name__}: {error}"
    say(f"        clean-up after {notebook.name}: {done}")
    return done


def write_report(summary: RunSummary, out_dir: Path) -> tuple[Path, Path]:
    """``summary.json`` and ``report.html`` for the run (rewritten after every lab), from this
    run's results folder only."""
    recorded = load_all(run=run_results_folder(out_dir))
    rows = claims_table(recorded)
    data = asdict(summary) | {"recorded": recorded.as_dict(), "claims": rows_as_dicts(rows)}
    json_path = out_dir / "summary.json"
    json_path.write_text(json.dumps(data, indent=2, default=str))
    html_path = out_dir / "report.html"
    html_path.write_text(render_html(summary, rows))
    return json_path, html_path
