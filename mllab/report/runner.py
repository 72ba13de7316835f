"""The lab runner: every notebook in ``labs/`` executed with papermill into a run folder.

``mllab labs run`` never writes the source notebooks. It goes on past a failing lab, writes a
summary (``summary.json`` and ``report.html``: lab, status, duration, the failing cell and its
error, and the numbers the labs recorded) and exits non-zero if any lab failed.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mllab.core.errors import LabFailed, MllabError
from mllab.core.paths import LABS, RUNS

KERNEL = "mllab"
#: a cell may run this long before papermill stops it (image builds are the slowest)
CELL_TIMEOUT_S = 3600


@dataclass
class LabResult:
    """How one lab went."""

    lab: str
    notebook: str
    status: str  # "passed" | "failed"
    duration_s: float
    output: str
    failed_cell: int | None = None
    error: str | None = None
    source: str | None = None  # the failing cell's code


@dataclass
class RunSummary:
    """A whole run: where it lives and how each lab went."""

    out: str
    started_at: str
    results: list[LabResult] = field(default_factory=list)

    @property
    def failed(self) -> list[LabResult]:
        return [r for r in self.results if r.status != "passed"]


def discover(labs_dir: Path = LABS) -> list[Path]:
    """The lab notebooks, in order (``NN_name.ipynb``)."""
    return sorted(p for p in labs_dir.glob("[0-9][0-9]_*.ipynb"))


def lab_id(notebook: Path) -> str:
    """``labs/03_dockerfiles.ipynb`` -> ``"03"``."""
    return notebook.name[:2]


def select(notebooks: list[Path], only: str | list[str] | None) -> list[Path]:
    """Keep the labs named in ``only`` ("00,03" or ["00", "03"]); unknown ids are an error."""
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
    import papermill as pm

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


def run_labs(
    only: str | list[str] | None = None,
    parameters: dict[str, Any] | None = None,
    out: str | Path | None = None,
    labs_dir: Path = LABS,
) -> RunSummary:
    """Run the selected labs in order into ``out`` (default ``runs/<timestamp>``)."""
    from tqdm.auto import tqdm

    notebooks = select(discover(labs_dir), only)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = Path(out) if out else RUNS / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    # the kernels inherit this: labs record their numbers into the run folder
    os.environ["MLLAB_RESULTS"] = str((out_dir / "results").resolve())
    summary = RunSummary(out=str(out_dir), started_at=stamp)
    bar = tqdm(notebooks, desc="labs", unit="lab")
    for notebook in bar:
        bar.set_postfix_str(notebook.name)
        result = run_lab(notebook, out_dir, parameters or {})
        summary.results.append(result)
        bar.write(
            f"{result.status:>6}  {notebook.name}  {result.duration_s:7.1f} s"
            + (f"  cell {result.failed_cell}: {result.error}" if result.error else "")
        )
        write_report(summary, out_dir)
    return summary


def write_report(summary: RunSummary, out_dir: Path) -> tuple[Path, Path]:
    """``summary.json`` and ``report.html`` for the run (rewritten after every lab)."""
    from mllab.core import records as results

    data = asdict(summary) | {"recorded": results.load_all(), "claims": _claims(results.load_all())}
    json_path = out_dir / "summary.json"
    json_path.write_text(json.dumps(data, indent=2, default=str))
    html_path = out_dir / "report.html"
    html_path.write_text(render_html(summary, data["claims"]))
    return json_path, html_path


def _claims(recorded: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The lecture's claims table, when the claims module is part of this kit."""
    try:
        from mllab.report.claims import claims_table
    except ImportError:
        return None
    return claims_table(recorded)


def render_html(summary: RunSummary, claims: list[dict[str, Any]] | None) -> str:
    """A small self-contained HTML page: one row per lab, then the lecture's claims."""
    esc = html.escape
    rows = "".join(
        f"<tr class='{r.status}'><td>{esc(r.lab)}</td><td><a href='{esc(Path(r.output).name)}'>"
        f"{esc(r.notebook)}</a></td><td>{r.status}</td><td>{r.duration_s:.1f} s</td>"
        f"<td>{'' if r.failed_cell is None else r.failed_cell}</td>"
        f"<td><pre>{esc(r.error or '')}</pre></td></tr>"
        for r in summary.results
    )
    table = (
        "<h2>Lab runs</h2><table><tr><th>lab</th><th>notebook</th><th>status</th>"
        f"<th>duration</th><th>failing cell</th><th>error</th></tr>{rows}</table>"
    )
    if claims:
        keys = list(claims[0])
        head = "".join(f"<th>{esc(k)}</th>" for k in keys)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(str(c.get(k, '')))}</td>" for k in keys) + "</tr>"
            for c in claims
        )
        table += (
            f"<h2>The lecture's claims on this machine</h2><table><tr>{head}</tr>{body}</table>"
        )
    style = (
        "body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}"
        ".failed{background:#fdd}.passed{background:#dfd}pre{margin:0;white-space:pre-wrap}"
    )
    title = f"mllab run {esc(summary.started_at)}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}"
        f"</title><style>{style}</style></head><body><h1>{title}</h1>"
        f"<p>{len(summary.results) - len(summary.failed)} passed, {len(summary.failed)} failed; "
        f"folder {esc(summary.out)}</p>{table}</body></html>"
    )


def _cmd_run(args: argparse.Namespace) -> int:
    summary = run_labs(args.only, parse_parameters(args.parameter or []), args.out)
    print(f"{len(summary.results) - len(summary.failed)} passed, {len(summary.failed)} failed")
    print(f"report: {Path(summary.out) / 'report.html'}")
    if summary.failed:
        raise LabFailed(", ".join(f"{r.notebook} ({r.error})" for r in summary.failed))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    for notebook in discover():
        print(notebook.name)
    return 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    """``mllab labs run [--only 00,03] [-p KEY=VALUE ...] [--out DIR]`` and ``mllab labs list``."""
    labs = sub.add_parser("labs", help="run the lab notebooks with papermill")
    actions = labs.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run the labs in order into a run folder")
    run.add_argument("--only", help="comma-separated lab numbers, e.g. 00,03")
    run.add_argument(
        "-p",
        "--parameter",
        action="append",
        metavar="KEY=VALUE",
        help="a parameter for every lab (JSON values: -p BATCHES=[1,8])",
    )
    run.add_argument("--out", help="run folder (default runs/<timestamp>)")
    run.set_defaults(func=_cmd_run)
    listing = actions.add_parser("list", help="list the labs")
    listing.set_defaults(func=_cmd_list)
