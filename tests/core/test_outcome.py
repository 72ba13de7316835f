"""mllab.core.outcome: ran / not run (why) / failed (error), one text shape everywhere."""

from __future__ import annotations

import pytest

from mllab.core.errors import BuildError
from mllab.core.outcome import Outcome, attempt
from mllab.core.tables import format_table


def test_texts():
    assert str(Outcome.ran()) == "ran"
    assert str(Outcome.not_run("no NVIDIA driver")) == "not run: no NVIDIA driver"
    assert str(Outcome.failed(BuildError("step 3 failed"))) == "failed: BuildError: step 3 failed"
    assert Outcome.ran().ok and not Outcome.not_run("x").ok and not Outcome.failed("y").ok


def test_reason_is_required_and_status_checked():
    with pytest.raises(ValueError):
        Outcome("not run")
    with pytest.raises(ValueError):
        Outcome("skipped", "why")


def test_attempt_catches_expected_errors_only():
    def build(fail: bool) -> str:
        if fail:
            raise BuildError("no space left")
        return "sha256:abc"

    assert attempt(build, False) == (Outcome.ran(), "sha256:abc")
    outcome, value = attempt(build, True)
    assert value is None and str(outcome) == "failed: BuildError: no space left"
    with pytest.raises(ZeroDivisionError):  # a bug is not an outcome
        attempt(lambda: 1 / 0)


def test_tables_show_outcomes_the_same_way():
    rows = [
        {"step": "gpu", "outcome": Outcome.not_run("no GPU")},
        {"step": "cpu", "outcome": Outcome.ran()},
    ]
    text = format_table(rows)
    assert "not run: no GPU" in text and "\ncpu   ran" in text
