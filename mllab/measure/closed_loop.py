"""A closed loop in threads of this process: ``concurrency`` users, each calling as soon as its
previous call returned, until ``requests`` calls were made in all.

The light load generator of the kit, beside locust (:mod:`mllab.measure.load`, its own
process): for a client that is a Python call (tritonclient's gRPC, ``session.run`` in
process, an httpx client whose stages are timed per request). Every call has returned or
failed when :func:`closed_loop` returns: nothing is left in flight for the next point.

The users share one ticket counter, ``itertools.count`` (its ``next`` is one C call, atomic
under the GIL): no lock between two calls, so the loop adds no contention of its own. Each
call's wall time and the CPU time of its thread (``time.thread_time``: this user's own CPU,
not its neighbours') are kept, with what it returned or the first line of its error.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from mllab.core.errors import InputError

T = TypeVar("T")

#: characters of an error's first line kept as its reason
REASON_CHARS = 120


@dataclass(frozen=True)
class Call(Generic[T]):
    """One call of the loop: who made it, its wall and thread-CPU seconds, and what it
    returned (``error`` None) or why it failed (``value`` None)."""

    ticket: int  # 0 .. requests-1, in the order the calls started
    user: int  # 0 .. concurrency-1
    seconds: float
    cpu_s: float  # CPU seconds of the calling thread during the call
    value: T | None
    error: str | None


@dataclass(frozen=True)
class LoopResult(Generic[T]):
    """Every call of one closed loop (in ticket order), its wall time and the CPU seconds
    this whole process used meanwhile (the users, and anything else it ran)."""

    concurrency: int
    calls: tuple[Call[T], ...]
    wall_s: float
    process_cpu_s: float

    @property
    def requests(self) -> int:
        return len(self.calls)

    @property
    def answered(self) -> list[Call[T]]:
        """The calls that returned."""
        return [c for c in self.calls if c.error is None]

    @property
    def failures(self) -> int:
        return sum(c.error is not None for c in self.calls)

    @property
    def errors(self) -> dict[str, int]:
        """The failures' reasons, counted."""
        counted: dict[str, int] = {}
        for c in self.calls:
            if c.error is not None:
                counted[c.error] = counted.get(c.error, 0) + 1
        return counted

    @property
    def latencies_s(self) -> list[float]:
        """Wall seconds of the calls that returned."""
        return [c.seconds for c in self.answered]

    @property
    def rps(self) -> float:
        """Calls (answered or failed) per second of wall time."""
        return self.requests / self.wall_s if self.wall_s > 0 else 0.0


def reason(error: BaseException) -> str:
    """An error's first line (its type when it has no text), cut to :data:`REASON_CHARS`."""
    return (str(error).splitlines() or [type(error).__name__])[0][:REASON_CHARS]


def closed_loop(
    call: Callable[[int], T], concurrency: int, requests: int, name: str = "closed-loop"
) -> LoopResult[T]:
    """``requests`` calls of ``call(user)`` from ``concurrency`` threads, closed loop; a call
    that raises counts as failed (its reason kept) and its user goes on. ``user`` lets a
    caller give each user its own client (a connection of its own, as each locust user has)."""
    if concurrency < 1 or requests < 1:
        raise InputError(f"concurrency and requests must be >= 1, not {concurrency}, {requests}")
    tickets = itertools.count()
    done: list[Call[T] | None] = [None] * requests  # each slot written by one ticket's owner

    def user(index: int) -> None:
        while (ticket := next(tickets)) < requests:
            cpu, start = time.thread_time(), time.perf_counter()
            try:
                value: T | None = call(index)
                error = None
            except Exception as failure:  # the caller's client's error: counted, not raised
                value, error = None, reason(failure)
            seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
            done[ticket] = Call(ticket, index, seconds, cpu, value, error)

    users = [
        threading.Thread(target=user, args=(i,), name=f"{name}-{i}") for i in range(concurrency)
    ]
    cpu, start = time.process_time(), time.perf_counter()
    for thread in users:
        thread.start()
    for thread in users:
        thread.join()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    calls = tuple(c for c in done if c is not None)  # all of them: every ticket ran to its end
    return LoopResult(concurrency, calls, wall, cpu)
