"""Did a step run? One answer for every step that may not: ran, not run (and why), failed (and
with what error).

GPU paths, image builds, the drift matrix, the rebuild experiments and the claims all use this
one type, and every table shows it the same way (``str(outcome)``)::

    ran
    not run: no NVIDIA driver on this machine
    failed: BuildError: step 7/12 returned 1

A failed outcome also keeps the error's type: ``error_types`` names its class and the classes
it derives from (``["ImmutableTagError", "MllabError"]``; stored as JSON with the record), so
code that must tell one failure from another asks ``outcome.failed_with(ImmutableTagError)``
and never parses the text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from mllab.core.errors import MllabError

T = TypeVar("T")
Status = Literal["ran", "not run", "failed"]


@dataclass(frozen=True)
class Outcome:
    """How a step went: ``status`` is one of ``ran``, ``not run``, ``failed``; ``reason`` says
    why it did not run or what error it failed with (empty when it ran).

    ``error_types``: for an outcome failed with an exception, the names of its class and of
    the classes it derives from, most specific first, without ``Exception`` and above (empty
    otherwise). Two outcomes with the same status and reason are equal: the type is already
    in the reason's text, this keeps it in a form a program may test."""

    status: Status
    reason: str = ""
    error_types: tuple[str, ...] = field(default=(), compare=False)

    #: 2: ``error_types`` added (an outcome stored as version 1 reads as one without it)
    SCHEMA_VERSION: ClassVar[int] = 2

    def __post_init__(self) -> None:
        if self.status not in ("ran", "not run", "failed"):
            raise ValueError(f"an outcome is 'ran', 'not run' or 'failed', not {self.status!r}")
        if self.status != "ran" and not self.reason:
            raise ValueError(f"an outcome '{self.status}' needs its reason")
        if self.error_types and self.status != "failed":
            raise ValueError(f"only a failed outcome has error types, not '{self.status}'")
        # read back from JSON, the names come as a list: keep the frozen record hashable
        object.__setattr__(self, "error_types", tuple(self.error_types))

    @classmethod
    def ran(cls) -> Outcome:
        return cls("ran")

    @classmethod
    def not_run(cls, why: str) -> Outcome:
        return cls("not run", why)

    @classmethod
    def failed(cls, error: BaseException | str) -> Outcome:
        """Failed with ``error``: its text (``Type: message``) and its type's names; a plain
        string is the reason as it is, with no type."""
        if isinstance(error, str):
            return cls("failed", error.strip() or type(error).__name__)
        text = f"{type(error).__name__}: {error}"
        return cls("failed", text.strip(), error_names(error))

    @property
    def ok(self) -> bool:
        """True when the step ran."""
        return self.status == "ran"

    def failed_with(self, *types: type[BaseException]) -> bool:
        """True when the step failed with an error of one of ``types`` (or of a subclass):
        ``outcome.failed_with(IntegrityError)``."""
        return self.status == "failed" and any(t.__name__ in self.error_types for t in types)

    def __str__(self) -> str:
        return self.status if self.ok else f"{self.status}: {self.reason}"


def error_names(error: BaseException) -> tuple[str, ...]:
    """The names of ``error``'s class and its base classes, most specific first, stopping
    before the built-in roots (``Exception``, ``BaseException``, ``object``)."""
    roots = (Exception, BaseException, object)
    return tuple(cls.__name__ for cls in type(error).__mro__ if cls not in roots)


def attempt(
    fn: Callable[..., T],
    *args: Any,
    expected: tuple[type[BaseException], ...] = (MllabError,),
    **kwargs: Any,
) -> tuple[Outcome, T | None]:
    """Run ``fn(*args, **kwargs)``: ``(Outcome.ran(), value)``, or ``(Outcome.failed(error),
    None)`` for an ``expected`` error. Anything else is a bug and propagates."""
    try:
        return Outcome.ran(), fn(*args, **kwargs)
    except expected as error:
        return Outcome.failed(error), None
