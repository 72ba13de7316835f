"""A lab's opening line (``labNN.plan()``): reading time from the notebook's own words, and
computing time from the newest executed copy of that notebook under ``runs/`` — or "not run yet
here" — in English or Russian."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mllab.report.lab_plan import (
    READING_WPM,
    last_run,
    plan_text,
    reading_minutes,
    word_count,
)

NAME = "05_toy.ipynb"


def _notebook(words: int, russian_words: int = 0, papermill: dict[str, Any] | None = None):
    text = {"cell_type": "markdown", "source": " ".join(["word"] * words), "metadata": {}}
    if russian_words:
        text["metadata"] = {"mllab": {"ru": " ".join(["слово"] * russian_words)}}
    code = {"cell_type": "code", "source": ["x = 1\n", "print(x)"], "metadata": {}}
    return {"cells": [text, code], "metadata": {"papermill": papermill} if papermill else {}}


def _write(path: Path, notebook: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook))
    return path


def _executed(runs: Path, stamp: str, duration: float, **meta: Any) -> Path:
    papermill = {"duration": duration, "start_time": f"2026-12-0{stamp}T10:00:00+00:00"} | meta
    return _write(runs / stamp / NAME, _notebook(10, papermill=papermill))


@pytest.fixture
def labs(tmp_path: Path) -> Path:
    _write(tmp_path / "labs" / NAME, _notebook(READING_WPM * 6 - 4, russian_words=READING_WPM))
    return tmp_path / "labs"


def test_words_are_the_text_in_the_readers_language_and_the_code():
    notebook = _notebook(100, russian_words=30)
    assert word_count(notebook, "en") == 100 + 4  # "x", "=", "1", "print(x)"
    assert word_count(notebook, "ru") == 30 + 4
    assert word_count(_notebook(100), "ru") == 100 + 4  # no translation: its own text


def test_reading_minutes_round_and_never_say_zero():
    assert reading_minutes(READING_WPM * 10) == 10
    assert reading_minutes(READING_WPM * 10 + READING_WPM // 2 + 1) == 11
    assert reading_minutes(3) == 1


def test_a_lab_not_run_here_says_so(labs: Path, tmp_path: Path):
    text = plan_text("05", "en", labs, tmp_path / "runs")
    assert text.startswith(f"Lab 05: about 6 min of reading ({READING_WPM * 6:,} words")
    assert f"computing: not run yet here (no executed copy of {NAME} under " in text


def test_computing_time_comes_from_the_newest_executed_copy(labs: Path, tmp_path: Path):
    runs = tmp_path / "runs"
    _executed(runs, "1", 600.0)
    _executed(runs, "3", 185.0)
    _executed(runs, "2", 30.0)
    _write(runs / "4" / "06_other.ipynb", _notebook(1, papermill={"duration": 1.0}))
    found = last_run(NAME, runs)
    assert found is not None and found.duration_s == 185.0 and found.finished
    text = plan_text("05", "en", labs, runs)
    assert "computing: 3 min in the last run here (2026-12-03 10:00 UTC, default parameters)." in (
        text
    )


def test_a_run_with_parameters_or_an_error_is_said_as_such(labs: Path, tmp_path: Path):
    runs = tmp_path / "runs"
    _executed(runs, "1", 42.0, parameters={"REPEATS": 2})
    assert "42 s in the last run here (2026-12-01 10:00 UTC, parameters REPEATS=2)" in plan_text(
        "05", "en", labs, runs
    )
    _executed(runs, "2", 300.0, exception=True)
    text = plan_text("05", "en", labs, runs)
    assert "not run to the end here yet" in text and "after 5 min" in text


def test_russian_counts_the_russian_text(labs: Path, tmp_path: Path):
    text = plan_text("05", "ru", labs, tmp_path / "runs")
    assert text.startswith("Лабораторная 05: чтение — около 1 мин (текст и код, слов: 134;")
    assert "здесь ещё не запускалась" in text


def test_a_lab_without_its_notebook_says_where_it_looked(tmp_path: Path):
    text = plan_text("07", "en", tmp_path, tmp_path / "runs")
    assert text.startswith(f"Lab 07: its notebook was not found under {tmp_path}")


def test_the_real_labs_have_a_reading_time(tmp_path: Path):
    text = plan_text("05", "en", runs_dir=tmp_path)
    assert text.startswith("Lab 05: about ") and "not run yet here" in text
