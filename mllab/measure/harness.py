"""The benchmark harness: time one workload, or sweep it over batch sizes.

The lecture times N runs with ``time.time()`` and reports L = (T_end − T_start)/N and
T = N/(T_end − T_start) (:func:`lecture_loop`, kept verbatim to compare with). :func:`measure`
does the same with three corrections that matter on a shared machine and on a GPU: untimed
warm-up runs first (arenas, cuDNN algorithm search), each run is timed on its own with
``perf_counter`` so that p50/p90/p99 show the spread, and a device ``sync`` callback
(``torch.cuda.synchronize``, ``IOBinding.synchronize_outputs``) is called before the clock
stops, because GPU launches return before the work is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from mllab.core.errors import InputError
from mllab.measure.runners import TimingRunner, session_runner
from mllab.measure.stats import Stats, summarize

if TYPE_CHECKING:  # annotations only
    import onnxruntime as ort

DEFAULT_BATCHES = (1, 2, 4, 8)


def measure(
    fn: Callable[[], Any],
    warmup: int = 3,
    repeats: int = 20,
    sync: Callable[[], Any] | None = None,
    batch: int = 1,
    progress: bool = True,
    name: str = "",
    budget_s: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Stats:
    """Time ``fn()``: ``warmup`` untimed calls, then up to ``repeats`` timed ones.

    ``sync`` is called after every call, inside the timed region (device synchronisation);
    ``batch`` is the number of items one call processes (for throughput). ``budget_s`` stops
    the timed loop early once that many seconds have passed (at least 3 calls are kept).
    ``clock`` is injectable so the statistics can be tested on a fake clock.
    """
    if repeats < 1 or warmup < 0:
        raise InputError(f"need repeats >= 1 and warmup >= 0, not {repeats} and {warmup}")
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    samples = []
    # a text bar in a notebook too (tqdm's widgets need ipywidgets); mininterval keeps it cheap
    bar = tqdm(
        total=repeats, desc=name or "measure", disable=not progress, leave=False, mininterval=0.5
    )
    loop_start = clock()
    for _ in range(repeats):
        start = clock()
        fn()
        if sync:
            sync()
        samples.append(clock() - start)
        bar.update(1)
        if budget_s is not None and len(samples) >= 3 and clock() - loop_start > budget_s:
            break
    wall = clock() - loop_start
    bar.close()
    return summarize(samples, batch=batch, name=name, wall_s=wall)


def batch_sweep(
    target: ort.InferenceSession | Callable[[int], Callable[[], Any] | TimingRunner],
    batches: Sequence[int] = DEFAULT_BATCHES,
    warmup: int = 2,
    repeats: int = 10,
    progress: bool = True,
    name: str = "",
    budget_s: float | None = None,
) -> list[Stats]:
    """One :class:`Stats` per batch size, smallest first. ``target`` is an ORT session, or a
    callable ``make(n) -> fn`` or ``make(n) -> (fn, sync)`` building the workload for batch n."""
    batches = check_batches(batches)
    results: list[Stats] = []
    desc = f"batch sweep {name}".strip()
    for n in tqdm(batches, desc=desc, disable=not progress, leave=False):
        if hasattr(target, "get_inputs"):
            fn, sync = session_runner(target, n)
        else:
            made = target(n)
            fn, sync = made if isinstance(made, tuple) else (made, None)
        label = f"{name} n={n}".strip()
        stats = measure(fn, warmup, repeats, sync, n, False, label, budget_s)  # outer bar only
        results.append(stats)
    return results


def check_batches(batches: Sequence[int]) -> list[int]:
    """Batch sizes sorted and deduplicated, or :class:`InputError` when one is not positive."""
    values = [int(b) for b in batches]
    if not values or any(b < 1 for b in values):
        raise InputError(f"batch sizes must be positive integers, not {list(batches)}")
    return sorted(set(values))


def parse_batches(text: str) -> list[int]:
    """``"1,2,4,8"`` -> ``[1, 2, 4, 8]``, or :class:`InputError` saying what is wrong."""
    try:
        return check_batches([int(part) for part in text.split(",") if part.strip()])
    except ValueError:
        raise InputError(f"--batches must be comma-separated integers, not {text!r}") from None


def lecture_loop(session: ort.InferenceSession, x: np.ndarray, n: int = 100) -> dict[str, float]:
    """The lecture's own measurement, verbatim: ``time.time()`` around N ``session.run`` calls;
    returns L in ms and T in calls/s."""
    feed = {session.get_inputs()[0].name: x}
    start = time.time()
    for _ in range(n):
        _ = session.run(None, feed)
    end = time.time()
    return {"latency_ms": (end - start) / n * 1000, "throughput": n / (end - start)}
