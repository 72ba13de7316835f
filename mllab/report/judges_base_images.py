"""The judge of lab 03's base-image claim: C22, read from ``BaseTradeoff``.

Like the other judges (:mod:`mllab.report.judges_images`), it reads exact record fields and
gives a :class:`~mllab.report.verdict.Judgement`; a missing record, another schema version or a
measurement that did not run raises :class:`~mllab.report.verdict.NotMeasured`. A build-time
difference counts only beyond the round-to-round spread (max − min) of both bases compared.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from mllab.core.records import Results
from mllab.experiments.architecture.base_tradeoff import BaseTradeoff
from mllab.report.verdict import (
    Evidence,
    Judgement,
    NotMeasured,
    evidence,
    outcome_text,
    two_halves,
)


def judge_c22(results: Results) -> Judgement:
    """03 ``BaseTradeoff``: bases (base, base_mb, packages, added_dists, added_libs, build_s,
    app), rounds, not_timed.

    The lecture: "Чем меньше слой, тем быстрее сборка, но тем больше зависимостей нужно
    устанавливать вручную" (line 413). Two halves, each judged on every pair of neighbouring
    bases by size and both named in the verdict. Build: the same app's cold build
    (``--no-cache``) on the smaller base is faster than on the larger one by more than the
    spread. By hand: the smaller base needed more added (Python distributions and shared
    libraries found in the app image and not in its base).

    Fails when: on some pair the smaller base's build is not faster beyond the spread (within
    it: no measurable difference; above it: slower), or it needed no more by hand than the
    larger base. Control: one Dockerfile for every base, the same app, wheels and builder
    stage, rounds interleaved with the order rotated; the app is run once on each base, so a
    count of what was added stands for an app that works. No difference: two medians closer
    than the larger of their spreads; with one round there is no spread, and the build half is
    not measured. Pulling the base, which a smaller base also saves, is not timed offline."""
    r = evidence(results, "03", "BaseTradeoff", schema=BaseTradeoff.SCHEMA_VERSION)
    bases = sorted(_bases(r), key=lambda b: float(b["base_mb"]))
    measured = f"{'; '.join(_described(b) for b in bases)} {r.source}"
    timed = [b for b in bases if b.get("build_s")]
    working = [b for b in bases if outcome_text(b.get("app")) is None]
    build, build_holds = _build_half(timed, int(r.need("rounds")))
    by_hand, by_hand_holds = _by_hand_half(working)
    halves = f"build: {build}; by hand: {by_hand}"
    return two_halves(measured, r.where, halves, build_holds, by_hand_holds)


def _bases(r: Evidence) -> list[Mapping[str, Any]]:
    """The recorded bases that have a size."""
    bases = [b for b in r.get("bases") or [] if b.get("base_mb") is not None]
    if not bases:
        raise NotMeasured(f"{r.where} has no bases")
    return bases


def _median(b: Mapping[str, Any]) -> float:
    return float(statistics.median(b["build_s"]))


def _spread(b: Mapping[str, Any]) -> float:
    return float(max(b["build_s"]) - min(b["build_s"]))


def _added(b: Mapping[str, Any]) -> int:
    return len(b.get("added_dists") or []) + len(b.get("added_libs") or [])


def _described(b: Mapping[str, Any]) -> str:
    """One base in words: size, build median (spread), what was added and whether it ran."""
    if b.get("build_s"):
        build = f"build {_median(b):.2f} s (spread {_spread(b):.2f})"
    else:
        build = "no build time"
    app = outcome_text(b.get("app"))
    added = (
        f"{_added(b)} by hand ({len(b.get('added_dists') or [])} Python, "
        f"{len(b.get('added_libs') or [])} libraries)"
    )
    return f"{b['base']} {float(b['base_mb']):.1f} MB: {build}, {added}" + (
        f", app {app}" if app else ""
    )


def _pairs(bases: list[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Neighbouring bases by size: (smaller, larger)."""
    return list(zip(bases, bases[1:], strict=False))


def _build_half(bases: list[Mapping[str, Any]], rounds: int) -> tuple[str, bool | None]:
    """Does the smaller base build the app faster, beyond the spread, on every pair?"""
    if len(bases) < 2:
        return "fewer than two bases were timed", None
    if rounds < 2:
        return "one round: no spread to tell a difference by", None
    words, holds = [], True
    for small, large in _pairs(bases):
        gain, spread = _median(large) - _median(small), max(_spread(small), _spread(large))
        pair = f"{small['base']} vs {large['base']}"
        if gain > spread:
            words.append(f"{pair}: {gain:.2f} s faster (spread {spread:.2f})")
        elif gain < -spread:
            holds = False
            words.append(f"{pair}: the smaller base {-gain:.2f} s slower (spread {spread:.2f})")
        else:
            holds = False
            words.append(f"{pair}: no measurable difference ({gain:+.2f} s, spread {spread:.2f})")
    return ", ".join(words), holds


def _by_hand_half(bases: list[Mapping[str, Any]]) -> tuple[str, bool | None]:
    """Did the smaller base need more added by hand than the larger, on every pair?"""
    if len(bases) < 2:
        return "fewer than two bases ran the app", None
    words, holds = [], True
    for small, large in _pairs(bases):
        more = _added(small) > _added(large)
        holds = holds and more
        verb = "more" if more else "no more"
        words.append(
            f"{small['base']} needed {verb} ({_added(small)}) than {large['base']} "
            f"({_added(large)})"
        )
    return ", ".join(words), holds
