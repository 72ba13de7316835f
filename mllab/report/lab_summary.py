"""What this run showed, printed by a lab's closing cell: computed from the run's records.

For one lab: each claim the lab judges (the claims :data:`~mllab.report.claims.CLAIMS` assigns
to it, and those its notebook judges with ``judge("C…")``) with its verdict's kind and its
figure, judged by :mod:`mllab.report.claims` from this run's records; then every step of the
lab's records whose :class:`~mllab.core.outcome.Outcome` did not run, with its reason; then
what the lab recorded. Nothing here states a result of its own: a lab that recorded nothing
says so. The words around the verdicts follow ``MLLAB_LANG`` (:func:`lab_plan.language`); the
verdicts themselves are the judges' words.

Each facade binds both ends of its lab::

    plan, summary = lab_pages("05")     # lab05.plan() opens the lab, lab05.summary() ends it
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mllab.core import tables
from mllab.core.paths import LABS
from mllab.core.records import Results, load_all
from mllab.report import lab_plan
from mllab.report.claims import CLAIMS, ClaimRow, judge
from mllab.report.verdict import Kind

#: the longest line of the summary, a claim's line included (the full text: ``labNN.judge``)
WIDTH = tables.WIDTH
#: the most reasons for not-run steps listed, one per line (the rest are counted)
MAX_NOT_RUN = 8
_JUDGED = re.compile(r"""judge\(\s*["'](C\d+)["']""")

KIND_WORDS: dict[str, dict[Kind, str]] = {
    "en": {
        "holds": "holds",
        "holds in part": "holds in part",
        "does not hold": "does not hold",
        "not measured here": "not measured here",
    },
    "ru": {
        "holds": "выполняется",
        "holds in part": "выполняется частично",
        "does not hold": "не выполняется",
        "not measured here": "здесь не измерено",
    },
}
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "What this run showed — lab {lab} (records in {folder}):",
        "claims": "The lecture's claims this lab judges:",
        "no_claims": "This lab judges none of the lecture's claims; its records are below.",
        "not_run": "Not measured in this run, and why:",
        "alike": " and {n} more like it",
        "more": "… and {n} more reasons (see the records)",
        "all_ran": "Every step this lab recorded ran.",
        "recorded": "Recorded: {names} ({n} records).",
        "nothing": "Nothing recorded yet for lab {lab} in {folder}: run the cells above first.",
    },
    "ru": {
        "title": "Что показал этот запуск — лабораторная {lab} (записи в {folder}):",
        "claims": "Утверждения лекции, которые оценивает эта лабораторная:",
        "no_claims": "Эта лабораторная не оценивает утверждений лекции; её записи ниже.",
        "not_run": "Не измерено в этом запуске, и почему:",
        "alike": " и ещё {n} таких же",
        "more": "… и ещё причин: {n} (см. записи)",
        "all_ran": "Каждый записанный этой лабораторной шаг выполнен.",
        "recorded": "Записано: {names} (записей: {n}).",
        "nothing": "Для лабораторной {lab} в {folder} пока ничего не записано: сначала "
        "выполните ячейки выше.",
    },
}


def judged_in(lab: str, labs_dir: Path = LABS) -> set[str]:
    """The claims lab ``lab``'s notebook judges (``judge("C7", ...)`` in its code cells)."""
    path = lab_plan.notebook_of(lab, labs_dir)
    notebook = lab_plan.read_notebook(path) if path is not None else None
    found: set[str] = set()
    for cell in (notebook or {}).get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            found |= set(_JUDGED.findall("".join(source) if isinstance(source, list) else source))
    return found


def lab_claims(lab: str, labs_dir: Path = LABS) -> list[str]:
    """The claims of lab ``lab``, in the claims' order: those the table assigns to it and
    those its notebook judges (C4 is judged in lab 04 and in lab 06)."""
    judged = judged_in(lab, labs_dir)
    return [c.id for c in CLAIMS if c.lab == lab or c.id in judged]


def not_run(fields: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every stored outcome under ``fields`` that did not run: (where, "not run: why")."""
    if isinstance(fields, Mapping):
        status = fields.get("status")
        if status in ("not run", "failed") and isinstance(fields.get("reason"), str):
            yield where, f"{status}: {fields['reason']}"
            return
        for key, value in fields.items():
            yield from not_run(value, f"{where}.{key}")
    elif isinstance(fields, list):
        for i, value in enumerate(fields):
            yield from not_run(value, f"{where}[{i}]")


def by_reason(missing: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The not-run steps grouped by their reason, in the order met: one GPU missing is one
    line, not one per configuration that needed it."""
    grouped: dict[str, list[str]] = {}
    for where, why in missing:
        grouped.setdefault(why, []).append(where)
    return grouped


def _short(text: str, width: int = WIDTH) -> str:
    """``text`` on one line, cut at a word before ``width`` characters."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    return line[: width - 1].rsplit(" ", 1)[0] + " …"


def _claim_line(row: ClaimRow, lang: str) -> str:
    kind = KIND_WORDS[lang][row.verdict.kind]
    head = f"  {row.id:<4} {kind} — "
    return head + _short(row.verdict.text, WIDTH - len(head))


def summary_text(
    lab: str, results: Results | None = None, lang: str | None = None, labs_dir: Path = LABS
) -> str:
    """The closing summary of lab ``lab`` from ``results`` (default: this run's records)."""
    lang = lang or lab_plan.language()
    words = WORDS[lang]
    results = results if results is not None else load_all()
    records = results.labs.get(lab) or {}
    lines = [words["title"].format(lab=lab, folder=results.folder)]
    claims = lab_claims(lab, labs_dir)
    if claims:
        lines.append(words["claims"])
        lines += [_claim_line(judge(claim, results), lang) for claim in claims]
    elif records:
        lines.append(words["no_claims"])
    if not records:
        lines.append(words["nothing"].format(lab=lab, folder=results.folder))
        return "\n".join(lines)
    missing = by_reason(
        m for name, fields in records.items() for m in not_run(fields, f"{lab}:{name}")
    )
    if missing:
        lines.append(words["not_run"])
        for why, places in list(missing.items())[:MAX_NOT_RUN]:
            alike = words["alike"].format(n=len(places) - 1) if len(places) > 1 else ""
            lines += [f"  {places[0]}{alike}:", f"      {_short(why, WIDTH - 6)}"]
        if len(missing) > MAX_NOT_RUN:
            lines.append("  " + words["more"].format(n=len(missing) - MAX_NOT_RUN))
    else:
        lines.append(words["all_ran"])
    lines.append(words["recorded"].format(names=", ".join(records), n=len(records)))
    return tables.fold("\n".join(lines))


def lab_pages(lab: str) -> tuple[Callable[[], None], Callable[..., None]]:
    """``plan`` and ``summary`` for lab ``lab``'s facade: the opening and closing cells."""

    def plan() -> None:
        """Print about how long this lab takes here: reading, and computing in the last run."""
        print(tables.fold(lab_plan.plan_text(lab)))  # wrapped at the table width

    def summary(results: Results | None = None) -> None:
        """Print what this run showed: each claim this lab judges with its verdict, what was
        not measured and why, and what was recorded (``results``: default this run's)."""
        print(summary_text(lab, results))

    return plan, summary
