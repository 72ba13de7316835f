"""Issue 18: a lab's prose asks what to look for and states no result. A sentence of a text cell
that puts a measured-looking quantity (ms, ×, %, requests/s, MB …) beside words that place it in
this run ("here", "this run", "we measured", "здесь", "в этом запуске" …) states a result that
the code should compute and print instead. Goals, the lecture's own figures and questions are
allowed: they say what to compare with, not what came out."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from mllab.core.paths import LABS
from mllab.report import runner

NOTEBOOKS = runner.discover(LABS)
IDS = [nb.name for nb in NOTEBOOKS]

QUANTITY = re.compile(
    r"(?<![\w.])[~≈]?\d+(?:[.,]\d+)?\s?"
    r"(?:ms|мс|s\b|с\b|×|x\b|%|req/s|img/s|requests/s|MB|GB|MiB|KB|МБ|ГБ)"
)
HERE = re.compile(
    r"\b(here|this run|on this machine|we measured|was measured|came out|turned out)\b"
    r"|(здесь|в этом запуске|на этой машине|мы измерили|получилось|оказалось)",
    re.IGNORECASE,
)
#: what a sentence may hold beside a quantity and still state no result
ALLOWED = re.compile(r"\b(goal|aims?|lecture|expect\w*)\b|цель|лекци|ожида|\?", re.IGNORECASE)


def stated_results(text: str) -> list[str]:
    """The sentences of ``text`` that state a result of this run in words."""
    sentences = re.split(r"(?<=[.!?;])\s+", re.sub(r"\s+", " ", text))
    return [s for s in sentences if QUANTITY.search(s) and HERE.search(s) and not ALLOWED.search(s)]


def test_the_check_finds_a_result_written_into_prose():
    assert stated_results("Read the table. Here the server took 63 ms per request.")
    assert stated_results("В этом запуске контейнер оказался на 3 % медленнее.")
    assert not stated_results("Compare what you measured here with the goal of 1.15×.")
    assert not stated_results("Is the p99 here above 100 ms?")
    assert not stated_results("The naive image is about 10 GB.")  # a cost, not this run's result


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_a_labs_prose_states_no_result(notebook: Path):
    cells = nbformat.read(notebook, as_version=4).cells
    found = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        russian = cell.metadata.get("mllab", {}).get("ru", "")
        found += [f"cell {index}: {s}" for s in stated_results(cell.source + " " + russian)]
    assert not found, "prose that states this run's result (print it from the record):\n" + (
        "\n".join(found)
    )
