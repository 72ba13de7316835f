"""``report.html``: a small self-contained page, one row per lab, then the lecture's claims."""

from __future__ import annotations

import html
from pathlib import Path

from mllab.report.claims import ClaimRow
from mllab.report.summary import RunSummary

STYLE = (
    "body{font-family:sans-serif}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}"
    ".failed{background:#fdd}.passed{background:#dfd}pre{margin:0;white-space:pre-wrap}"
    ".holds{background:#dfd}.does-not-hold{background:#fdd}.not-measured-here{color:#666}"
)


def _labs_table(summary: RunSummary) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr class='{r.status}'><td>{esc(r.lab)}</td><td><a href='{esc(Path(r.output).name)}'>"
        f"{esc(r.notebook)}</a></td><td>{r.status}</td><td>{r.duration_s:.1f} s</td>"
        f"<td>{'' if r.failed_cell is None else r.failed_cell}</td>"
        f"<td><pre>{esc(r.error or '')}</pre></td></tr>"
        for r in summary.results
    )
    return (
        "<h2>Lab runs</h2><table><tr><th>lab</th><th>notebook</th><th>status</th>"
        f"<th>duration</th><th>failing cell</th><th>error</th></tr>{rows}</table>"
    )


def _claims_table(claims: list[ClaimRow]) -> str:
    esc = html.escape
    head = "".join(f"<th>{k}</th>" for k in ("id", "claim", "lecture", "measured", "verdict"))
    body = "".join(
        f"<tr class='{c.verdict.kind.replace(' ', '-')}'><td>{esc(c.id)}</td>"
        f"<td>{esc(c.claim)}</td><td>{esc(c.lecture)}</td><td>{esc(c.measured)}</td>"
        f"<td>{esc(str(c.verdict))}</td></tr>"
        for c in claims
    )
    return f"<h2>The lecture's claims on this machine</h2><table><tr>{head}</tr>{body}</table>"


def render_html(summary: RunSummary, claims: list[ClaimRow]) -> str:
    """The run's page: counts, the labs table and (when judged) the claims table."""
    esc = html.escape
    title = f"mllab run {esc(summary.started_at)}"
    tables = _labs_table(summary) + (_claims_table(claims) if claims else "")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}"
        f"</title><style>{STYLE}</style></head><body><h1>{title}</h1>"
        f"<p>{summary.passed} passed, {len(summary.failed)} failed; "
        f"folder {esc(summary.out)}</p>{tables}</body></html>"
    )
