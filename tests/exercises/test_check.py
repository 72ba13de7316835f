"""The self-check every exercise uses: pass, not done, wrong (with the section), and never a
traceback printed, whatever the student's function does."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.exercises.check import (
    NOT_DONE,
    Check,
    describe_error,
    expect_cases,
    expect_close,
    expect_equal,
    over_cases,
    self_check,
)

SECTION = "«Слои образа и кэширование» (test)"


def _check(student, compare=None, **kwargs) -> Check:
    return self_check(
        "ex99_test",
        student,
        (3,),
        reference=lambda: 6,
        compare=compare or expect_close("twice x"),
        section=SECTION,
        **kwargs,
    )


def test_a_right_answer_passes_and_is_the_value(capsys):
    checked = _check(lambda x: 2 * x, passed="doubled")
    assert (checked.done, checked.passed, checked.value) == (True, True, 6)
    out = capsys.readouterr().out
    assert out.startswith("✓ ex99_test: passed — doubled")
    assert SECTION not in out


def test_not_done_goes_on_with_the_reference(capsys):
    def student(x):
        raise NotImplementedError()

    checked = _check(student)
    assert (checked.done, checked.passed, checked.value) == (False, False, 6)
    out = capsys.readouterr().out
    assert NOT_DONE in out and SECTION in out and "Traceback" not in out


def test_a_wrong_answer_says_what_and_where_to_reread(capsys):
    checked = _check(lambda x: x + 2)
    assert (checked.done, checked.passed, checked.value) == (True, False, 6)
    out = capsys.readouterr().out
    assert "✗ ex99_test: twice x: expected 6, got 5" in out
    assert f"Reread the lecture: {SECTION}" in out
    assert "goes on with the kit's reference" in out


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero"),
        (KeyError("numpy"), "KeyError: 'numpy'"),
        (SystemExit(3), "SystemExit: 3"),
    ],
)
def test_any_exception_is_one_line_with_the_students_line(capsys, error, shown):
    def student(x):
        assert x == 3
        raise error

    checked = _check(student)
    assert checked.done and not checked.passed and checked.value == 6
    out = capsys.readouterr().out
    assert f"your function raised {shown} (line 3 of student)" in out
    assert "Traceback" not in out and len(out.splitlines()) == 3


def test_a_comparison_that_raises_is_a_wrong_answer_not_a_crash(capsys):
    checked = _check(lambda x: "six", compare=expect_close("twice x"))
    assert not checked.passed and "could not be checked: ValueError" in checked.message
    assert "Traceback" not in capsys.readouterr().out


def test_an_interrupted_answer_fails_that_exercise_only(capsys):
    """The stop button or a grader's time limit in a loop: this exercise fails, the lab goes on."""

    def student(x):
        raise KeyboardInterrupt

    checked = _check(student)
    assert checked.done and not checked.passed and checked.value == 6
    assert "interrupted" in checked.message
    assert "Traceback" not in capsys.readouterr().out


def test_an_interrupt_outside_the_answer_still_interrupts():
    def reference():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        self_check(
            "ex99_test", lambda: 1, reference=reference, compare=expect_equal("x"), section=SECTION
        )


def test_cases_name_the_failing_case_and_blame_the_students_function(capsys):
    def double(x):
        if x == 2:
            return 1 / 0
        return 2 * x

    cases = [(1,), (5,)]
    checked = self_check(
        "ex99_cases",
        over_cases(double, cases),
        reference=lambda: [2, 10],
        compare=expect_cases("double", cases, expect_equal("twice")),
        section=SECTION,
    )
    assert checked.passed and checked.value == [2, 10]
    wrong = self_check(
        "ex99_cases",
        over_cases(lambda x: x, cases),
        reference=lambda: [2, 10],
        compare=expect_cases("double", cases, expect_equal("twice")),
        section=SECTION,
    )
    assert wrong.message == "double(1): twice: expected 2, got 1"
    raised = self_check(
        "ex99_cases",
        over_cases(double, [(2,)]),
        reference=lambda: [4],
        compare=expect_cases("double", [(2,)], expect_equal("twice")),
        section=SECTION,
        blame=double,
    )
    assert "ZeroDivisionError" in raised.message and "(line 3 of double)" in raised.message
    assert "Traceback" not in capsys.readouterr().out


def test_expect_close_checks_shape_and_values():
    close = expect_close("Δ", rtol=1e-6)
    assert close(np.ones(3), np.ones(3)) is None
    assert "shape" in close(np.ones(2), np.ones(3))
    assert "expected" in close(np.ones(3) * 2, np.ones(3))
    assert "None" in close(None, np.ones(3))


def test_describe_error_without_a_function_is_the_error_alone():
    try:
        raise ValueError("x" * 500)
    except ValueError as error:
        text = describe_error(error)
    assert text.startswith("ValueError: xxx") and len(text) <= 200


def test_check_is_quiet_when_asked(capsys):
    _check(lambda x: 2 * x, quiet=True)
    assert capsys.readouterr().out == ""
