"""Lab 08's self-checks: the notebook's solutions pass, an unfinished exercise is "not done", a
planted wrong answer fails with its hint; made-up registry tags and timelines only (no Docker)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from mllab.exercises import lab08
from mllab.exercises.hidden_cases import SPECS
from mllab.exercises.hidden_run import run_groups


@pytest.fixture
def next_version(solution):
    """The notebook's reference solution of ex01_next_version."""
    return solution("08", "ex01_next_version", {"re": re})


@pytest.fixture
def rollout_verdict(solution):
    """The notebook's reference solution of ex02_rollout_verdict."""
    return solution("08", "ex02_rollout_verdict")


#: a registry repository after the pipeline pushed 1.0.0 build 28 and 1.1.0 build 28
PUSHED = ["1.0.0-build.27", "1.0.0-build.28", "1.1.0-build.28", "demo"]


def test_the_kit_rule_on_the_made_up_tags():
    answers = [lab08.reference_next_version(*case) for case in lab08.MADE_UP_TAGS]
    assert answers == [
        "1.0.0-build.28",
        None,
        "1.0.0-build.11",
        "1.1.0-build.4",
        "1.0.0-build.1",
        "1.0.0-build.29",
        None,
        None,
    ]


def test_next_version_reference_passes(next_version, capsys):
    checked = lab08.check_next_version(next_version, PUSHED, "1.1.0", 28)
    assert checked.passed
    assert checked.value == [None, "1.1.0-build.29", "1.2.0-build.28"]
    assert "✓ ex01_next_version: passed — on the registry's tags" in capsys.readouterr().out


def test_next_version_not_done_goes_on_with_the_kit(capsys, not_done):
    checked = lab08.check_next_version(not_done, PUSHED, "1.0.0", 28)
    assert not checked.done and checked.value == [None, "1.0.0-build.29", None]
    out = capsys.readouterr().out
    assert "not done yet" in out and "Traceback" not in out


def _overwrites(tags, release, build):
    return f"{release}-build.{build if build is not None else 1}"


def _string_max(tags, release, build):
    if build is None:
        mine = sorted(t for t in tags if re.fullmatch(rf"{re.escape(release)}-build\.\d+", t))
        build = int(mine[-1].rsplit(".", 1)[1]) + 1 if mine else 1
    tag = f"{release}-build.{build}"
    return None if tag in tags else tag


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [  # overwrites an existing tag; the highest build by string order; a wrong format
        (_overwrites, "a tag that exists is never pushed again"),
        (_string_max, "build.10 comes after build.9"),
        (lambda tags, release, build: f"{release}.{build}", "expected '1.0.0-build.28'"),
        (lambda tags, release, build: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_next_version_wrong_answer_fails_with_its_hint(capsys, wrong, hint):
    checked = lab08.check_next_version(wrong, PUSHED, "1.1.0", 28)
    assert checked.done and not checked.passed
    assert checked.value == [None, "1.1.0-build.29", "1.2.0-build.28"]
    out = capsys.readouterr().out
    assert hint in out and "Immutable builds" in out and "Traceback" not in out


def test_next_version_is_checked_on_the_real_tags_too(next_version):
    def only_made_up(tags, release, build):
        answer = next_version(tags, release, build)
        return "1.1.0-build.28" if tags == PUSHED and answer is None else answer

    checked = lab08.check_next_version(only_made_up, PUSHED, "1.1.0", 28)
    assert not checked.passed and "tags=4 tags, release='1.1.0', build=28" in checked.message


# --- ex02 -------------------------------------------------------------------------------------


def test_the_kit_reading_of_the_made_up_updates():
    answers = [lab08.reference_rollout_verdict(*case) for case in lab08.made_up_timelines()]
    assert answers == [
        (0, "updated"),
        (3, "rolled back"),
        (1, "mixed"),
        (0, "updated"),
        (0, "rolled back"),
    ]


def _rollout(timeline, to_version):
    """A measured rollout as C's ``Rollout`` holds it (other fields left out)."""
    rows = [{**row, "rps": 10.0} for row in timeline]
    return SimpleNamespace(timeline=rows, to_version=to_version)


def measured() -> list[tuple[list[dict], str]]:
    rolling = [lab08.row(0, old=8), lab08.row(1, old=4, new=4), lab08.row(2, new=8)]
    failing = [lab08.row(0, new=8), lab08.row(1, 1, new=7), lab08.row(2, new=8)]
    return [
        (lab08.exercise_timeline(_rollout(rolling, "new")), "new"),
        (lab08.exercise_timeline(_rollout(failing, "1.2.0")), "1.2.0"),
    ]


def test_rollout_verdict_reference_passes(rollout_verdict, capsys):
    checked = lab08.check_rollout_verdict(rollout_verdict, measured())
    assert checked.passed and checked.value == [(0, "updated"), (1, "rolled back")]
    out = capsys.readouterr().out
    assert (
        "✓ ex02_rollout_verdict: passed — to new: updated, 0 failed; to 1.2.0: rolled back" in out
    )


def test_rollout_verdict_without_measured_updates(rollout_verdict, capsys):
    checked = lab08.check_rollout_verdict(rollout_verdict)
    assert checked.passed and checked.value == []
    assert "right on 5 made-up updates" in capsys.readouterr().out


def test_rollout_verdict_not_done_goes_on_with_the_kit(capsys, not_done):
    checked = lab08.check_rollout_verdict(not_done, measured())
    assert not checked.done and checked.value == [(0, "updated"), (1, "rolled back")]
    assert "not done yet" in capsys.readouterr().out


def _last_row(timeline, new):
    versions = timeline[-1]["versions"]
    failed = sum(row["failures"] for row in timeline)
    return failed, "updated" if set(versions) == {new} else "rolled back"


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [  # the last row even when empty; failures of the last row only; a bool; one value
        (_last_row, "rows without answers at the end say nothing"),
        (lambda tl, new: (tl[-1]["failures"], "updated"), "add up to 3"),
        (lambda tl, new: (0, True), "the outcome is one of"),
        (lambda tl, new: "updated", "return (failed, outcome)"),
    ],
)
def test_rollout_verdict_wrong_answer_fails_with_its_hint(capsys, wrong, hint):
    checked = lab08.check_rollout_verdict(wrong, measured())
    assert checked.done and not checked.passed
    out = " ".join(capsys.readouterr().out.split())  # the printed check wraps its lines
    assert hint in out and "Reread the lecture" in out and "Traceback" not in out


def test_a_wrong_reading_of_a_measured_update_names_it(rollout_verdict):
    def wrong_on_measured(timeline, new):
        failed, outcome = rollout_verdict(timeline, new)
        return (failed, "mixed") if new == "1.2.0" else (failed, outcome)

    checked = lab08.check_rollout_verdict(wrong_on_measured, measured())
    assert not checked.passed and "the measured update to 1.2.0" in checked.message


@pytest.mark.parametrize("section", [lab08.SECTION_TAGS, lab08.SECTION_ROLLOUT])
def test_the_sections_cited_are_the_lectures_headings(section, cited_headings):
    cited, headings = cited_headings(section)
    assert cited and set(cited) <= headings


# --- the hidden cases of ex02: updates between build tags, ending each way --------------------


def _hidden(function, seed=0):
    spec = SPECS["ex02_rollout_verdict"]
    return run_groups(spec, spec.groups(np.random.default_rng(seed)), function)


def _by_keys(timeline, new):
    """Reads the versions present in the last row with answers, zero counts included."""
    failed = sum(r["failures"] for r in timeline)
    answered = [r["versions"] for r in timeline if r["versions"]]
    last = set(answered[-1]) if answered else set()
    return failed, "updated" if last == {new} else ("mixed" if new in last else "rolled back")


def _answered_rows_only(timeline, new):
    """Counts the failures of the seconds with answers only."""
    rows = [r for r in timeline if sum(r["versions"].values())]
    last = {v for v, n in rows[-1]["versions"].items() if n}
    outcome = "updated" if last == {new} else ("mixed" if new in last else "rolled back")
    return sum(r["failures"] for r in rows), outcome


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_hidden_verdicts_give_part_to_a_partly_right_reading(rollout_verdict, seed):
    assert _hidden(rollout_verdict, seed).share == 1.0
    keys = _hidden(_by_keys, seed)
    assert keys.share == 0.5 and "a version with 0 answers did not answer" in keys.reason
    failures = _hidden(_answered_rows_only, seed)
    assert failures.share == 0.75 and failures.reason.startswith("the failed requests")


def test_hidden_verdict_that_calls_the_kits_reading_scores_zero():
    result = _hidden(lambda timeline, new: lab08.reference_rollout_verdict(timeline, new))
    assert result.share == 0.0 and "reference_rollout_verdict" in result.reason
