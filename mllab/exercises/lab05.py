"""Lab 05's exercises: the lecture's batching model on the measured sweep.

* ``ex01_fit`` — ``fit_t_of_n(batches, throughput) -> (a_ms, b_ms)``: T(n) = n/(a + b·n)
  fitted to the measured throughputs. The kit's reference is
  :func:`mllab.measure.batching.fit_throughput` (least squares on L(n) = n/T(n) = a + b·n); the
  check runs the student's function on an exact made-up sweep and on the measured one.
* ``ex02_n_star`` — ``choose_n_star(stats, fit, latency_bound_ms) -> int | None``: n*, the
  measured batch of highest throughput whose p99 and fitted latency stay within the bound. The
  kit's reference is :func:`mllab.measure.batching.best_batch`; made-up sweeps catch the usual
  slips (the largest batch instead of the fastest, the median instead of p99, no bound at all).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from mllab.exercises.check import Check, expect_cases, over_cases, self_check, show
from mllab.measure.batching import BatchFit, best_batch, fit_throughput
from mllab.measure.stats import Stats

SECTION = (
    "«Параллелизм и batch-инференс» (T(n) = n/(a + bn): a the fixed cost of a call, b the cost "
    "per item; n* maximises T(n) under the latency bound L(n))"
)
#: a and b may differ from the kit's fit by this share of the mean measured latency (per call,
#: resp. per item at the mean batch): another way of fitting the same line is not wrong
FIT_TOLERANCE = 0.05
#: an exact made-up sweep (a = 4 ms, b = 2 ms per item): every right fit finds them
EXACT_A_MS, EXACT_B_MS = 4.0, 2.0
EXACT_BATCHES = (1, 2, 4, 8, 16)


def exact_sweep() -> tuple[list[int], list[float]]:
    """Batches and throughputs (items/s) of the exact sweep T(n) = 1000·n/(4 + 2n)."""
    return list(EXACT_BATCHES), [1000.0 * n / (EXACT_A_MS + EXACT_B_MS * n) for n in EXACT_BATCHES]


def _pair(answer: Any) -> tuple[float, float]:
    a, b = answer  # a tuple or list of two numbers
    return float(a), float(b)


def _fit_compare(fit: BatchFit) -> Callable[[Any, Any], str | None]:
    mean_ms = float(np.mean(1000.0 * np.asarray(fit.batches) / np.asarray(fit.throughput)))
    mean_n = float(np.mean(fit.batches))

    def compare(answers: list, references: list) -> str | None:
        exact, measured = answers
        if not isinstance(exact, tuple | list) or len(exact) != 2:
            return f"return two numbers (a_ms, b_ms), not {show(exact)}"
        a, b = _pair(exact)
        if not np.allclose([a, b], [EXACT_A_MS, EXACT_B_MS], rtol=1e-6, atol=1e-9):
            hint = _fit_hint(a, b)
            return (
                f"on an exact sweep made with a = {EXACT_A_MS:g} ms, b = {EXACT_B_MS:g} ms your "
                f"function gives a = {a:.4g}, b = {b:.4g}{hint}"
            )
        a, b = _pair(measured)
        ref_a, ref_b = references[1]
        off = abs(a - ref_a) > FIT_TOLERANCE * mean_ms or abs(b - ref_b) * mean_n > (
            FIT_TOLERANCE * mean_ms
        )
        if off or not np.isfinite([a, b]).all():
            return (
                f"on the measured sweep a = {a:.4g} ms, b = {b:.4g} ms; the kit's least squares "
                f"on L(n) gives a = {ref_a:.4g} ms, b = {ref_b:.4g} ms"
            )
        return None

    return compare


def _fit_hint(a: float, b: float) -> str:
    """Why a fit of the exact sweep is off, when a usual slip explains it."""
    if np.isclose(a, EXACT_B_MS) and np.isclose(b, EXACT_A_MS):
        return " (a and b swapped: L(n) = a + b·n, a is the intercept)"
    if np.allclose([a, b], [EXACT_A_MS / 1000, EXACT_B_MS / 1000]):
        return " (in seconds: the lecture's a and b are in ms here, L = 1000·n/T)"
    return " (fit the latency of one call, L(n) = n/T(n) = a + b·n, a straight line in n)"


def check_fit(
    fit_t_of_n: Callable[[Sequence[int], Sequence[float]], tuple[float, float]], fit: BatchFit
) -> Check:
    """``ex01_fit``: the student's fit on the exact sweep and on the measured one (``fit``: the
    kit's fit of it). ``value``: a :class:`BatchFit` with the student's a and b (R² recomputed)
    if right, else the kit's ``fit``."""
    cases = [exact_sweep(), (list(fit.batches), list(fit.throughput))]
    checked = self_check(
        "ex01_fit",
        over_cases(fit_t_of_n, cases),
        reference=lambda: [(EXACT_A_MS, EXACT_B_MS), (fit.a_ms, fit.b_ms)],
        compare=_fit_compare(fit),
        section=SECTION,
        blame=fit_t_of_n,
        passed=lambda answers: (
            "a = {:.4g} ms, b = {:.4g} ms per item, as the kit's fit within {:.0%}".format(
                *_pair(answers[1]), FIT_TOLERANCE
            )
        ),
    )
    if not checked.passed:
        return replace(checked, value=fit)
    a, b = _pair(checked.value[1])
    return replace(checked, value=with_line(fit, a, b))


def with_line(fit: BatchFit, a_ms: float, b_ms: float) -> BatchFit:
    """``fit`` with another line a + b·n and the R² of that line on the same points."""
    n = np.asarray(fit.batches, dtype=np.float64)
    latency = 1000.0 * n / np.asarray(fit.throughput, dtype=np.float64)
    sse = float(np.sum((latency - (a_ms + b_ms * n)) ** 2))
    sst = float(np.sum((latency - latency.mean()) ** 2))
    return replace(fit, a_ms=a_ms, b_ms=b_ms, r2=1.0 - sse / sst if sst > 0 else 1.0)


def made_up_stats(rows: Sequence[tuple[int, float, float, float]]) -> list[Stats]:
    """Stats of a made-up sweep from (batch, throughput, p50_ms, p99_ms) rows."""
    return [Stats("made-up", n, 10, p50, 0.0, p50, p50, p99, p99, t) for n, t, p50, p99 in rows]


def n_star_cases() -> list[tuple[list[Stats], BatchFit, float]]:
    """Made-up sweeps with a known n*: the fastest batch is not the largest one; the median
    is within the bound where p99 is not; the fitted latency is over where p99 is not; none
    meets the bound."""
    fit = fit_throughput([1, 8], [100.0, 300.0])
    fastest = made_up_stats([(1, 100, 9, 10), (2, 180, 10, 12), (4, 260, 14, 16), (8, 240, 30, 35)])
    tail = made_up_stats([(1, 100, 9, 10), (2, 180, 10, 12), (4, 260, 14, 20), (8, 300, 25, 45)])
    return [
        (fastest, replace(fit, a_ms=8.0, b_ms=3.0), 50.0),  # n* = 4, not 8
        (tail, replace(fit, a_ms=2.0, b_ms=3.0), 30.0),  # p99 rules out 8: n* = 4
        (tail, replace(fit, a_ms=9.0, b_ms=3.0), 46.0),  # a + 8b = 33 ≤ 46, p99 45 ≤ 46: n* = 8
        (tail, replace(fit, a_ms=9.0, b_ms=5.0), 46.0),  # a + 8b = 49 > 46: n* = 4
        (tail, replace(fit, a_ms=8.0, b_ms=3.0), 5.0),  # nothing within 5 ms: None
    ]


def reference_n_star(stats: Sequence[Stats], fit: BatchFit, latency_bound_ms: float) -> int | None:
    """The kit's answer to ``ex02_n_star`` (p99 and the fitted latency within the bound)."""
    return best_batch(stats, fit, latency_bound_ms, "p99")


def _same_n_star(answer: Any, reference: int | None) -> str | None:
    if answer == reference and (answer is None) == (reference is None):
        return None
    if reference is None:
        return f"no batch meets the bound, so n* is None, not {show(answer)}"
    return f"n* = {reference}, not {show(answer)}"


def _label(case: tuple) -> str:
    stats, fit, bound = case
    batches = [s.batch for s in stats]
    return f"sweep {batches}, a = {fit.a_ms:g}, b = {fit.b_ms:g}, bound {bound:g} ms"


def check_n_star(
    choose_n_star: Callable[[Sequence[Stats], BatchFit, float], int | None],
    stats: Sequence[Stats],
    fit: BatchFit,
    latency_bound_ms: float,
) -> Check:
    """``ex02_n_star``: the student's n* on the made-up sweeps and on the measured one.
    ``value``: ``fit`` with the student's n* (if right, else the kit's) and the bound."""
    cases = [*n_star_cases(), (list(stats), fit, latency_bound_ms)]
    labelled = [(_label(case),) for case in cases]
    checked = self_check(
        "ex02_n_star",
        over_cases(choose_n_star, cases),
        reference=lambda: [reference_n_star(*case) for case in cases],
        compare=expect_cases("n* of", labelled, _same_n_star),
        section=SECTION,
        blame=choose_n_star,
        passed=lambda answers: (
            f"n* = {answers[-1]} on the measured sweep (bound {latency_bound_ms:g} ms), "
            f"and right on {len(cases) - 1} made-up sweeps"
        ),
    )
    return replace(
        checked, value=replace(fit, n_star=checked.value[-1], latency_bound_ms=latency_bound_ms)
    )
