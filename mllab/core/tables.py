"""Plain-text tables: the one formatter behind every table a lab or a command prints.

Numbers are right-aligned with 4 significant digits, booleans read ``yes``/``no``, an
:class:`~mllab.core.outcome.Outcome` reads as ``ran`` / ``not run: why`` / ``failed: error``,
and a missing cell is empty. A cell longer than ``MAX_CELL`` characters is cut with "…" (a
330-character row wraps into a wall; the whole text stays in the record the row came from).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

from mllab.core.outcome import Outcome

MAX_CELL = 72  # characters of one cell; a longer one is cut (format_table's max_cell)


def cell(value: Any) -> str:
    """One value as table text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Outcome):
        return str(value)
    return str(value)


def _as_row(row: Any) -> Mapping[str, Any]:
    if isinstance(row, Mapping):
        return row
    if is_dataclass(row) and not isinstance(row, type):
        return {f.name: getattr(row, f.name) for f in fields(row)}  # Outcome cells stay Outcomes
    raise TypeError(f"a table row is a mapping or a dataclass, not {type(row).__name__}")


def format_table(
    rows: Sequence[Any], columns: Sequence[str] | None = None, max_cell: int | None = MAX_CELL
) -> str:
    """Rows (mappings or dataclasses) as an aligned table under a header and a rule line; a
    cell over ``max_cell`` characters is cut with "…" (None: never)."""
    if not rows:
        return "(no rows)"
    mapped = [_as_row(r) for r in rows]
    columns = list(columns or mapped[0].keys())
    cells = [[_cut(cell(row.get(c)), max_cell) for c in columns] for row in mapped]
    numeric = [
        all(
            isinstance(row.get(c), int | float) and not isinstance(row.get(c), bool)
            for row in mapped
            if row.get(c) is not None
        )
        for c in columns
    ]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


def _cut(text: str, limit: int | None) -> str:
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def few(names: Iterable[str], shown: int = 10) -> str:
    """The first ``shown`` names, then how many more: ``a, b, c … and 180 more`` (a list of
    190 package names is a wall; its length and a sample are what a reader needs)."""
    listed = list(names)
    head = ", ".join(listed[:shown])
    rest = len(listed) - shown
    return f"{head} … and {rest} more" if rest > 0 else head
