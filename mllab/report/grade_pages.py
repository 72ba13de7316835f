"""The grade table (CSV and HTML) and one feedback page per student, from the grading rows.

Each row is a dataclass with ``student, lab, exercise, points, max_points, feedback``
(``grading.GradeRow``); this module only writes them out.
"""

from __future__ import annotations

import csv
import html
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

COLUMNS = ["student", "lab", "exercise", "points", "max_points", "feedback"]

STYLE = """<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
td.zero { background: #fde8e8; } td.full { background: #e8f6e8; }
</style>"""


def _points(row: dict[str, Any]) -> str:
    kind = "full" if row["points"] >= row["max_points"] else "zero" if not row["points"] else ""
    return f'<td class="{kind}">{row["points"]:g} / {row["max_points"]:g}</td>'


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = [
            _points(row) if c == "points" else f"<td>{html.escape(str(row[c]))}</td>"
            for c in columns
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"{STYLE}</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """``grades.csv``: one line per student, lab and exercise."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({c: row[c] for c in COLUMNS} for row in rows)
    return path


def student_page(
    student: str, rows: list[dict[str, Any]], feedback: dict[str, Path], path: Path
) -> Path:
    """One student's exercises, total and links to nbgrader's feedback page of each lab."""
    got = sum(r["points"] for r in rows)
    most = sum(r["max_points"] for r in rows)
    links = "".join(
        f'<li><a href="{html.escape(os.path.relpath(page, path.parent))}">lab {lab}</a></li>'
        for lab, page in sorted(feedback.items())
    )
    body = (
        f"<p>Total: {got:g} / {most:g} points.</p>"
        + _table(rows, ["lab", "exercise", "points", "feedback"])
        + (f"<h2>Your notebooks, graded (nbgrader feedback)</h2><ul>{links}</ul>" if links else "")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(f"Feedback for {student}", body))
    return path


def write_tables(
    rows: list[Any], feedback: dict[str, dict[str, Path]], out_dir: Path
) -> dict[str, str]:
    """``grades.csv``, ``grades.html`` and ``students/<student>.html`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = [asdict(row) for row in rows]
    files = {"csv": str(write_csv(data, out_dir / "grades.csv"))}
    links = []
    for student in sorted({r["student"] for r in data}):
        mine = [r for r in data if r["student"] == student]
        page = student_page(
            student, mine, feedback.get(student, {}), out_dir / "students" / f"{student}.html"
        )
        files[f"student:{student}"] = str(page)
        links.append(
            f'<li><a href="students/{html.escape(page.name)}">{html.escape(student)}</a></li>'
        )
    body = _table(data, COLUMNS) + f"<h2>Feedback pages</h2><ul>{''.join(links)}</ul>"
    (out_dir / "grades.html").write_text(_page("Grades", body))
    files["html"] = str(out_dir / "grades.html")
    return files
