"""Plain-text tables: the one formatter behind every table a lab or a command prints.

Numbers are right-aligned with 4 significant digits, booleans read ``yes``/``no``, an
:class:`~mllab.core.outcome.Outcome` reads as ``ran`` / ``not run: why`` / ``failed: error``,
and a missing cell is empty. A cell longer than ``MAX_CELL`` characters is cut with "…" (a
330-character row wraps into a wall; the whole text stays in the record the row came from), and
a table wider than ``WIDTH`` is printed as stacked parts, each repeating the first (key) column.
:func:`hanging` wraps a labelled line of prose (a claim's verdict) at the same width.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

from mllab.core.outcome import Outcome

MAX_CELL = 72  # characters of one cell; a longer one is cut (format_table's max_cell)
#: characters of a printed line: a notebook's output cell shows about this much without
#: scrolling, so a wider table is split into parts and a long verdict is wrapped
WIDTH = 100
SEPARATOR = "  "  # between two columns
#: a space between a figure and its unit ("46.5 ms", "1410 MB/s"): :func:`hanging` keeps them on
#: one line, so a wrapped verdict never leaves a unit alone at the start of a line
_UNIT = re.compile(r"(?<=\d) (?=[^\W\d_][\w/%]{0,3}\b)")
_GLUE = "\ue000"  # a private-use character textwrap does not break at


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
    rows: Sequence[Any],
    columns: Sequence[str] | None = None,
    max_cell: int | None = MAX_CELL,
    width: int | None = WIDTH,
) -> str:
    """Rows (mappings or dataclasses) as an aligned table under a header and a rule line; a
    cell over ``max_cell`` characters is cut with "…" (None: never). A table wider than
    ``width`` characters (None: never split) is printed as several tables one under the other,
    each repeating the first (key) column, the other columns in their order (see
    :func:`column_parts`); a narrower table is one table."""
    if not rows:
        return "(no rows)"
    mapped = [_as_row(r) for r in rows]
    columns = list(columns or mapped[0].keys())
    cells = [[cut(cell(row.get(c)), max_cell) for c in columns] for row in mapped]
    numeric = [
        all(
            isinstance(row.get(c), int | float) and not isinstance(row.get(c), bool)
            for row in mapped
            if row.get(c) is not None
        )
        for c in columns
    ]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str], part: Sequence[int]) -> str:
        texts = [
            values[i].rjust(widths[i]) if numeric[i] else values[i].ljust(widths[i]) for i in part
        ]
        return SEPARATOR.join(texts).rstrip()

    rule = ["-" * w for w in widths]

    def table(part: Sequence[int]) -> str:
        return "\n".join(line(values, part) for values in [columns, rule, *cells])

    return "\n\n".join(table(part) for part in column_parts(widths, width))


def column_parts(widths: Sequence[int], width: int | None = WIDTH) -> list[list[int]]:
    """Which columns (indices) each stacked part of a table shows: all of them when the table
    fits in ``width`` (or ``width`` is None); else the first (key) column, then as many of the
    next columns, in order, as fit beside it. A column too wide to fit even beside the key
    gets a part of its own (wider than ``width``: a cell is cut at ``max_cell``, never here)."""
    everything = list(range(len(widths)))
    if width is None or _span(widths, everything) <= width:
        return [everything]
    parts: list[list[int]] = []
    part = [0]
    for index in everything[1:]:
        if len(part) > 1 and _span(widths, [*part, index]) > width:
            parts.append(part)
            part = [0]
        part.append(index)
    parts.append(part)
    return parts


def _span(widths: Sequence[int], part: Sequence[int]) -> int:
    """The printed width of the columns ``part`` side by side."""
    return sum(widths[i] for i in part) + len(SEPARATOR) * (len(part) - 1)


def cut(text: str, limit: int | None = MAX_CELL) -> str:
    """``text`` cut to ``limit`` characters with "…" (None: never)."""
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def few(names: Iterable[str], shown: int = 10) -> str:
    """The first ``shown`` names, then how many more: ``a, b, c … and 180 more`` (a list of
    190 package names is a wall; its length and a sample are what a reader needs)."""
    listed = list(names)
    head = ", ".join(listed[:shown])
    rest = len(listed) - shown
    return f"{head} … and {rest} more" if rest > 0 else head


def hanging(label: str, text: str, width: int | None = WIDTH, indent: str | None = None) -> str:
    """``label`` then ``text``, wrapped at ``width`` characters (None: one line per paragraph)
    with a hanging indent: later lines start under the text, not under the label (or with
    ``indent``, where given).

    ``  verdict:  holds: …`` stays readable at 100 characters instead of a 300-character
    line; words are never split (a digest or a path longer than a line stays whole), nor at
    hyphens (``--cpus`` stays one word), and the text's own line breaks are kept."""
    indent = " " * len(label) if indent is None else indent
    lines: list[str] = []
    for number, paragraph in enumerate(text.split("\n")):
        first = label if number == 0 else indent
        if width is None or len(first) + len(paragraph) <= width or not paragraph.strip():
            lines.append((first + paragraph).rstrip())
            continue
        glued = _UNIT.sub(_GLUE, paragraph)  # "46.5 ms" is one word to textwrap
        filled = textwrap.fill(
            glued,
            width=width,
            initial_indent=first,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.append(filled.replace(_GLUE, " "))
    return "\n".join(lines)


def fold(text: str, width: int | None = WIDTH, indent: str = "  ") -> str:
    """Every line of ``text`` wider than ``width`` wrapped at words, its later lines indented
    by ``indent`` more than the line itself: a long sentence printed by a lab (a check's message,
    an error, a list of record names) stays readable without scrolling."""
    folded = []
    for line in text.split("\n"):
        body = line.lstrip(" ")
        lead = line[: len(line) - len(body)]
        folded.append(hanging(lead, body, width, indent=lead + indent))
    return "\n".join(folded)


def labelled(label: str, value: Any, width: int | None = WIDTH, shown: int | None = None) -> str:
    """``label`` and ``value`` as readable, wrapped text instead of a Python repr: a mapping
    reads ``key value, key value``, a list or set ``a, b, c`` (its first ``shown`` items and
    how many more, see :func:`few`, where given); later lines start under the value
    (``IDs: first sha256:ed4e…, cached …``)."""
    if isinstance(value, Mapping):
        text = ", ".join(f"{k} {cell(v)}" for k, v in value.items())
    elif isinstance(value, list | tuple | set | frozenset):
        items = [cell(v) for v in value]
        text = ", ".join(items) if shown is None else few(items, shown)
    else:
        text = cell(value)
    if not label:  # a sentence alone: its later lines indented, under nothing
        return hanging("", text or "none", width, indent="  ")
    return hanging(f"{label} ", text or "none", width)
