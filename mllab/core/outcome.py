"""Did a step run? One answer for every step that may not: ran, not run (and why), failed (and
with what error).

GPU paths, image builds, the drift matrix, the rebuild experiments and the claims all use this
one type, and every table shows it the same way (``str(outcome)``)::

    ran
    not run: no NVIDIA driver on this machine
    failed: BuildError: step 7/12 returned 1
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from mllab.core.errors import MllabError

T = TypeVar("T")
Status = Literal["ran", "not run", "failed"]


@dataclass(frozen=True)
class Outcome:
    """How a step went: ``status`` is one of ``ran``, ``not run``, ``failed``; ``reason`` says
    why it did not run or what error it failed with (empty when it ran)."""

    status: Status
    reason: str = ""

    SCHEMA_VERSION: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if self.status not in ("ran", "not run", "failed"):
            raise ValueError(f"an outcome is 'ran', 'not run' or 'failed', not {self.status!r}")
        if self.status != "ran" and not self.reason:
            raise ValueError(f"an outcome '{self.status}' needs its reason")

    @classmethod
    def ran(cls) -> Outcome:
        return cls("ran")

    @classmethod
    def not_run(cls, why: str) -> Outcome:
        return cls("not run", why)

    @classmethod
    def failed(cls, error: BaseException | str) -> Outcome:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return cls("failed", text.strip() or type(error).__name__)

    @property
    def ok(self) -> bool:
        """True when the step ran."""
        return self.status == "ran"

    def __str__(self) -> str:
        return self.status if self.ok else f"{self.status}: {self.reason}"


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
