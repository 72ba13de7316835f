"""Waiting for something to become true: the kit's one polling loop.

A server that must answer, a swarm that must settle, a container that must exit, a registry
process that must stop: each asks ``until(check, timeout=..., what=...)`` instead of writing its
own ``while time.monotonic() < deadline`` loop. ``check`` returns a value; a *truthy* value ends
the wait and is returned. When the time is up, :class:`TimedOut` says what was awaited and the
last value seen (or ``until(..., default=x)`` returns ``x`` instead, for callers that decide
themselves what a timeout means).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from mllab.core.errors import MllabError

T = TypeVar("T")
_RAISE: object = object()


class TimedOut(MllabError):
    """A wait ran out of time; the message says what was awaited and what was last seen."""


def until(
    check: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.5,
    what: str = "the condition",
    default: object = _RAISE,
) -> T:
    """Call ``check`` every ``interval`` seconds until it returns a truthy value, and return it.

    ``check`` runs at least once, also with ``timeout=0``. An exception from ``check``
    propagates at once (a wait never hides a failure). After ``timeout`` seconds: return
    ``default`` when one is given, else raise :class:`TimedOut`.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
    if default is not _RAISE:
        return default  # type: ignore[return-value]  # the caller's own "timed out" value
    raise TimedOut(f"{what} did not happen within {timeout:g} s (last seen: {value!r})")
