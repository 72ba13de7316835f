"""The strings a module's source shows, as templates: the one scanner behind the tests that
check every student-visible text has its Russian version (the exercises' messages, the
grader's words)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes of ``tree`` (module, classes, functions)."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def templates(
    path: Path, words: str, skip: Callable[[ast.AST], set[int]] | None = None
) -> set[str]:
    """Every string of ``path`` whose text (holes blanked) matches ``words``, docstrings and
    the nodes ``skip(tree)`` names left out; each ``{…}`` of an f-string or a ``str.format``
    text written ``{}``."""
    tree = ast.parse(path.read_text())
    left_out = docstrings(tree) | (skip(tree) if skip else set())
    inside = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = set()
    for node in ast.walk(tree):
        if id(node) in left_out or id(node) in inside:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = re.sub(r"\{[^{}]*\}", "{}", node.value)
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        else:
            continue
        if re.search(words, text.replace("{}", " ")):
            found.add(text)
    return found
