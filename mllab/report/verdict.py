"""A claim's verdict and the evidence a judge reads it from.

A :class:`Verdict` is one of four kinds, with the words that say why::

    holds: Δ = 0 ≤ 1e-3, the environments are equivalent
    holds in part: on CPU, no measurable overhead; the GPU half was not measured here
    does not hold: only 1.96× smaller
    not measured here: 06:ContainerVsHost not run: no Docker engine

A judge reads a record through :func:`evidence`, which checks that the record is there, has the
schema version the judge was written for, and that its measurement ran; a missing record or
field raises :class:`NotMeasured`, so no verdict is ever made up from a default value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mllab.core.records import SCHEMA_KEY, Results

Kind = Literal["holds", "holds in part", "does not hold", "not measured here"]
KINDS: tuple[Kind, ...] = ("holds", "holds in part", "does not hold", "not measured here")
#: the record schema version a judge reads unless it names another (``evidence(schema=...)``)
SCHEMA = 1


@dataclass(frozen=True)
class Verdict:
    """What a claim's measurement says: ``kind`` and the reason in words (``text``)."""

    kind: Kind
    text: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a verdict is one of {KINDS}, not {self.kind!r}")

    @classmethod
    def holds(cls, text: str) -> Verdict:
        return cls("holds", text)

    @classmethod
    def holds_in_part(cls, text: str) -> Verdict:
        """What was measured holds and a named part of the claim was not measured here."""
        return cls("holds in part", text)

    @classmethod
    def does_not_hold(cls, text: str) -> Verdict:
        return cls("does not hold", text)

    @classmethod
    def not_measured(cls, why: str) -> Verdict:
        return cls("not measured here", why)

    def __str__(self) -> str:
        return f"{self.kind}: {self.text}"


@dataclass(frozen=True)
class Judgement:
    """A judge's answer: the measured figures in words (naming their source) and the verdict."""

    measured: str
    verdict: Verdict


class NotMeasured(Exception):
    """The evidence a judge needs is missing or did not run; the message says why, and
    ``measured`` what was seen all the same (versions, say), if anything."""

    def __init__(self, why: str, measured: str = "—"):
        super().__init__(why)
        self.measured = measured


def two_halves(
    measured: str, where: str, halves: str, first: bool | None, second: bool | None
) -> Judgement:
    """A claim of two halves (None: that half not measured): not measured when neither was,
    does not hold when one fails, holds in part when one is missing, else holds; ``halves``
    says both in words."""
    if first is None and second is None:
        raise NotMeasured(f"{where}: {halves}", measured)
    if first is False or second is False:
        return Judgement(measured, Verdict.does_not_hold(halves))
    if first is None or second is None:
        return Judgement(measured, Verdict.holds_in_part(halves))
    return Judgement(measured, Verdict.holds(halves))


def outcome_text(outcome: Any) -> str | None:
    """``None`` when a stored :class:`~mllab.core.outcome.Outcome` says the step ran, else
    how it did not ("not run: why", "failed: error", "no outcome recorded")."""
    if not isinstance(outcome, Mapping) or "status" not in outcome:
        return "no outcome recorded"
    if outcome["status"] == "ran":
        return None
    reason = outcome.get("reason") or ""
    return f"{outcome['status']}: {reason}" if reason else str(outcome["status"])


@dataclass(frozen=True)
class Evidence:
    """The stored fields of one record (or of a nested part of it) and where they came from."""

    where: str  # "06:ContainerVsHost", "02:LectureFlask.as_written"
    fields: Mapping[str, Any]

    @property
    def source(self) -> str:
        """``[lab:TypeName]``, as the ``measured`` text names its source."""
        return f"[{self.where}]"

    def get(self, name: str) -> Any:
        """An optional field (None when it was not measured)."""
        return self.fields.get(name)

    def need(self, name: str) -> Any:
        """A field the verdict depends on: missing or None means not measured."""
        value = self.fields.get(name)
        if value is None:
            raise NotMeasured(f"{self.where} has no {name}")
        return value

    def part(self, name: str, outcome: str | None = "outcome") -> Evidence:
        """A nested record (a ``FlaskRun``, a ``RebuildComparison``), its outcome checked."""
        value = self.fields.get(name)
        if not isinstance(value, Mapping):
            raise NotMeasured(f"{self.where} has no {name}")
        nested = Evidence(f"{self.where}.{name}", value)
        if outcome is not None:
            nested.require_ran(outcome)
        return nested

    def part_problem(self, name: str) -> str | None:
        """``None`` when the nested record ``name`` ran; else why not ("not recorded",
        "not run: why", "failed: error") — for a part a verdict can do without."""
        value = self.fields.get(name)
        return outcome_text(value.get("outcome")) if isinstance(value, Mapping) else "not recorded"

    def ran(self, outcome: str = "outcome") -> bool:
        """Whether this record's outcome says the measurement ran."""
        return outcome_text(self.fields.get(outcome)) is None

    def require_ran(self, outcome: str = "outcome") -> None:
        """Raise :class:`NotMeasured` with the outcome's reason unless the measurement ran."""
        problem = outcome_text(self.fields.get(outcome))
        if problem is not None:
            raise NotMeasured(f"{self.where} {problem}")


def evidence(
    results: Results,
    lab: str,
    name: str,
    outcome: str | None = "outcome",
    schema: int = SCHEMA,
) -> Evidence:
    """The record ``name`` that lab ``lab`` wrote, of the schema the judge reads, that ran.

    ``outcome`` names the record's :class:`~mllab.core.outcome.Outcome` field (None for a
    record without one); ``schema`` the version the judge was written for. Raises
    :class:`NotMeasured` saying which lab records it, or why the measurement did not run.
    """
    fields = results.get(lab, name)
    if fields is None:
        raise NotMeasured(f"{name} not recorded: run lab {lab}")
    found = Evidence(f"{lab}:{name}", fields)
    version = fields.get(SCHEMA_KEY)
    if version != schema:
        raise NotMeasured(
            f"{found.where} has schema version {version}, the judge reads version {schema}"
        )
    if outcome is not None:
        found.require_ran(outcome)
    return found


def g(value: float) -> str:
    """A figure in 3 significant digits (1e-06, 0.0123, 1.96)."""
    return f"{value:.3g}"


def sci(value: float) -> str:
    """A bound as the lecture writes it: 1e-3, 1e-6."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"
