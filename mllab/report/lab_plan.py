"""How long a lab takes, printed by its opening cell: reading and computing, both measured.

Reading time is computed from the lab's own notebook: the words of its text (in the reader's
language) and of its code, at :data:`READING_WPM` words a minute. Computing time is what the
newest executed copy of this very notebook under ``runs/`` took (papermill writes the duration,
the start time and the parameters into the copy's metadata), or "not run yet here" — never a
figure written into the kit by hand, since it depends on the machine and on what is cached.

The language is the kernel's ``MLLAB_LANG`` (``ru`` or ``en``), which the Russian student
edition sets in its setup cell; :mod:`mllab.exercises.messages` reads the same variable for the
self-check messages (a sibling layer this module may not import, hence :func:`language`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mllab.core.paths import LABS, RUNS
from mllab.report.edition_language import DEFAULT, LANG_ENV, LANGUAGES

#: words a minute for a lab's text and code: technical prose with formulas and code reads at
#: well under the 200–250 words a minute of plain prose; this is a planning rate, not a claim
READING_WPM = 130
_WORD = re.compile(r"\S+")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "line": "Lab {lab}: about {reading} of reading ({words} words of text and code at "
        "{wpm} words a minute); computing: {computing}.",
        "no_notebook": "Lab {lab}: its notebook was not found under {labs}; "
        "computing: {computing}.",
        "thousands": ",",
        "minutes": "{n} min",
        "seconds": "{n} s",
        "ran": "{took} in the last run here ({when}, {params})",
        "defaults": "default parameters",
        "with": "parameters {params}",
        "not_run": "not run yet here (no executed copy of {name} under {runs})",
        "not_finished": "not run to the end here yet (the last copy under {runs} stopped on an "
        "error after {took})",
    },
    "ru": {
        "line": "Лабораторная {lab}: чтение — около {reading} (текст и код, слов: {words}; "
        "{wpm} слов в минуту); вычисления: {computing}.",
        "no_notebook": "Лабораторная {lab}: её ноутбук не найден в {labs}; вычисления: "
        "{computing}.",
        "thousands": "\u00a0",  # 2 338: a (no-break) space groups thousands in Russian
        "minutes": "{n} мин",
        "seconds": "{n} с",
        "ran": "{took} в последнем запуске здесь ({when}, {params})",
        "defaults": "параметры по умолчанию",
        "with": "параметры {params}",
        "not_run": "здесь ещё не запускалась (в {runs} нет выполненной копии {name})",
        "not_finished": "здесь ещё не выполнена до конца (последняя копия в {runs} остановилась "
        "на ошибке через {took})",
    },
}


def language() -> str:
    """``MLLAB_LANG`` (``ru``, ``ru_RU.UTF-8``, ``en``) when it names a language the kit has,
    else English — as the self-check messages read it."""
    value = os.environ.get(LANG_ENV, "").strip().lower()[:2]
    return value if value in LANGUAGES else DEFAULT


def notebook_of(lab: str, labs_dir: Path = LABS) -> Path | None:
    """``labs/05_gpu_batching.ipynb`` for ``"05"`` (None when there is none)."""
    found = sorted(labs_dir.glob(f"{lab}_*.ipynb"))
    return found[0] if found else None


def read_notebook(path: Path) -> dict[str, Any] | None:
    """A notebook as plain JSON (no validation: an executed copy may be large), or None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # a copy being written, or not a notebook
        return None
    return data if isinstance(data, dict) else None


def word_count(notebook: dict[str, Any], lang: str = DEFAULT) -> int:
    """The words a reader reads in a notebook: each text cell in ``lang`` (its translation in
    ``metadata.mllab``, else its own text) and each code cell; outputs are not counted."""
    words = 0
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "markdown" and lang != DEFAULT:
            text = str(cell.get("metadata", {}).get("mllab", {}).get(lang) or text)
        words += len(_WORD.findall(text))
    return words


def reading_minutes(words: int, wpm: int = READING_WPM) -> int:
    """Whole minutes to read ``words`` at ``wpm`` (at least 1)."""
    return max(1, round(words / wpm))


@dataclass(frozen=True)
class LastRun:
    """The newest executed copy of a lab under ``runs/``: how long it ran, when, with what."""

    path: Path
    duration_s: float
    started: str  # ISO time papermill wrote
    parameters: dict[str, Any]
    finished: bool  # False: papermill recorded an exception


def last_run(name: str, runs_dir: Path = RUNS) -> LastRun | None:
    """The newest copy of the notebook ``name`` that papermill executed under ``runs_dir``
    (``runs/<stamp>/<name>``), by its start time; None when there is none."""
    found: list[LastRun] = []
    for path in runs_dir.glob(f"*/{name}") if runs_dir.is_dir() else []:
        meta = ((read_notebook(path) or {}).get("metadata") or {}).get("papermill") or {}
        if isinstance(meta.get("duration"), int | float) and meta.get("start_time"):
            parameters = meta.get("parameters") or {}
            finished = not meta.get("exception")
            found.append(LastRun(path, meta["duration"], meta["start_time"], parameters, finished))
    return max(found, key=lambda run: run.started) if found else None


def _took(seconds: float, words: dict[str, str]) -> str:
    if seconds < 90:
        return words["seconds"].format(n=round(seconds))
    return words["minutes"].format(n=round(seconds / 60))


def _when(started: str) -> str:
    try:
        return datetime.fromisoformat(started).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return started


def computing_text(name: str, lang: str = DEFAULT, runs_dir: Path = RUNS) -> str:
    """The computing half of the plan: the last run's duration here, or why there is none."""
    words = WORDS[lang]
    run = last_run(name, runs_dir)
    if run is None:
        return words["not_run"].format(name=name, runs=runs_dir)
    took = _took(run.duration_s, words)
    if not run.finished:
        return words["not_finished"].format(runs=runs_dir, took=took)
    shown = ", ".join(f"{k}={v!r}" for k, v in run.parameters.items())
    params = words["with"].format(params=shown) if shown else words["defaults"]
    return words["ran"].format(took=took, when=_when(run.started), params=params)


def plan_text(
    lab: str, lang: str | None = None, labs_dir: Path = LABS, runs_dir: Path = RUNS
) -> str:
    """The opening line of lab ``lab``: about how long reading it and computing it take here."""
    lang = lang or language()
    words = WORDS[lang]
    path = notebook_of(lab, labs_dir)
    notebook = read_notebook(path) if path is not None else None
    if path is None or notebook is None:
        computing = words["not_run"].format(name=f"{lab}_*.ipynb", runs=runs_dir)
        return words["no_notebook"].format(lab=lab, labs=labs_dir, computing=computing)
    count = word_count(notebook, lang)
    reading = words["minutes"].format(n=reading_minutes(count))
    computing = computing_text(path.name, lang, runs_dir)
    shown = f"{count:,}".replace(",", words["thousands"])
    return words["line"].format(
        lab=lab, reading=reading, words=shown, wpm=READING_WPM, computing=computing
    )
