"""Memory limits against the lecture's slowdown: "memory limits can push tensors out of RAM and
slow inference" (section "Влияние ограничений ресурсов на производительность").

That path needs swap. ``--memory`` caps a container's RAM and ``--memory-swap`` its RAM plus
swap; the kit's other runs set them equal, so below the need there is nowhere to push anonymous
memory (the weights, ONNX Runtime's arena) and the kernel's OOM killer ends the container
(:mod:`mllab.experiments.resources.oom`). Here one server container of the slim image is
measured under limits set in turn with ``docker update`` (the cgroup files ``docker run
--memory/--memory-swap`` write; one model load instead of one per limit):

1. **the need**: the memory cgroup's high-water mark after the model loaded and answered
   :data:`WARMUP` requests, with its anonymous part (swappable only) and its file part (the
   model file's and the shared libraries' page cache, which a tight limit can simply drop);
2. **the control, without swap**, in each of ``rounds`` rounds (reversed every other round):
   ``need × f`` for each ``f`` in ``factors`` with ``--memory-swap`` = ``--memory``, each after
   the reference, no limit (a limit at the host's memory: ``docker update`` cannot remove
   one); the reference is measured once more before the swap points. So the reference's
   spread covers the drift of the machine over the time the limits were measured. Above
   the need nothing must be swapped, but a tight limit can still drop file pages that the calls
   then read back, so a slowdown without swap is possible and measured, not assumed;
3. **the lecture's case, with swap**, where this host has swap or the lab may make a swap file
   (:func:`mllab.experiments.resources.swap.swap_for`): ``need × f`` for each ``f`` in
   ``swap_fractions``, going down, with twice the need of swap allowed beyond it. Below the
   need, anonymous pages must go to swap; whether the calls slow down depends on whether the
   pages pushed out are ones they use (the peak counts memory a loaded model no longer
   touches), so more than one limit is measured. Where there is no swap they are not run,
   with the reason.

Each point: one request to bring back what the new limit pushed out, then ``requests`` timed
requests; its p50. A ratio to the reference is a difference only beyond the run-to-run spread
(the relative range of the reference's p50 over the rounds, or of the point's own, the larger).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import numpy as np

from mllab.containers.engine import client
from mllab.containers.run import RunningContainer, run
from mllab.core.errors import InputError
from mllab.core.outcome import Outcome
from mllab.experiments.resources.container_limits import MIB, PREFIX, explain_exit, slim_image
from mllab.experiments.resources.oom import OomResult, container_memory
from mllab.experiments.resources.swap import swap_for
from mllab.measure.stats import summarize
from mllab.serve.client import predict_tensor

LABELS = {"mllab.lab": "07"}
#: limits above the need, as multiples of it (the control: no swap)
FACTORS = (1.1, 1.5)
#: the limits of the swap points, as fractions of the need (below it: pages must go somewhere)
SWAP_FRACTIONS = (0.5, 0.3)
#: swap allowed beyond the limit, in needs (the kernel's swap cache needs room beyond one)
SWAP_ALLOWANCE = 2
#: requests before the need is read (ONNX Runtime's first calls grow its arena and run slow)
WARMUP = 5


@dataclass
class MemoryPoint:
    """One limit: ``--memory`` (None: the reference, no limit), the swap allowed beyond it
    (``--memory-swap`` − ``--memory``), the p50 of each round it ran in, and how it went."""

    label: str
    limit_bytes: int | None
    swap_bytes: int
    p50_ms: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)  # timed requests per round
    swapped_bytes: int | None = None  # the container's swap use after its requests
    outcome: Outcome = Outcome.ran()


@dataclass(frozen=True)
class Comparison:
    """A point's p50 against the reference's: ratio, the spread it is judged by, and the word
    (``slower``, ``faster``, ``no measurable difference``, or ``no spread`` with one round)."""

    ratio: float
    spread: float | None
    kind: str


@dataclass
class MemoryLimits:
    """The server under memory limits above its need (no swap) and below it with swap."""

    outcome: Outcome
    needed_bytes: int | None
    anon_bytes: int | None
    file_bytes: int | None
    requests: int
    rounds: int
    points: list[MemoryPoint] = field(default_factory=list)  # the reference first, swap last
    swap_note: str = ""  # which swap the swap point used (the host's, a temporary file)
    swap_limit_support: bool | None = None  # docker info: SwapLimit

    SCHEMA_VERSION: ClassVar[int] = 1

    def reference(self) -> MemoryPoint | None:
        return next((p for p in self.points if p.limit_bytes is None), None)

    def swap_points(self) -> list[MemoryPoint]:
        return [p for p in self.points if p.swap_bytes > 0]

    def compare(self, point: MemoryPoint) -> Comparison | None:
        """``point`` against the reference (None where either has no p50)."""
        reference = self.reference()
        if reference is None or not reference.p50_ms or not point.p50_ms:
            return None
        return compare(point.p50_ms, reference.p50_ms)

    def rows(self) -> list[dict[str, Any]]:
        """One row per limit (``mllab.core.tables.format_table``)."""
        rows = []
        for point in self.points:
            found = self.compare(point) if point is not self.reference() else None
            rows.append(
                {
                    "limit": point.label,
                    "--memory MiB": _mib(point.limit_bytes) if point.limit_bytes else "none",
                    "swap MiB": _mib(point.swap_bytes),
                    "p50 ms (rounds)": ", ".join(f"{v:.1f}" for v in point.p50_ms) or "-",
                    "× unlimited": f"{found.ratio:.2f}" if found else "",
                    "spread ±": f"{100 * found.spread:.0f} %" if found and found.spread else "",
                    "swap used MiB": _mib(point.swapped_bytes),
                    "outcome": point.outcome,
                }
            )
        return rows


def _mib(value: int | None) -> str:
    return "" if value is None else f"{value / MIB:.0f}"


def relative_spread(values: Sequence[float]) -> float | None:
    """(max − min) / median of repeated measurements; None with fewer than two."""
    if len(values) < 2:
        return None
    return float((max(values) - min(values)) / np.median(values))


def compare(point_ms: Sequence[float], reference_ms: Sequence[float]) -> Comparison:
    """Median p50 of ``point_ms`` over that of ``reference_ms``; a difference only beyond the
    larger of the two relative spreads (with one value each: no spread to judge by)."""
    ratio = float(np.median(point_ms) / np.median(reference_ms))
    spreads = [s for s in (relative_spread(point_ms), relative_spread(reference_ms)) if s]
    spread = max(spreads) if spreads else None
    if relative_spread(reference_ms) is None:
        return Comparison(ratio, spread, "no spread")
    assert spread is not None  # the reference had two values or more
    if ratio - 1 > spread:
        return Comparison(ratio, spread, "slower")
    if 1 - ratio > spread:
        return Comparison(ratio, spread, "faster")
    return Comparison(ratio, spread, "no measurable difference")


def _timed(url: str, http: httpx.Client, x: np.ndarray, n: int, deadline: float) -> list[float]:
    """Up to ``n`` requests (at least one), stopping at ``deadline``; each one's seconds."""
    samples: list[float] = []
    while len(samples) < n and (not samples or time.monotonic() < deadline):
        start = time.perf_counter()
        predict_tensor(url, x, client=http)
        samples.append(time.perf_counter() - start)
    return samples


def _measure(
    server: RunningContainer,
    http: httpx.Client,
    point: MemoryPoint,
    ceiling: int,
    requests: int,
    max_seconds: float,
) -> None:
    """Set ``point``'s limit on the running server and time its requests (see the module);
    a refused update or a dead server goes into ``point.outcome``."""
    import docker.errors  # deferred: the docker SDK is slow to import

    if not point.outcome.ok:  # it failed in an earlier round: the same limit fails again
        return
    if server.exit_code() is not None:
        point.outcome = Outcome.not_run(f"the server had stopped: {explain_exit(server.container)}")
        return
    limit = point.limit_bytes or ceiling
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    deadline = time.monotonic() + max_seconds
    try:
        server.container.update(mem_limit=limit, memswap_limit=limit + point.swap_bytes)
        _timed(server.url, http, x, 1, deadline)  # what the new limit pushed out comes back
        samples = _timed(server.url, http, x, requests, deadline)
    except docker.errors.APIError as error:
        point.outcome = Outcome.failed(f"docker update refused: {error.explanation or error}")
        return
    except httpx.HTTPError as error:
        died = server.exit_code() is not None
        point.outcome = Outcome.failed(explain_exit(server.container) if died else repr(error))
        return
    point.p50_ms.append(summarize(samples).p50_ms)
    point.counts.append(len(samples))


def _check(
    requests: int, rounds: int, factors: Sequence[float], fractions: Sequence[float]
) -> None:
    if requests < 1 or rounds < 1:
        raise InputError(f"need requests >= 1 and rounds >= 1, not {requests} and {rounds}")
    if any(f <= 1 for f in factors):
        raise InputError(f"the control's factors are above the need (> 1), not {list(factors)}")
    if not all(0 < f < 1 for f in fractions):
        raise InputError(f"swap_fractions are fractions of the need in (0, 1), not {fractions}")


def memory_limits(
    tag: str | None = None,
    requests: int = 8,
    rounds: int = 2,
    swap: str | bool = "auto",
    factors: Sequence[float] = FACTORS,
    swap_fractions: Sequence[float] = SWAP_FRACTIONS,
    max_seconds: float = 20.0,
    timeout: float = 120.0,
) -> MemoryLimits:
    """The experiment of the module on the slim server image (default) or ``tag``.

    ``swap``: ``"auto"`` (the host's swap, else a temporary swap file where this process is
    root) or False (the swap point is not run). ``max_seconds`` bounds each point's requests
    (a swapping server may take seconds per call; at least one request is always timed).
    """
    _check(requests, rounds, factors, swap_fractions)
    tag = tag or slim_image()
    info = client().info()
    ceiling = int(info["MemTotal"])  # "no limit": docker update cannot remove one
    support = None if info.get("SwapLimit") is None else bool(info["SwapLimit"])
    name = f"{PREFIX}-memory-limits-{os.getpid()}"
    with (
        run(tag, name=name, read_only=True, timeout=timeout, labels=LABELS) as server,
        httpx.Client(timeout=timeout) as http,
    ):
        x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
        for _ in range(WARMUP):
            predict_tensor(server.url, x, client=http)
        memory = container_memory(server)
        need = memory.get("peak")
        result = MemoryLimits(
            Outcome.ran(), need, memory.get("anon"), memory.get("file"), requests, rounds
        )
        result.swap_limit_support = support
        if need is None:
            result.outcome = Outcome.not_run("the container's memory cgroup has no high-water mark")
            return result
        result.points = [MemoryPoint("unlimited", None, 0)]
        result.points += [MemoryPoint(f"{f:g} × need", int(f * need), 0) for f in factors]
        reference, controls = result.points[0], result.points[1:]
        for i in range(rounds):
            for point in controls if i % 2 == 0 else controls[::-1]:
                _measure(server, http, reference, ceiling, requests, max_seconds)
                _measure(server, http, point, ceiling, requests, max_seconds)
        _measure(server, http, reference, ceiling, requests, max_seconds)  # before swapping
        allowance = SWAP_ALLOWANCE * need
        below = [
            MemoryPoint(f"{f:g} × need + swap", int(f * need), allowance)
            for f in sorted(swap_fractions, reverse=True)  # after paging, a looser limit is unfair
        ]
        result.points += below
        with swap_for(allowance, swap) as source:
            result.swap_note = source.note
            for point in below:
                if not source.outcome.ok:
                    point.outcome = source.outcome
                    continue
                _measure(server, http, point, ceiling, requests, max_seconds)
                point.swapped_bytes = container_memory(server).get("swap")
            server.stop()  # before a temporary swap file is switched off
    return result


def _against(found: Comparison, p50: float, reference: float) -> str:
    """``×1.02 the unlimited p50 (45.1 against 44.2 ms)`` and the spread it is judged by."""
    text = f"×{found.ratio:.2f} the unlimited p50 ({p50:.1f} against {reference:.1f} ms)"
    if found.spread is None:
        return text + "; one round only, so no run-to-run spread to tell a difference by"
    return text + f", run-to-run spread ±{100 * found.spread:.0f} %"


def _median(values: Sequence[float]) -> float:
    return float(np.median(values))


def control_line(result: MemoryLimits, point: MemoryPoint) -> str:
    """One limit above the need, without swap: slower, faster or no measurable difference."""
    head = f"--memory = {point.label} ({_mib(point.limit_bytes)} MiB), no swap"
    found = result.compare(point)
    reference = result.reference()
    if not point.outcome.ok or found is None or reference is None:
        return f"{head}: {point.outcome if not point.outcome.ok else 'no p50 to compare'}"
    against = _against(found, _median(point.p50_ms), _median(reference.p50_ms))
    meaning = {
        "slower": "slower, beyond the spread, with no swap to page to: such a limit can only "
        f"drop page cache ({_mib(result.file_bytes) or '?'} MiB of file pages at the need)",
        "faster": "faster, beyond the spread (a limit cannot speed a call up: this is the "
        "drift of a shared machine)",
        "no measurable difference": "no measurable difference",
        "no spread": "more rounds would tell",
    }[found.kind]
    return f"{head}: {against}: {meaning}"


def _killed_instead(oom: OomResult | None) -> str:
    """What the OOM demo showed, as the end of the no-swap sentence."""
    if oom is None:
        return ""
    if oom.oom_killed:
        limit = oom.limit_bytes / MIB
        return f"; the OOM demo shows it: exit {oom.exit_code}, OOMKilled under {limit:.0f} MiB"
    return f"; the OOM demo did not show a kill here: {oom.message}"


def swap_lines(result: MemoryLimits, oom: OomResult | None = None) -> list[str]:
    """The lecture's case: each limit below the need with swap, or why it was not measured."""
    points, reference = result.swap_points(), result.reference()
    not_run = [p for p in points if p.outcome.status == "not run"]
    if not_run:
        labels = " and ".join(p.label.removesuffix(" + swap") for p in not_run)
        return [
            f"--memory = {labels} with swap: not measured here: {not_run[0].outcome.reason}. "
            "Without swap the lecture's slowdown cannot happen: below the need there is "
            "nowhere to push the model's memory, so the container is killed instead"
            + _killed_instead(oom)
        ]
    return [_swap_line(result, point, reference) for point in points]


def _swap_line(result: MemoryLimits, point: MemoryPoint, reference: MemoryPoint | None) -> str:
    head = f"--memory = {point.label} ({_mib(point.limit_bytes)} MiB"
    head += f" + {_mib(point.swap_bytes)} MiB swap)"
    if not point.outcome.ok:
        return f"{head}, {result.swap_note}: {point.outcome}"
    found = result.compare(point)
    if found is None or reference is None:
        return f"{head}: no p50 to compare"
    against = _against(found, _median(point.p50_ms), _median(reference.p50_ms))
    swapped = f"{_mib(point.swapped_bytes)} MiB" if point.swapped_bytes is not None else "?"
    meaning = {
        "slower": f"slower, beyond the spread: the lecture's slowdown ({swapped} in swap, read "
        "back as the calls use it); with --memory-swap = --memory the same limit kills instead",
        "faster": f"faster, beyond the spread ({swapped} in swap): drift of a shared machine, "
        "not the limit",
        "no measurable difference": f"no slowdown beyond the spread, with {swapped} in swap: "
        "what was pushed out may not be what the calls use",
        "no spread": "more rounds would tell",
    }[found.kind]
    return f"{head}, {result.swap_note}: {against}: {meaning}"


def memory_lines(result: MemoryLimits, oom: OomResult | None = None) -> list[str]:
    """The need, each limit above it (the control) and the swap point, in words computed from
    ``result`` (and the OOM demo ``oom``, where given)."""
    if result.needed_bytes is None or not result.outcome.ok:
        return [f"memory limits: {result.outcome}"]
    parts = [
        f"{_mib(v)} MiB {k}"
        for k, v in (("anonymous", result.anon_bytes), ("file pages", result.file_bytes))
        if v is not None
    ]
    split = f" ({', '.join(parts)} when read)" if parts else ""
    lines = [
        f"need: {_mib(result.needed_bytes)} MiB, the high-water mark after loading the model "
        f"and {WARMUP} requests{split}"
    ]
    lines += [control_line(result, p) for p in result.points if p.limit_bytes and not p.swap_bytes]
    lines += swap_lines(result, oom)
    if result.swap_limit_support is False:
        lines.append(
            "the engine reports no swap limit support: --memory-swap is ignored here, so the "
            "points 'without swap' may have swapped too"
        )
    return lines
