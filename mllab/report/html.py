"""The kit's one HTML renderer: escaping, tables, links, lists and the page skeleton.

Every page the kit writes (a run's ``report.html``, :mod:`mllab.report.run_page`; the grade
table and each student's feedback page, :mod:`mllab.report.grade_pages`) is built from these
pieces, so all are escaped the same way and share one style sheet. Text is escaped where it is
put into a page; what is already HTML (a link, a list, a table) travels as :class:`Markup`, so
nothing is escaped twice and nothing is inserted unescaped by accident.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: one style sheet for every page: row classes of the run report (a lab's status, a claim's
#: verdict) and cell classes of the grade table (no points, full points)
STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    "pre{margin:0;white-space:pre-wrap}"
    ".failed,.does-not-hold,td.zero{background:#fdd}.passed,.holds,td.full{background:#dfd}"
    ".holds-in-part{background:#ffd}"
    ".not-measured-here{color:#666}"
)


@dataclass(frozen=True)
class Markup:
    """HTML that is already rendered (escaped where it had to be): inserted as it is."""

    html: str

    def __add__(self, other: Markup) -> Markup:
        return Markup(self.html + other.html)


@dataclass(frozen=True)
class Cell:
    """A table cell with a CSS class (``td.zero`` of the grade table)."""

    value: object
    css: str = ""


def render(value: object) -> str:
    """``value`` as HTML: :class:`Markup` as it is, anything else as escaped text (``&<>``;
    quotes only matter inside attributes, which :func:`link` and the classes escape fully)."""
    return value.html if isinstance(value, Markup) else html.escape(str(value), quote=False)


def _class(css: str) -> str:
    return f" class='{html.escape(css)}'" if css else ""


def element(tag: str, content: object = "", css: str = "") -> Markup:
    """``<tag class='css'>content</tag>``, the content escaped unless it is :class:`Markup`."""
    return Markup(f"<{tag}{_class(css)}>{render(content)}</{tag}>")


def link(href: str, text: object) -> Markup:
    """``<a href='href'>text</a>``, both escaped."""
    return Markup(f"<a href='{html.escape(href)}'>{render(text)}</a>")


def bullets(items: Iterable[object]) -> Markup:
    """An unordered list, one ``<li>`` per item."""
    return element("ul", Markup("".join(element("li", item).html for item in items)))


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    row_classes: Iterable[str] | None = None,
) -> Markup:
    """A table with a header row; each row's cells in the order of ``columns`` (a
    :class:`Cell` carries its own class); ``row_classes``: one CSS class per row."""
    classes = iter(row_classes) if row_classes is not None else None
    head = "".join(element("th", column).html for column in columns)
    body = []
    for row in rows:
        cells = "".join(
            element("td", c.value, c.css).html if isinstance(c, Cell) else element("td", c).html
            for c in row
        )
        css = next(classes, "") if classes is not None else ""
        body.append(f"<tr{_class(css)}>{cells}</tr>")
    return Markup(f"<table><tr>{head}</tr>{''.join(body)}</table>")


def page(title: str, *parts: object) -> str:
    """A whole self-contained page: ``title`` as its title and first heading, then ``parts``
    (text is escaped, :class:`Markup` inserted as it is)."""
    body = "".join(render(part) for part in parts)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{render(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{render(title)}</h1>{body}</body></html>"
    )
