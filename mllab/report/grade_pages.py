"""The grade table (CSV and HTML) and one feedback page per student, from the grading rows.

Each row is a dataclass with ``student, lab, exercise, points, max_points, feedback``
(``grading.GradeRow``); this module only writes them out.
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mllab.report.html import Cell, Markup, bullets, element, link, page, table

COLUMNS = ["student", "lab", "exercise", "points", "max_points", "feedback"]


def _points(row: dict[str, Any]) -> Cell:
    """``2 / 5``, green at full points, red at none."""
    kind = "full" if row["points"] >= row["max_points"] else "zero" if not row["points"] else ""
    return Cell(f"{row['points']:g} / {row['max_points']:g}", kind)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> Markup:
    cells = [[_points(row) if c == "points" else row[c] for c in columns] for row in rows]
    return table(columns, cells)


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
    links = [
        link(os.path.relpath(page_path, path.parent), f"lab {lab}")
        for lab, page_path in sorted(feedback.items())
    ]
    parts: list[object] = [
        element("p", f"Total: {got:g} / {most:g} points."),
        _table(rows, ["lab", "exercise", "points", "feedback"]),
    ]
    if links:
        parts += [element("h2", "Your notebooks, graded (nbgrader feedback)"), bullets(links)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(f"Feedback for {student}", *parts))
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
        student_file = student_page(
            student, mine, feedback.get(student, {}), out_dir / "students" / f"{student}.html"
        )
        files[f"student:{student}"] = str(student_file)
        links.append(link(f"students/{student_file.name}", student))
    grades = page("Grades", _table(data, COLUMNS), element("h2", "Feedback pages"), bullets(links))
    (out_dir / "grades.html").write_text(grades)
    files["html"] = str(out_dir / "grades.html")
    return files
