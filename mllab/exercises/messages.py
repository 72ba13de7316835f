"""The self-check's words in the student's language: English (the default) or Russian.

Why a catalogue of whole message templates, and why at print time only:

* A check's :attr:`~mllab.exercises.check.Check.message` stays English: the hidden tests and
  the instructor read it (``hidden.py`` tells an interrupted answer by its first word). Only
  what the student sees, ``str(check)``, is rendered in the chosen language, so a Russian
  edition grades exactly as the English one. So are the hidden cases' words in the grader's
  feedback (group names, case labels, reasons: ``HiddenResult.shown``), in the language the
  grader sets from the submission's edition; their records stay English.
* The exercise modules (``mllab/exercises/labNN.py``) keep writing their messages as plain
  English f-strings, in one place each. The Russian version of every such template lives in
  :mod:`mllab.exercises.messages_ru`, keyed by the template itself as its source spells it
  (each ``{…}`` of the f-string written ``{}``). ``tests/labs/test_russian_edition.py`` reads
  the modules' source and fails when a message template has no Russian version, so a new
  message cannot slip through untranslated.
* A shown message is matched against the templates, and again inside what each ``{}``
  captured (messages nest: ``expect_cases`` wraps a comparison's words, a hint is appended);
  of the readings, the one whose templates explain the most of the text wins, and each match is
  rewritten into its Russian template. In a Russian template ``{}`` is the captured text,
  translated in turn; ``{=}`` is the captured text as it is (a value, a name). Text that no
  template explains (values, identifiers, an exception's own words) is left as it is.

The language is the environment variable ``MLLAB_LANG`` (``ru`` or ``en``) of the kernel: the
Russian student edition sets it in its first cell after the parameters (``%env MLLAB_LANG=ru``),
which works alike under JupyterLab, nbclient and nbgrader's grading run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache, lru_cache

from mllab.exercises.messages_ru import CATALOGUE

LANG_ENV = "MLLAB_LANG"
LANGUAGES = ("en", "ru")
DEFAULT = "en"

#: the words around a check's own message, by language: ``{exercise}``, ``{message}``,
#: ``{section}`` are filled in; these are what every self-check prints
FRAME: dict[str, dict[str, str]] = {
    "en": {
        "passed": "{exercise}: passed — {message}",
        "not_done": "not done yet: the lab goes on with the kit's reference",
        "todo": "{exercise}: {not_done}.\n  Lecture: {section}",
        "failed": "{exercise}: {message}\n  Reread the lecture: {section}\n  {fallback}.",
        "fallback": "The lab goes on with the kit's reference",
        "hidden": "hidden cases: {share} of the points ({passed}/{groups} groups)",
    },
    "ru": {
        "passed": "{exercise}: выполнено — {message}",
        "not_done": "ещё не сделано: лабораторная работа продолжается с эталонным решением mllab",
        "todo": "{exercise}: {not_done}.\n  Лекция: {section}",
        "failed": ("{exercise}: {message}\n  Перечитайте в лекции: {section}\n  {fallback}."),
        "fallback": "Лабораторная работа продолжается с эталонным решением mllab",
        "hidden": "скрытые случаи: {share} баллов (групп пройдено: {passed} из {groups})",
    },
}


def language() -> str:
    """The language of the self-check's words: ``MLLAB_LANG`` (``ru``, ``ru_RU.UTF-8``, ``en``)
    when it names one of :data:`LANGUAGES`, else English."""
    value = os.environ.get(LANG_ENV, "").strip().lower()[:2]
    return value if value in LANGUAGES else DEFAULT


def frame(key: str, lang: str | None = None) -> str:
    """One of the :data:`FRAME` texts in ``lang`` (default: :func:`language`)."""
    return FRAME[lang or language()][key]


@dataclass(frozen=True)
class Template:
    """An English message template and its Russian version, compiled for matching."""

    english: str
    russian: str
    pattern: re.Pattern[str]
    weight: int  # how many literal characters it fixes: the most specific template wins


def _compile(english: str, russian: str) -> Template:
    parts = english.split("{}")
    regex = ""
    for i, part in enumerate(parts):
        literal = re.escape(part)
        if i == 0 and part[:1].isalnum():
            literal = r"\b" + literal
        if i == len(parts) - 1 and part[-1:].isalnum():
            literal += r"\b"
        regex += literal
        if i < len(parts) - 1:  # the last hole takes the rest (messages nest at their end)
            regex += "(.*)" if i == len(parts) - 2 and not parts[-1] else "(.*?)"
    return Template(english, russian, re.compile(regex, re.S), len(english) - 2 * (len(parts) - 1))


@cache
def templates() -> tuple[Template, ...]:
    """The catalogue's compiled templates, the most specific first (the first of equally good
    readings wins); those whose fixed text has no letter (``{}: {}``) would match anything and
    are left out."""
    compiled = [
        _compile(english, russian)
        for english, russian in CATALOGUE.items()
        if re.search(r"[^\W\d_]", english.replace("{}", ""))
    ]
    return tuple(sorted(compiled, key=lambda t: -t.weight))


def translate(text: str) -> str:
    """``text`` (an English message) with every catalogued template in it in Russian; text no
    template covers (values, names, code) stays as it is."""
    return _parse(text)[1]


@lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[int, str]:
    """(how many characters of ``text`` templates explain, its translation), choosing among
    the templates that match the reading that explains the most: messages nest (a wrapper's
    holes hold the inner messages), and a generic wrapper (``{}: expected {}, got {}``) must
    not win over a specific message that merely contains its words."""
    if not text.strip():
        return 0, text
    best = (0, text)
    for template in templates():
        match = template.pattern.search(text)
        if match is None:
            continue
        head, tail = _parse(text[: match.start()]), _parse(text[match.end() :])
        covered, pieces, holes = template.weight + head[0] + tail[0], [], iter(match.groups())
        for piece in re.split(r"(\{=?\})", template.russian):
            if piece in ("{}", "{=}"):
                group = next(holes, "")
                inner = _parse(group) if piece == "{}" else (0, group)
                covered += inner[0]
                pieces.append(inner[1])
            else:
                pieces.append(piece)
        if covered > best[0]:
            best = (covered, head[1] + "".join(pieces) + tail[1])
    return best


def localize(text: str, lang: str | None = None) -> str:
    """A message as the student sees it: translated when the language is Russian."""
    return translate(text) if (lang or language()) == "ru" else text


def render(
    exercise: str,
    done: bool,
    passed: bool,
    message: str,
    section: str,
    marks: tuple[str, str, str],
    lang: str | None = None,
) -> str:
    """The lines a self-check prints (``marks``: the passed, failed and not-done signs)."""
    lang = lang or language()
    words = FRAME[lang]
    fields = {
        "exercise": exercise,
        "message": localize(message, lang),
        "section": localize(section, lang),
        "not_done": words["not_done"],
        "fallback": words["fallback"],
    }
    if passed:
        return f"{marks[0]} " + words["passed"].format(**fields)
    if not done:
        return f"{marks[2]} " + words["todo"].format(**fields)
    return f"{marks[1]} " + words["failed"].format(**fields)
