"""The kit's one polling loop (:func:`mllab.core.poll.until`): it returns the first truthy value,
says what it waited for when the time is up, and never hides an error of the check."""

from __future__ import annotations

import time

import pytest

from mllab.core.errors import MllabError
from mllab.core.poll import TimedOut, until


def test_returns_the_first_truthy_value_after_polling():
    answers = iter([None, 0, "", "ready", "later"])
    calls = []

    def check() -> str | int | None:
        calls.append(1)
        return next(answers)

    assert until(check, timeout=5, interval=0.001) == "ready"
    assert len(calls) == 4  # stopped at the first truthy value


def test_checks_at_least_once_even_without_time():
    assert until(lambda: 42, timeout=0) == 42


def test_timeout_raises_timed_out_naming_the_wait_and_the_last_value():
    start = time.monotonic()
    with pytest.raises(TimedOut, match=r"the registry did not happen within 0.05 s") as error:
        until(lambda: [], timeout=0.05, interval=0.01, what="the registry")
    assert "last seen: []" in str(error.value)
    assert isinstance(error.value, MllabError)  # the CLI prints it as a kit error
    assert 0.05 <= time.monotonic() - start < 1.0  # slept in steps, not past the deadline


def test_default_is_returned_instead_of_raising_on_timeout():
    assert until(lambda: False, timeout=0.02, interval=0.005, default=None) is None
    assert until(lambda: 0, timeout=0, default="gave up") == "gave up"


def test_an_exception_of_the_check_propagates_at_once():
    calls = []

    def check() -> bool:
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("the container exited")
        return False

    with pytest.raises(ValueError, match="the container exited"):
        until(check, timeout=10, interval=0.001, default=False)
    assert len(calls) == 2
