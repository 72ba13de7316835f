"""Wall-clock latency of a callable: median and p90 of ``perf_counter`` timings.

The smallest useful timing tool: warm-up calls first (ONNX Runtime allocates its arenas and
PyTorch picks kernels on the first runs), then ``repeats`` timed calls. The median is the
figure to compare; p90 shows the spread on a shared, noisy machine. ``mllab.measure.bench`` builds
the full harness on top of this.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timing:
    """Latencies of one callable, in milliseconds."""

    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    repeats: int
    samples_ms: list[float] = field(repr=False)

    def to_dict(self) -> dict[str, float]:
        """The summary figures (no samples), for ``mllab.core.records.record``."""
        return {
            "median_ms": self.median_ms,
            "p90_ms": self.p90_ms,
            "mean_ms": self.mean_ms,
            "min_ms": self.min_ms,
            "repeats": self.repeats,
        }


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation, as ``numpy.percentile`` does."""
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_ms(fn: Callable[[], Any], repeats: int = 10, warmup: int = 2) -> Timing:
    """Time ``fn()`` ``repeats`` times after ``warmup`` untimed calls."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, not {repeats}")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return summarize(samples)


def summarize(samples: list[float]) -> Timing:
    """A :class:`Timing` from latencies already measured (ms)."""
    return Timing(
        median_ms=statistics.median(samples),
        p90_ms=percentile(samples, 90),
        mean_ms=statistics.fmean(samples),
        min_ms=min(samples),
        repeats=len(samples),
        samples_ms=samples,
    )


def interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int = 10, warmup: int = 2
) -> dict[str, Timing]:
    """Time several callables round-robin (a, b, a, b, ...) so that they share the machine's
    slow and fast moments: the fair way to compare two runtimes on a busy, shared CPU."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, not {repeats}")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1000.0)
    return {name: summarize(values) for name, values in samples.items()}
