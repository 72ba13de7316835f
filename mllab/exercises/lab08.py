"""Lab 08's exercises: version tags that never overwrite a build, and reading a rolling update
from the answers the clients got.

* ``ex01_next_version`` — ``next_version(tags, release, build) -> str | None``: the tag
  ``MAJOR.MINOR.PATCH-build.N`` for a new build of ``release`` given the tags a registry
  repository already holds; ``build`` None means one past the highest build of that release
  (compared as numbers: ``build.10`` is after ``build.9``); None when the release is not
  ``MAJOR.MINOR.PATCH`` or the tag exists (immutable builds: a published tag is never
  overwritten). The kit's rule is :func:`reference_next_version` (the tag as
  :class:`mllab.experiments.delivery.versions.BuildVersion` makes it); checked on made-up tag
  lists and on the registry's real tags after the pipeline pushed.
* ``ex02_rollout_verdict`` — ``rollout_verdict(timeline, new) -> (failed, outcome)``: from the
  per-second answers of a load run during an update (which version answered how often, how
  many requests failed), the failed requests and whether the service ended ``"updated"`` (only
  ``new`` answered in the last second with answers), ``"rolled back"`` (``new`` did not answer
  then) or ``"mixed"``. Checked on made-up timelines and on the lab's rolling update and
  rollback (:func:`exercise_timeline` turns a rollout's timeline into the exercise's rows).
  Its hidden cases (:func:`hidden_verdict_groups`): updates between build tags ending each way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from mllab.exercises.check import Check, expect_cases, over_cases, self_check, show
from mllab.exercises.hidden_run import Case, Group
from mllab.experiments.delivery.versions import RELEASE

SECTION_TAGS = (
    "«Теги и версии образов», «Immutable builds» (a new build gets a new tag; an old one stays "
    "in the registry) and «Практика версионирования в CI/CD» (tags like 1.0.3-build.472)"
)
SECTION_ROLLOUT = (
    "«Immutable builds» (the old image stays in the registry, so the previous state can come "
    "back) and «Практика версионирования в CI/CD» (Deploy: the stage that puts a version into "
    "service)"
)
#: a build tag as the kit writes it: MAJOR.MINOR.PATCH-build.N
BUILD_TAG = re.compile(r"^(\d+\.\d+\.\d+)-build\.(\d+)$")
OUTCOMES = ("updated", "rolled back", "mixed")


# --- ex01: the next version tag, never an existing one ---------------------------------------


def reference_next_version(tags: Sequence[str], release: str, build: int | None) -> str | None:
    """The kit's rule: ``release-build.N`` (N = ``build``, or one past the highest build of
    ``release`` among ``tags``); None for a release that is not MAJOR.MINOR.PATCH or a tag that
    exists already."""
    if not RELEASE.fullmatch(str(release)):
        return None
    if build is None:
        builds = [int(m[2]) for m in map(BUILD_TAG.fullmatch, tags) if m and m[1] == release]
        build = max(builds, default=0) + 1
    tag = f"{release}-build.{build}"
    return None if tag in tags else tag


#: made-up registry tag lists: (tags, release, build) with a known answer each
MADE_UP_TAGS: tuple[tuple[list[str], str, int | None], ...] = (
    ([], "1.0.0", 28),  # a first push
    (["1.0.0-build.28", "latest"], "1.0.0", 28),  # that build again: refused
    (["1.0.0-build.9", "1.0.0-build.10", "latest", "1.1.0-build.3"], "1.0.0", None),  # 11
    (["1.0.0-build.9", "1.0.0-build.10", "latest", "1.1.0-build.3"], "1.1.0", None),  # 4
    (["v1.0.0-build.4", "1.0.0-build.4x", "demo"], "1.0.0", None),  # no build tag: 1
    (["1.0.0-build.30"], "1.0.0", 29),  # an older commit's build is new all the same
    (["1.0.0-build.2"], "1.0", 3),  # not MAJOR.MINOR.PATCH: refused
    ([], "1.0.0-rc1", None),  # not MAJOR.MINOR.PATCH: refused
)


def _tags_label(case: tuple[Sequence[str], str, int | None]) -> str:
    tags, release, build = case
    shown = show(list(tags))
    shown = shown if len(shown) <= 40 else f"{len(tags)} tags"
    return f"tags={shown}, release={release!r}, build={build!r}"


def _version_compare(answer: Any, reference: str | None) -> str | None:
    if answer == reference:
        return None
    if reference is None:
        return (
            f"expected None (refused), got {show(answer)}: a tag that exists is never pushed "
            "again, and a release is MAJOR.MINOR.PATCH"
        )
    if answer is None:
        return f"expected {reference!r}, got None: not pushed yet (build.10 comes after build.9)"
    same_release = isinstance(answer, str) and answer.split("-")[0] == reference.split("-")[0]
    hint = " (numbers, not strings: build.10 comes after build.9)"
    return f"expected {reference!r}, got {show(answer)}{hint if same_release else ''}"


def check_next_version(
    next_version: Callable[[Sequence[str], str, int | None], str | None],
    tags: Sequence[str],
    release: str,
    build: int,
) -> Check:
    """``ex01_next_version``: the student's rule on :data:`MADE_UP_TAGS` and on the registry's
    real ``tags`` (the pipeline pushed ``release`` build ``build``): that build again (refused),
    the next build of that release, and the same build of the next minor release. ``value``:
    the answers on the real tags (the student's if right, else the kit's)."""
    major, minor, _ = str(release).split(".")
    real = [
        (list(tags), release, build),
        (list(tags), release, None),
        (list(tags), f"{major}.{int(minor) + 1}.0", build),
    ]
    cases = [*MADE_UP_TAGS, *real]
    checked = self_check(
        "ex01_next_version",
        over_cases(next_version, cases),
        reference=lambda: [reference_next_version(*case) for case in cases],
        compare=expect_cases(
            "next_version", cases, _version_compare, labels=[_tags_label(c) for c in cases]
        ),
        section=SECTION_TAGS,
        blame=next_version,
        passed=lambda answers: (
            f"on the registry's tags: {release}-build.{build} again → {answers[-3]}, the next "
            f"build → {answers[-2]}, the next release → {answers[-1]}"
        ),
    )
    return replace(checked, value=list(checked.value[-len(real) :]))


# --- ex02: what the clients saw during an update ----------------------------------------------


def reference_rollout_verdict(timeline: Sequence[Mapping[str, Any]], new: str) -> tuple[int, str]:
    """The kit's reading: the failed requests of all rows, and the outcome from the last row
    in which any version answered."""
    failed = int(sum(row.get("failures", 0) for row in timeline))
    answered = [row["versions"] for row in timeline if sum(row["versions"].values()) > 0]
    if not answered:
        return failed, "rolled back"  # no answer at all: the new version was never in service
    last = {version: n for version, n in answered[-1].items() if n > 0}
    if set(last) == {new}:
        return failed, "updated"
    return failed, "rolled back" if new not in last else "mixed"


def row(t_s: float, failures: int = 0, **versions: int) -> dict[str, Any]:
    """One made-up second: ``row(3, failures=1, old=5, new=2)``."""
    return {"t_s": float(t_s), "failures": failures, "versions": dict(versions)}


def made_up_timelines() -> list[tuple[list[dict[str, Any]], str]]:
    """Updates with a known reading: (timeline, new version) each."""
    clean = [row(t, old=10) for t in range(4)] + [row(t, old=5, new=5) for t in range(4, 7)]
    clean += [row(t, new=10) for t in range(7, 10)]
    rollback = [row(0, old=10), row(1, 2, old=6, new=2), row(2, 1, old=9), row(3, old=10)]
    mixed = [row(0, old=10), row(1, 1, old=6, new=4), row(2, old=5, new=5)]
    trailing = [*clean, row(10), row(11)]  # the load stopped before the timeline did
    never = [row(t, old=10) for t in range(5)]  # the new version never answered
    return [(clean, "new"), (rollback, "new"), (mixed, "new"), (trailing, "new"), (never, "new")]


def exercise_timeline(rollout: Any) -> list[dict[str, Any]]:
    """A rollout's per-second timeline as the exercise's rows (``t_s``, ``failures``,
    ``versions``: {version: answers})."""
    return [
        {"t_s": r["t_s"], "failures": int(r.get("failures", 0)), "versions": dict(r["versions"])}
        for r in rollout.timeline
    ]


def _verdict_compare(answer: Any, reference: tuple[int, str]) -> str | None:
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return f"return (failed, outcome), not {show(answer)}"
    failed, outcome = answer
    if outcome not in OUTCOMES:
        return f"the outcome is one of {OUTCOMES}, not {show(outcome)}"
    if failed != reference[0]:
        return f"failed = {show(failed)}, but the rows' failures add up to {reference[0]}"
    if outcome != reference[1]:
        return (
            f"outcome {outcome!r}, expected {reference[1]!r}: read the last second in which "
            "any version answered (rows without answers at the end say nothing)"
        )
    return None


def check_rollout_verdict(
    rollout_verdict: Callable[[list[dict[str, Any]], str], tuple[int, str]],
    measured: Sequence[tuple[list[dict[str, Any]], str]] = (),
) -> Check:
    """``ex02_rollout_verdict``: the student's reading of :func:`made_up_timelines` and of the
    ``measured`` (timeline, new version) pairs (the lab's rolling update and rollback).
    ``value``: the readings of the measured ones (the student's if right, else the kit's)."""
    cases = [*made_up_timelines(), *measured]
    labels = [f"made-up update {i + 1}" for i in range(len(cases) - len(measured))]
    labels += [f"the measured update to {new}" for _, new in measured]
    checked = self_check(
        "ex02_rollout_verdict",
        over_cases(rollout_verdict, cases),
        reference=lambda: [reference_rollout_verdict(*case) for case in cases],
        compare=expect_cases("rollout_verdict", cases, _verdict_compare, labels=labels),
        section=SECTION_ROLLOUT,
        blame=rollout_verdict,
        passed=lambda answers: (
            "; ".join(
                f"to {new}: {outcome}, {failed} failed"
                for (_, new), (failed, outcome) in zip(
                    measured, answers[len(answers) - len(measured) :], strict=True
                )
            )
            or f"right on {len(cases)} made-up updates"
        ),
    )
    return replace(checked, value=[tuple(v) for v in checked.value[len(cases) - len(measured) :]])


# --- the hidden cases of ex02 (drawn by the grader's seed; see mllab.exercises.hidden) --------


def _hidden_update(rng: Any, old: str, new: str, end: str) -> list[dict[str, Any]]:
    """A made-up update from ``old`` to ``new`` that ends ``end`` ("updated", "rolled back",
    "mixed", "never"), with failures scattered and sometimes trailing seconds without answers."""
    steps = int(rng.integers(3, 7))
    timeline = [row(t, **{old: int(rng.integers(5, 15))}) for t in range(steps)]
    for t in range(steps, steps + int(rng.integers(2, 5))):  # both answer while it rolls
        both = {old: int(rng.integers(1, 8)), new: int(rng.integers(1, 8))}
        timeline.append(row(t, int(rng.integers(0, 3)), **(both if end != "never" else {old: 3})))
    last = len(timeline)
    final = {
        "updated": {old: 0, new: int(rng.integers(5, 15))},  # a zero count is no answer
        "rolled back": {old: int(rng.integers(5, 15)), new: 0},
        "mixed": {old: int(rng.integers(1, 8)), new: int(rng.integers(1, 8))},
        "never": {old: int(rng.integers(5, 15))},
    }[end]
    timeline.append(row(last, int(rng.integers(0, 2)), **final))
    for t in range(last + 1, last + 1 + int(rng.integers(0, 3))):  # the load stopped first
        timeline.append(row(t, int(rng.integers(0, 3))))
    return timeline


def _failed_only(answer: Any, reference: tuple[int, str]) -> str | None:
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return f"return (failed, outcome), not {show(answer)}"
    if answer[0] != reference[0]:
        return f"failed = {show(answer[0])}, but the rows' failures add up to {reference[0]}"
    return None


def _outcome_only(answer: Any, reference: tuple[int, str]) -> str | None:
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return f"return (failed, outcome), not {show(answer)}"
    if answer[1] != reference[1]:
        return (
            f"outcome {show(answer[1])}, expected {reference[1]!r}: read the last second in "
            "which any version answered (a version with 0 answers did not answer)"
        )
    return None


def hidden_verdict_groups(rng: Any) -> list[Group]:
    """``ex02_rollout_verdict``'s hidden cases: updates between build tags (not "old"/"new"),
    ending each way, with zero counts and trailing silent seconds; a group per idea."""

    major, minor = int(rng.integers(1, 4)), int(rng.integers(0, 9))
    build = int(rng.integers(5, 90))
    old, new = f"{major}.{minor}.0-build.{build}", f"{major}.{minor + 1}.0-build.{build + 7}"

    def case(end: str) -> Case:
        timeline = _hidden_update(rng, old, new, end)
        label = f"an update from {old} to {new} over {len(timeline)} s that ended {end!r}"
        return Case(label, (timeline, new), reference_rollout_verdict(timeline, new))

    ends = {
        "the failed requests of every second added up": ["mixed", "rolled back", "never"],
        "updated: only the new build answered in the last second with answers": ["updated"] * 2,
        "rolled back: the new build no longer answered at the end": ["rolled back", "never"],
        "mixed: both builds still answered at the end": ["mixed"] * 2,
    }
    return [
        Group(
            name,
            0.25,
            [case(end) for end in rows],
            _failed_only if name.startswith("the failed") else _outcome_only,
        )
        for name, rows in ends.items()
    ]


def hidden_version_groups(rng: Any) -> list[Group]:
    """Hidden cases of ex01_next_version: release and build tags drawn from ``rng``."""
    major, minor = int(rng.integers(1, 4)), int(rng.integers(0, 10))
    release = f"{major}.{minor}.{int(rng.integers(0, 10))}"
    other = f"{major}.{minor + 1}.0"
    top = int(rng.integers(10, 30))
    tags = [f"{release}-build.{n}" for n in (2, 9, top)] + [f"{other}-build.{top + 40}", "latest"]
    kept = int(rng.choice([2, 9, top]))
    cases: dict[str, list[tuple[list[str], str, int | None]]] = {
        "build numbers compared as numbers": [(tags, release, None), (tags[:2], release, None)],
        "an existing tag is never reused": [(tags, release, kept), (tags, release, top + 1)],
        "a release that is not MAJOR.MINOR.PATCH": [
            (tags, f"{major}.{minor}", None),
            (tags, f"v{release}", 5),
        ],
        "other releases' builds do not count": [([*tags[3:], "2.0"], release, None)],
    }
    rule = reference_next_version

    def compare(answer: Any, expected: Any) -> str | None:
        if answer == expected and (answer is None) == (expected is None):
            return None
        return f"the next tag: expected {show(expected)}, got {show(answer)}"

    return [
        Group(
            name,
            0.25,
            [
                Case(f"tags {t}, release {r!r}, build {b}", (t, r, b), rule(t, r, b))
                for t, r, b in rows
            ],
            compare,
        )
        for name, rows in cases.items()
    ]
