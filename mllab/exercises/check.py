"""The self-check behind every exercise: run the student's function safely, compare its answer
with the kit's reference, and say on screen what happened.

A lab's self-check cell calls one function of ``mllab.exercises.labNN``, which calls
:func:`self_check`; the cell then goes on with ``checked.value``::

    checked = lab01.check_export(export_with_dynamic_batch)
    model = checked.value  # the student's result if it passed, else the kit's reference

What is printed, never a traceback:

* ``✓ ex01_export: passed — <what was checked>``
* ``✗ ex01_export: <what is wrong>`` + the lecture section to reread + "the lab goes on with the
  kit's reference"
* ``… ex01_export: not done yet: the lab goes on with the kit's reference`` (the function still
  raises ``NotImplementedError``, as nbgrader's student edition leaves it)

A comparison function ``compare(answer, reference)`` returns ``None`` when the answer is right
and one sentence saying what is wrong otherwise; :func:`expect_equal` and :func:`expect_close`
are the common ones. The hidden test of the notebook (``assert checked.passed``) is what gives
the points; the self-check itself never raises for anything the student's code does.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mllab.core.tables import fold
from mllab.exercises.messages import render

Compare = Callable[[Any, Any], "str | None"]

PASS, FAIL, TODO = "✓", "✗", "…"
NOT_DONE = "not done yet: the lab goes on with the kit's reference"
FALLBACK = "the lab goes on with the kit's reference"
_MAX_TEXT = 200  # one line on a notebook's screen


@dataclass
class Check:
    """How one exercise went.

    ``exercise`` is its grade_id (``ex01_export``); ``done`` is False when the student's function
    still raises ``NotImplementedError``; ``passed`` when its answer matched the reference;
    ``message`` the line printed (what is wrong, or what was checked); ``section`` the lecture
    section to reread, by its heading; ``value`` the student's answer if it passed, else the
    kit's reference (so the rest of the lab always has a right value to go on with).
    """

    exercise: str
    done: bool
    passed: bool
    message: str
    section: str
    value: Any = None

    SCHEMA_VERSION: ClassVar[int] = 1

    def __str__(self) -> str:
        # in the student's language (MLLAB_LANG); ``message`` itself stays English for graders
        marks = (PASS, FAIL, TODO)
        return render(self.exercise, self.done, self.passed, self.message, self.section, marks)


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def describe_error(error: BaseException, function: Callable | None = None) -> str:
    """``ValueError: msg (line 4 of export_with_dynamic_batch)``: one line, the line number taken
    from the deepest frame of ``function``'s own code (the student's cell), if any."""
    where = ""
    code = getattr(function, "__code__", None)
    if code is not None:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.name == code.co_name]
        frames = [f for f in frames if f.filename == code.co_filename] or frames
        if frames and frames[-1].lineno is not None:
            line = frames[-1].lineno - code.co_firstlineno + 1
            where = f" (line {line} of {code.co_name})"
    message = str(error).strip()
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return _one_line(text) + where


def self_check(
    exercise: str,
    student: Callable[..., Any],
    args: Sequence[Any] = (),
    *,
    reference: Callable[[], Any],
    compare: Compare,
    section: str,
    kwargs: Mapping[str, Any] | None = None,
    passed: str | Callable[[Any], str] = "the answer matches the kit's reference",
    blame: Callable | None = None,
    quiet: bool = False,
) -> Check:
    """Call ``student(*args, **kwargs)``, compare with ``reference()`` and print the outcome.

    ``reference`` is a function of no arguments giving the kit's answer (called once, also when
    the student's function failed, since the lab goes on with it); ``compare(answer, reference)``
    returns None when right, else what is wrong. ``passed`` is the line shown on success (or a
    function of the answer making it). Any exception from the student's function or from
    comparing its answer becomes a one-line message; a ``KeyboardInterrupt`` while the student's
    function runs (the stop button, a grader's time limit) fails this exercise only, and the lab
    goes on with the reference. ``blame`` is the student's own function
    when ``student`` is a wrapper calling it (its line is named in an error). Returns the
    :class:`Check`.
    """
    try:
        answer = student(*args, **dict(kwargs or {}))
    except NotImplementedError:
        return _report(Check(exercise, False, False, NOT_DONE, section, reference()), quiet)
    except KeyboardInterrupt:  # the stop button, or a grader's time limit: this answer only
        message = "interrupted (stop button or time limit): does your function ever return?"
        return _report(Check(exercise, True, False, message, section, reference()), quiet)
    except (Exception, SystemExit) as error:  # noqa: BLE001 — the student's code: anything
        message = f"your function raised {describe_error(error, blame or student)}"
        return _report(Check(exercise, True, False, message, section, reference()), quiet)
    expected = reference()
    try:
        wrong = compare(answer, expected)
    except Exception as error:  # noqa: BLE001 — an answer of the wrong type or shape
        wrong = f"the answer could not be checked: {describe_error(error)}"
    if wrong:
        return _report(Check(exercise, True, False, _one_line(wrong), section, expected), quiet)
    line = passed(answer) if callable(passed) else passed
    return _report(Check(exercise, True, True, _one_line(line), section, answer), quiet)


def _report(check: Check, quiet: bool) -> Check:
    if not quiet:
        print(fold(str(check)))  # a 230-character message is a wall: wrapped at the table width
    return check


def over_cases(function: Callable[..., Any], cases: Sequence[tuple]) -> Callable[[], list]:
    """A student function of no arguments that answers every case: ``[function(*case), ...]``
    (pass ``blame=function`` to :func:`self_check` so that an error names its line)."""
    return lambda: [function(*case) for case in cases]


def expect_cases(
    name: str, cases: Sequence[tuple], check: Compare, labels: Sequence[str] | None = None
) -> Compare:
    """A comparison of :func:`over_cases` answers: the first case where ``check(answer,
    reference)`` finds something wrong is named, as ``name(arg, ...): <what is wrong>``, or by
    its label (``labels``, one per case, for arguments too long to show)."""

    def compare(answers: Any, references: list[Any]) -> str | None:  # answers: the student's
        if not isinstance(answers, list) or len(answers) != len(references):
            return f"{name}: expected one answer per case, got {show(answers)}"
        for i, (answer, reference) in enumerate(zip(answers, references, strict=True)):
            wrong = check(answer, reference)
            if wrong:
                args = ", ".join(show(a) for a in cases[i])
                where = f"on {labels[i]}" if labels else f"({args})"
                return f"{name} {where}: {wrong}" if labels else f"{name}{where}: {wrong}"
        return None

    return compare


def show(value: Any) -> str:
    """A short text of a value for a message (arrays by shape, long texts cut)."""
    if isinstance(value, np.ndarray) and value.size > 6:
        return f"an array of shape {value.shape}"
    return _one_line(repr(value))


def expect_equal(what: str) -> Compare:
    """A comparison: the answer must equal the reference (``what`` names it in the message)."""

    def compare(answer: Any, reference: Any) -> str | None:
        if answer == reference:
            return None
        return f"{what}: expected {show(reference)}, got {show(answer)}"

    return compare


def expect_close(what: str, rtol: float = 1e-6, atol: float = 0.0) -> Compare:
    """A comparison of numbers or arrays: same shape and ``|a − r| ≤ atol + rtol·|r|``."""

    def compare(answer: Any, reference: Any) -> str | None:
        if answer is None:
            return f"{what}: the function returned None (a missing return?)"
        got, ref = np.asarray(answer, dtype=np.float64), np.asarray(reference, dtype=np.float64)
        if got.shape != ref.shape:
            return f"{what}: expected shape {ref.shape}, got {got.shape}"
        if np.allclose(got, ref, rtol=rtol, atol=atol):
            return None
        return f"{what}: expected {show(reference)}, got {show(answer)}"

    return compare
