"""``report.html``: a run's page, one row per lab, then the lecture's claims (rendered by
:mod:`mllab.report.html`)."""

from __future__ import annotations

from pathlib import Path

from mllab.report.claims import ClaimRow
from mllab.report.html import Markup, element, link, page, table
from mllab.report.summary import RunSummary


def _labs_table(summary: RunSummary) -> Markup:
    rows = [
        [
            r.lab,
            link(Path(r.output).name, r.notebook),
            r.status,
            f"{r.duration_s:.1f} s",
            "" if r.failed_cell is None else r.failed_cell,
            element("pre", r.error or ""),
        ]
        for r in summary.results
    ]
    columns = ["lab", "notebook", "status", "duration", "failing cell", "error"]
    return element("h2", "Lab runs") + table(columns, rows, [r.status for r in summary.results])


def _claims_table(claims: list[ClaimRow]) -> Markup:
    rows = [[c.id, c.claim, c.lecture, c.measured, str(c.verdict)] for c in claims]
    kinds = [c.verdict.kind.replace(" ", "-") for c in claims]
    return element("h2", "The lecture's claims on this machine") + table(
        ["id", "claim", "lecture", "measured", "verdict"], rows, kinds
    )


def render_html(summary: RunSummary, claims: list[ClaimRow]) -> str:
    """The run's page: counts, the labs table and (when judged) the claims table."""
    counts = f"{summary.passed} passed, {len(summary.failed)} failed; folder {summary.out}"
    tables = _labs_table(summary) + (_claims_table(claims) if claims else Markup(""))
    return page(f"mllab run {summary.started_at}", element("p", counts), tables)
