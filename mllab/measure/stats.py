"""Latency statistics: one summary (:class:`Stats`) of per-call timings, numpy percentiles.

Every timing in the kit ends here: the harness (:func:`mllab.measure.harness.measure`), the
batch sweep, the round-robin comparison of two runtimes (:func:`interleaved`) and lab 01's
fp32/INT8 timing. The median (p50) is the figure to compare; p90/p99 show the spread on a
shared, noisy machine; throughput is items over the wall time of the timed loop (the
lecture's T = N/(T_end − T_start)).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from mllab.core.errors import InputError

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class Stats:
    """Timings of one workload: per-call latency in ms and throughput in items/s.

    ``throughput`` is ``batch × repeats / wall time`` of the whole timed loop, harness included
    (the lecture's T); the percentiles come from the per-call times (``numpy.percentile``,
    linear interpolation).
    """

    name: str
    batch: int
    repeats: int
    mean_ms: float
    std_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    throughput: float
    samples_ms: tuple[float, ...] = field(repr=False, default=())

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def median_ms(self) -> float:
        """The median latency (= ``p50_ms``), the figure two runtimes are compared by."""
        return self.p50_ms

    def to_dict(self, samples: bool = False) -> dict[str, Any]:
        """Plain numbers for tables and JSON (the samples only when asked)."""
        data = asdict(self)
        if not samples:
            data.pop("samples_ms")
        return data


def summarize(
    samples_s: Sequence[float], batch: int = 1, name: str = "", wall_s: float | None = None
) -> Stats:
    """:class:`Stats` from per-call durations in **seconds** (``wall_s``: the timed loop's wall
    time, default the sum of the calls)."""
    if len(samples_s) == 0:
        raise InputError("no timings to summarize (repeats must be >= 1)")
    if batch < 1:
        raise InputError(f"batch must be >= 1, not {batch}")
    ms = np.asarray(samples_s, dtype=np.float64) * 1000.0
    p50, p90, p99 = np.percentile(ms, PERCENTILES)
    wall = float(ms.sum() / 1000.0) if wall_s is None else wall_s
    return Stats(
        name=name,
        batch=batch,
        repeats=len(ms),
        mean_ms=float(ms.mean()),
        std_ms=float(ms.std(ddof=1)) if len(ms) > 1 else 0.0,
        min_ms=float(ms.min()),
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        throughput=batch * len(ms) / wall if wall > 0 else math.inf,
        samples_ms=tuple(float(v) for v in ms),
    )


def interleaved(
    fns: dict[str, Callable[[], Any]],
    repeats: int = 10,
    warmup: int = 2,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Stats]:
    """Time several callables round-robin (a, b, a, b, ...) so that they share the machine's
    slow and fast moments: the fair way to compare two runtimes on a busy, shared CPU.

    ``warmup`` untimed rounds first; one :class:`Stats` per name (batch 1).
    """
    if repeats < 1 or warmup < 0:
        raise InputError(f"need repeats >= 1 and warmup >= 0, not {repeats} and {warmup}")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = clock()
            fn()
            samples[name].append(clock() - start)
    return {name: summarize(values, name=name) for name, values in samples.items()}
