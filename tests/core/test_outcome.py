"""mllab.core.outcome: ran / not run (why) / failed (error), one text shape everywhere."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mllab.core.errors import BuildError, IntegrityError, MllabError
from mllab.core.outcome import Outcome, attempt
from mllab.core.records import load, record
from mllab.core.tables import format_table


@dataclass
class Step:
    """A record holding an outcome, as the labs' records do."""

    outcome: Outcome


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


class TagTaken(BuildError):
    """A kit error two levels below MllabError, to see the whole chain kept."""


def test_a_failed_outcome_keeps_its_errors_type_and_bases():
    outcome = Outcome.failed(TagTaken("1.0.0-build.7 already holds another image"))
    assert outcome.error_types == ("TagTaken", "BuildError", "MllabError")
    assert outcome.failed_with(TagTaken) and outcome.failed_with(BuildError)
    assert outcome.failed_with(MllabError) and outcome.failed_with(IntegrityError, TagTaken)
    assert not outcome.failed_with(IntegrityError)
    assert str(outcome) == "failed: TagTaken: 1.0.0-build.7 already holds another image"


def test_only_an_error_gives_a_type():
    assert not Outcome.failed("TagTaken: typed by hand").failed_with(TagTaken)  # text: no type
    assert not Outcome.ran().failed_with(MllabError)
    assert not Outcome.not_run("IntegrityError in the reason").failed_with(IntegrityError)
    assert Outcome.failed(OSError("disk")).error_types == ("OSError",)  # no Exception, object
    with pytest.raises(ValueError):
        Outcome("not run", "why", ("MllabError",))


def test_the_type_survives_a_record_and_equality_stays_the_texts(tmp_path, monkeypatch):
    monkeypatch.setenv("MLLAB_RESULTS", str(tmp_path))
    failed = Outcome.failed(IntegrityError("sha256 differs"))
    record("99", Step(failed))
    stored = load("99")["Step"]["outcome"]
    assert stored["error_types"] == ["IntegrityError", "MllabError"]
    back = Outcome(**stored)
    assert back.failed_with(IntegrityError) and str(back) == str(failed)
    assert hash(back) == hash(failed) and back == Outcome.failed("IntegrityError: sha256 differs")
    version_1 = Outcome(**{"status": "failed", "reason": "IntegrityError: sha256 differs"})
    assert not version_1.failed_with(IntegrityError)  # stored before the type was kept


def test_attempt_keeps_the_type():
    def verify() -> None:
        raise IntegrityError("the model's sha256 differs")

    outcome, _ = attempt(verify)
    assert outcome.failed_with(IntegrityError) and not outcome.failed_with(BuildError)
