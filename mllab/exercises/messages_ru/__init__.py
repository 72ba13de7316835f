"""The Russian version of every self-check message template (see :mod:`mllab.exercises.messages`),
one module per exercise module.

Keys are the English templates as the modules write them, each ``{…}`` of an f-string (or of a
``str.format`` template) written ``{}``; values are the Russian templates, ``{}`` for a captured
part that is translated in turn and ``{=}`` for one kept as it is. The lecture's terms and
headings are used as the lecture spells them («Параллелизм и batch-инференс», образ, контейнер,
слой, ONNX Runtime, latency, throughput); code identifiers are never translated.
``tests/labs/test_russian_edition.py`` fails when a module of :data:`MODULES` writes a message
that has no entry here: the hidden cases' words too (group names, case labels, reasons), which
the grader's feedback shows a student of the Russian edition.
"""

from __future__ import annotations

from mllab.exercises.messages_ru import (
    check,
    hidden,
    lab00,
    lab01,
    lab02,
    lab03,
    lab03_stop,
    lab04,
    lab05,
    lab06,
    lab07,
    lab08,
)

#: the modules whose every message has a Russian version here (the test reads their source)
MODULES = (
    "check",
    "hidden",
    "hidden_cases",
    "hidden_measured",
    "hidden_run",
    "lab00",
    "lab01",
    "lab02",
    "lab03",
    "lab03_stop",
    "lab04",
    "lab05",
    "lab06",
    "lab07",
    "lab08",
)

_PARTS = (check, hidden, lab00, lab01, lab02, lab03, lab03_stop, lab04, lab05, lab06, lab07, lab08)
#: every English template of :data:`MODULES` -> its Russian template
CATALOGUE: dict[str, str] = {
    english: russian for part in _PARTS for english, russian in part.RU.items()
}
