"""The grade table (CSV and HTML), one feedback page per student, and the class summary.

Each row is a dataclass with ``student, lab, exercise, points, max_points, feedback, section,
details`` (``grading.GradeRow``); this module only writes them out. What a student reads is
the reason in words (which case failed and what was expected), the lecture section to reread
and, per group of hidden cases, ✓ or ✗ — never a test's code. The class summary gives, per
exercise, the points (mean, and a histogram as a bar of characters) and the most common
reasons for lost points. A student's page is written in the language of the edition they
worked in (each row's ``lang``; :mod:`mllab.report.grade_words`); the instructor's tables and
summary keep English names.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mllab.report.edition_language import DEFAULT
from mllab.report.grade_words import say
from mllab.report.html import Cell, Markup, bullets, element, link, page, table

COLUMNS = ["student", "lab", "exercise", "points", "max_points", "feedback", "section"]
SUMMARY_COLUMNS = [
    "lab",
    "exercise",
    "max_points",
    "students",
    "mean_points",
    "full",
    "partial",
    "zero",
    "histogram",
    "common_reasons",
]
#: how many of the most common reasons the summary names per exercise
TOP_REASONS = 3
#: a reason in the summary is cut to this length
REASON_CHARS = 160
BAR = "█"


def _points(row: dict[str, Any]) -> Cell:
    """``2 / 5``, green at full points, red at none."""
    kind = "full" if row["points"] >= row["max_points"] else "zero" if not row["points"] else ""
    return Cell(f"{row['points']:g} / {row['max_points']:g}", kind)


def _feedback(row: dict[str, Any]) -> Markup:
    """The reason, then the groups of hidden cases and any note, one per line."""
    lines = [element("span", row["feedback"])] + [element("div", d) for d in row["details"]]
    return Markup("".join(line.html for line in lines))


def _table(
    rows: list[dict[str, Any]], columns: list[str], headers: list[str] | None = None
) -> Markup:
    """The rows under ``headers`` (the column names when None)."""

    def value(row: dict[str, Any], column: str) -> object:
        if column == "points":
            return _points(row)
        return _feedback(row) if column == "feedback" else row[column]

    return table(headers or columns, [[value(row, c) for c in columns] for row in rows])


def _write_csv(rows: list[dict[str, Any]], columns: list[str], path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows({c: row[c] for c in columns} for row in rows)
    return path


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """``grades.csv``: one line per student, lab and exercise."""
    return _write_csv(rows, COLUMNS, path)


def page_language(rows: list[dict[str, Any]]) -> str:
    """The language of a student's page: that of most of their rows (the edition they
    worked in; English when the rows say none)."""
    found = Counter(str(r.get("lang") or DEFAULT) for r in rows).most_common(1)
    return found[0][0] if found else DEFAULT


def student_page(student: str, rows: list[dict[str, Any]], path: Path) -> Path:
    """One student's exercises and total: points, what went wrong, the section to reread;
    in the language of the student's edition (:func:`page_language`)."""
    lang = page_language(rows)
    got = sum(r["points"] for r in rows)
    most = sum(r["max_points"] for r in rows)
    columns = ["lab", "exercise", "points", "feedback", "section"]
    parts: list[object] = [
        element("p", say("total", lang, got=f"{got:g}", most=f"{most:g}")),
        _table(rows, columns, [say(f"col {c}", lang) for c in columns]),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(say("feedback for", lang, student=student), *parts))
    return path


def reason_kind(feedback: str) -> str:
    """A reason without its particular numbers and cases, so that alike reasons count together
    (``on a sweep at batches [1, 2] ...: expected ...`` of one group becomes the group's name)."""
    case = re.split(r": (?:on|на) ", feedback, maxsplit=1)[0]  # the Russian edition's "на"
    kind = re.sub(r"\b\d+(\.\d+)?\b", "N", case)
    return kind if len(kind) <= REASON_CHARS else kind[: REASON_CHARS - 1] + "…"


def histogram(points: list[float], most: float) -> str:
    """``0:▇▇ 1:▇ 2:▇▇▇▇`` — how many students got each number of points (all from 0 up to
    the exercise's points on a whole-point grid, the rest as they came)."""
    counts = Counter(points)
    marks = sorted(set(counts) | {float(p) for p in range(int(most) + 1)})
    return " ".join(f"{m:g}:{BAR * counts.get(m, 0) or '·'}" for m in marks)


def summary_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per lab and exercise: points (mean, full, partial, none, histogram) and the most common
    reasons for points lost."""
    keys = sorted({(r["lab"], r["exercise"]) for r in rows})
    found = []
    for lab, exercise in keys:
        mine = [r for r in rows if (r["lab"], r["exercise"]) == (lab, exercise)]
        most = max(r["max_points"] for r in mine)
        points = [float(r["points"]) for r in mine]
        lost = Counter(reason_kind(r["feedback"]) for r in mine if r["points"] < r["max_points"])
        common = "; ".join(f"{kind} ({n})" for kind, n in lost.most_common(TOP_REASONS))
        found.append(
            {
                "lab": lab,
                "exercise": exercise,
                "max_points": most,
                "students": len(mine),
                "mean_points": round(sum(points) / len(points), 3),
                "full": sum(p >= most for p in points),
                "partial": sum(0 < p < most for p in points),
                "zero": sum(p == 0 for p in points),
                "histogram": histogram(points, most),
                "common_reasons": common,
            }
        )
    return found


def write_summary(rows: list[dict[str, Any]], out_dir: Path) -> dict[str, str]:
    """``summary.csv`` and ``summary.html``: the class, per exercise."""
    summary = summary_rows(rows)
    csv_path = _write_csv(summary, SUMMARY_COLUMNS, out_dir / "summary.csv")
    cells = [
        [Cell(row[c], "histogram") if c == "histogram" else row[c] for c in SUMMARY_COLUMNS]
        for row in summary
    ]
    html_path = out_dir / "summary.html"
    html_path.write_text(page("Class summary", table(SUMMARY_COLUMNS, cells)))
    return {"summary_csv": str(csv_path), "summary_html": str(html_path)}


def write_tables(rows: list[Any], out_dir: Path) -> dict[str, str]:
    """``grades.csv``, ``grades.html``, ``students/<student>.html`` and the class summary
    under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = [asdict(row) for row in rows]
    files = {"csv": str(write_csv(data, out_dir / "grades.csv"))}
    links = []
    for student in sorted({r["student"] for r in data}):
        mine = [r for r in data if r["student"] == student]
        student_file = student_page(student, mine, out_dir / "students" / f"{student}.html")
        files[f"student:{student}"] = str(student_file)
        links.append(link(f"students/{student_file.name}", student))
    files.update(write_summary(data, out_dir))
    grades = page(
        "Grades",
        _table(data, COLUMNS),
        element("p", link("summary.html", "Class summary")),
        element("h2", "Feedback pages"),
        bullets(links),
    )
    (out_dir / "grades.html").write_text(grades)
    files["html"] = str(out_dir / "grades.html")
    return files
