"""Running hidden cases: the student's function on cases the visible self-check does not show,
scored per group of cases, with the kit's own answer for the exercise made unavailable.

An exercise's hidden test is a :class:`Spec`: the name of the student's function, the lecture
section, the kit's reference functions for it, and a function that draws :class:`Group` s of
:class:`Case` s from a seeded generator. Each case's expected answer is computed by the kit
*before* the student's function runs; while it runs, every binding of a reference function in
the kit's modules (and in the namespaces given, the student's own globals) is replaced by a
function that records the call and raises :class:`DelegatedToReference`, so an answer that
hands the exercise back to the kit scores 0, however it caught the error. :func:`snapshot` and
:func:`changed` tell whether anything of the kit (or of numpy, math, builtins) was replaced
while the answer ran, which is how a patched checker is recognised.

Nothing here decides where the answer comes from: :mod:`mllab.exercises.hidden` runs it in the
notebook's kernel (``hidden_tests``) or in a fresh process from the answer cell's text.
"""

from __future__ import annotations

import contextlib
import copy
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from types import FrameType
from typing import Any, ClassVar

import numpy as np

from mllab.core.errors import MllabError
from mllab.exercises.check import describe_error, show
from mllab.exercises.messages import localize

Compare = Callable[[Any, Any], "str | None"]
#: modules whose names an answer could replace to make a check pass (besides the kit's own;
#: json writes the result)
WATCHED = ("builtins", "numpy", "math", "json")
#: a hidden run stops after this long in the kernel (a grader's cell limit stops it outside)
LIMIT_S = 60


class DelegatedToReference(MllabError):
    """The student's function called the kit's own answer to the exercise."""


class HiddenTimeout(MllabError):
    """The student's function did not return within the hidden run's time limit."""


@dataclass(frozen=True)
class Case:
    """One hidden case: its description in words (shown in feedback), the arguments, and the
    expected answer (computed by the kit before the student's function runs)."""

    label: str
    args: tuple[Any, ...]
    expected: Any


@dataclass(frozen=True)
class Group:
    """Cases that check one idea (``name``, in words), worth ``share`` of the exercise."""

    name: str
    share: float
    cases: list[Case]
    compare: Compare


@dataclass(frozen=True)
class Spec:
    """The hidden test of one exercise (``grade_id`` as in the notebook)."""

    grade_id: str
    function: str  # the name the answer cell defines
    section: str
    references: tuple[Callable[..., Any], ...]
    groups: Callable[[np.random.Generator], list[Group]]


@dataclass
class GroupResult:
    """How one group went: ``reason`` says which case failed and what was expected."""

    name: str
    share: float
    passed: bool
    reason: str = ""


@dataclass
class HiddenResult:
    """The hidden test of one exercise: the share of its points earned (0 to 1), per group,
    and why not all (``reason``; empty at full points)."""

    grade_id: str
    share: float
    section: str
    reason: str = ""
    groups: list[GroupResult] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (what the fresh process hands back to the grader)."""
        return {"schema_version": self.SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HiddenResult:
        """The result from :meth:`to_json`'s dict."""
        groups = [GroupResult(**g) for g in data.get("groups", [])]
        return cls(data["grade_id"], float(data["share"]), data["section"], data["reason"], groups)

    @staticmethod
    def shown(data: dict[str, Any], lang: str) -> dict[str, Any]:
        """:meth:`to_json`'s dict with its words (the reason, the section, each group's name
        and reason) in ``lang``: what the grader's feedback shows a student of that edition.
        The points are left as they are; the records the kit keeps stay English."""
        words: dict[str, Any] = {k: localize(data[k], lang) for k in ("reason", "section")}
        groups = [
            {**g, "name": localize(g["name"], lang), "reason": localize(g["reason"], lang)}
            for g in data.get("groups", [])
        ]
        return {**data, **words, "groups": groups}

    @classmethod
    def zero(cls, spec: Spec, reason: str) -> HiddenResult:
        """No points for the whole exercise, for one reason (a patch, a delegation, ...)."""
        return cls(spec.grade_id, 0.0, spec.section, reason)


@contextlib.contextmanager
def unavailable(
    references: Sequence[Callable[..., Any]],
    namespaces: Sequence[dict[str, Any]] = (),
    functions: Sequence[Callable[..., Any]] = (),
) -> Iterator[list[str]]:
    """While inside, each of ``references`` is replaced wherever the kit's modules or
    ``namespaces`` bind it by a function that records the call (in the yielded list) and raises
    :class:`DelegatedToReference`; so is a reference that one of ``functions`` (the answer)
    holds in its default arguments or its closure, bound before the hidden cases began.
    Restored afterwards, unless something else replaced it."""
    called: list[str] = []

    def refusing(function: Callable[..., Any]) -> Callable[..., Any]:
        name = f"{function.__module__}.{function.__qualname__}"

        def refuse(*_args: Any, **_kwargs: Any) -> Any:
            called.append(name)
            raise DelegatedToReference(f"{name} is the kit's own answer to this exercise")

        return refuse

    by_id = {id(f): (f, refusing(f)) for f in references}
    spaces = [vars(m) for n, m in list(sys.modules.items()) if n.split(".")[0] == "mllab"]
    swapped: list[tuple[dict[str, Any], str, Any, Any]] = []
    for space in [*spaces, *namespaces]:
        for key, value in list(space.items()):
            found = by_id.get(id(value))
            if found is not None and found[0] is value:
                space[key] = found[1]
                swapped.append((space, key, value, found[1]))
    held = [_swap_held(f, by_id) for f in functions]
    try:
        yield called
    finally:
        for space, key, original, refuse in swapped:
            if space.get(key) is refuse:
                space[key] = original
        for restore in held:
            restore()


def _swap_held(
    function: Callable[..., Any], by_id: dict[int, tuple[Callable[..., Any], Callable[..., Any]]]
) -> Callable[[], None]:
    """Replace the references ``function`` holds in ``__defaults__``, ``__kwdefaults__`` and
    its closure cells (``def f(x, ref=kit.answer)``); returns what puts them back."""

    def swapped(value: Any) -> Any:
        found = by_id.get(id(value))
        return found[1] if found is not None and found[0] is value else value

    defaults = getattr(function, "__defaults__", None)
    kwdefaults = getattr(function, "__kwdefaults__", None)
    cells = [c for c in getattr(function, "__closure__", None) or () if _filled(c)]
    originals = [c.cell_contents for c in cells]
    if defaults:
        function.__defaults__ = tuple(swapped(v) for v in defaults)
    if kwdefaults:
        function.__kwdefaults__ = {k: swapped(v) for k, v in kwdefaults.items()}
    for cell in cells:
        cell.cell_contents = swapped(cell.cell_contents)

    def restore() -> None:
        if defaults:
            function.__defaults__ = defaults
        if kwdefaults:
            function.__kwdefaults__ = kwdefaults
        for cell, original in zip(cells, originals, strict=True):
            cell.cell_contents = original

    return restore


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 — an empty cell raises
    except ValueError:
        return False
    return True


def snapshot() -> dict[tuple[str, str], int]:
    """The identity of every name bound in the kit's modules and in :data:`WATCHED`."""
    names: dict[tuple[str, str], int] = {}
    for module_name, module in list(sys.modules.items()):
        if module_name.split(".")[0] != "mllab" and module_name not in WATCHED:
            continue
        for key, value in list(vars(module).items()):
            if not key.startswith("__") and value is not None:
                names[(module_name, key)] = id(value)
    return names


def changed(before: dict[tuple[str, str], int], after: dict[tuple[str, str], int]) -> list[str]:
    """``module.name`` of every name of ``before`` that is now bound to something else or gone
    (a module imported in between is not compared: the grader holds none of its names)."""
    modules = {m for m, _ in after}
    return sorted(
        f"{m}.{k}"
        for (m, k), ident in before.items()
        if m in modules and after.get((m, k)) != ident and not (m == "builtins" and k[0] == "_")
    )


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`HiddenTimeout` in the student's function after ``seconds`` (SIGALRM, on
    the main thread only; elsewhere the caller's own limit applies)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise HiddenTimeout(f"no answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_group(group: Group, function: Callable[..., Any]) -> GroupResult:
    """Every case of ``group``: the first that fails is named with what was expected."""
    for case in group.cases:
        try:
            answer = function(*copy.deepcopy(case.args))
        except NotImplementedError:
            return GroupResult(group.name, group.share, False, "not done")
        except (DelegatedToReference, HiddenTimeout):
            raise  # the whole exercise scores 0: :func:`run_groups` says why
        except (Exception, SystemExit) as error:  # noqa: BLE001 — the student's code: anything
            reason = f"on {case.label}: your function raised {describe_error(error, function)}"
            return GroupResult(group.name, group.share, False, reason)
        try:
            wrong = group.compare(answer, case.expected)
        except Exception as error:  # noqa: BLE001 — an answer of the wrong type or shape
            wrong = f"the answer {show(answer)} could not be checked: {describe_error(error)}"
        if wrong:
            return GroupResult(group.name, group.share, False, f"on {case.label}: {wrong}")
    return GroupResult(group.name, group.share, True)


def run_groups(
    spec: Spec,
    groups: list[Group],
    function: Callable[..., Any],
    namespaces: Sequence[dict[str, Any]] = (),
    limit_s: float = LIMIT_S,
) -> HiddenResult:
    """Score ``function`` on ``groups`` (drawn before it runs) with the references of ``spec``
    unavailable (also in ``namespaces``, e.g. the student's globals)."""
    with unavailable(spec.references, namespaces, [function]) as called:
        return score(spec, groups, function, called, limit_s)


def score(
    spec: Spec,
    groups: list[Group],
    function: Callable[..., Any] | None,
    called: list[str],
    limit_s: float = LIMIT_S,
) -> HiddenResult:
    """The share of ``groups`` that ``function`` gets right, inside :func:`unavailable`
    (``called``: what it yielded): 0 if the function called a reference or ran out of time."""
    if function is None or not callable(function):
        return HiddenResult.zero(spec, f"the answer cell defines no function {spec.function}()")
    results: list[GroupResult] = []
    try:
        with time_limit(limit_s):
            results = [run_group(group, function) for group in groups]
    except DelegatedToReference:
        called.append(called[0] if called else "a function raising the kit's refusal")
    except HiddenTimeout as error:
        return HiddenResult.zero(spec, f"timed out on the hidden cases: {error}")
    if called:
        return HiddenResult.zero(spec, delegated(called[0]))
    share = round(sum(r.share for r in results if r.passed), 6)
    failed = [r for r in results if not r.passed]
    if failed and all(r.reason == "not done" for r in failed) and not share:
        return HiddenResult(spec.grade_id, 0.0, spec.section, "not done", results)
    reason = "; ".join(f"{r.name}: {r.reason}" for r in failed)
    return HiddenResult(spec.grade_id, share, spec.section, reason, results)


def delegated(name: str) -> str:
    """The reason an answer that calls the kit's own answer scores 0."""
    return f"your function calls the kit's own answer ({name}): the exercise is to write it"
