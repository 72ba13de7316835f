"""Helpers for the exercise tests: the reference solutions as the source notebooks hold them."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import FunctionType

import nbformat
import pytest

from mllab.core.paths import ROOT


def notebook_solution(lab: str, grade_id: str, names: dict | None = None) -> Callable:
    """The function defined by the exercise cell ``grade_id`` of ``labs/<lab>*.ipynb`` (the
    instructor edition: with its solution), executed with ``names`` as its globals."""
    (path,) = sorted((ROOT / "labs").glob(f"{lab}_*.ipynb"))
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            namespace = dict(names or {})
            before = set(namespace)
            exec(compile(cell.source, f"{path.name}:{grade_id}", "exec"), namespace)
            new = [v for k, v in namespace.items() if k not in before and not k.startswith("__")]
            (function,) = [v for v in new if isinstance(v, FunctionType)]  # imports aside
            return function
    raise AssertionError(f"{path.name} has no exercise cell {grade_id!r}")


def not_done(*_args, **_kwargs):
    """What nbgrader's student edition leaves in an exercise."""
    # YOUR CODE HERE
    raise NotImplementedError()


@pytest.fixture
def solution() -> Callable[..., Callable]:
    """``solution("01", "ex01_delta")``: the function of that exercise cell, solution included."""
    return notebook_solution


@pytest.fixture(name="not_done")
def not_done_fixture() -> Callable:
    """A student's function as nbgrader's student edition leaves it."""
    return not_done


def headings(text: str) -> set[str]:
    """The section headings (``# ...`` lines) of the lecture's ``text``."""
    return {line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")}


@pytest.fixture(name="cited_headings")
def cited_headings_fixture(
    lecture_text: Callable[..., str],
) -> Callable[[str], tuple[list[str], set[str]]]:
    """``cited_headings(section)``: the headings a self-check's section cites in «», and the
    lecture's headings (``lecture_text``, tests/conftest.py: skipped where the lecture is
    absent)."""
    return lambda section: (re.findall(r"«([^»]+)»", section), headings(lecture_text()))
