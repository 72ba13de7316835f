"""Lab 07's exercises: the lecture's L(c) ~ 1/min(c, c_opt) under ``--cpus``, and the limits
it tells a server to run with.

* ``ex01_lc_fit`` — ``fit_l_of_c(cpus, latency_ms) -> (c_opt, scale_ms)``: the law fitted by
  least squares to the measured mean latencies. The kit's reference is
  :func:`mllab.experiments.resources.lc_fit.fit_lc`; the check runs the student's function on
  an exact made-up sweep (c_opt = 1.5) and compares the fitted curve on the measured one.
* ``ex02_limits`` — ``choose_limits(latencies) -> (cpus, threads)``: from the measured
  latencies of every timed call at each ``--cpus`` quota of the sweep, the smallest quota that
  no larger one beats by more than the calls' own spread (a larger quota buys no latency this
  measurement can see), and the ONNX Runtime threads that quota lets run at once. The
  spread is each quota's interquartile range (p25–p75); an answer that reads it as the
  p5–p95 range is right too. Made-up measurements (a knee inside the sweep, a flat tail whose
  fastest median is only noise, fractional quotas) and the measured one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mllab.exercises.check import Check, expect_cases, over_cases, self_check, show
from mllab.experiments.resources.lc_fit import LcFit

SECTION = (
    "«Влияние ограничений ресурсов на производительность» (L(c) ∼ 1/min(c, c_opt): c the "
    "cores granted, c_opt the threads that can use them) and «Управление ресурсами CPU/GPU "
    "внутри контейнера» (--cpus is a cgroup quota)"
)
#: the student's fitted curve may differ from the kit's by this share at a measured point
CURVE_TOLERANCE = 0.03
#: --cpus is chosen to this step (a half CPU): the kit rounds c_opt to it; an answer within
#: half a step of c_opt is right
QUOTA_STEP = 0.5
#: an exact made-up sweep: L(c) = 120 ms / min(c, 1.5)
EXACT_C_OPT, EXACT_SCALE_MS = 1.5, 120.0
EXACT_CPUS = (0.5, 1.0, 1.5, 2.0, 3.0)


def exact_sweep() -> tuple[list[float], list[float]]:
    """CPUs and mean latencies (ms) of the exact sweep."""
    cpus = list(EXACT_CPUS)
    return cpus, [EXACT_SCALE_MS / min(c, EXACT_C_OPT) for c in cpus]


def _pair(answer: Any) -> tuple[float, float]:
    first, second = answer  # a tuple or list of two numbers
    return float(first), float(second)


def _curve(c_opt: float, scale: float, cpus: Sequence[float]) -> np.ndarray:
    return scale / np.minimum(np.asarray(cpus, dtype=np.float64), c_opt)


def _fit_compare(fit: LcFit | None) -> Callable[[Any, Any], str | None]:
    def compare(answers: list, references: list) -> str | None:
        if not isinstance(answers[0], tuple | list) or len(answers[0]) != 2:
            return f"return two numbers (c_opt, scale_ms), not {show(answers[0])}"
        c_opt, scale = _pair(answers[0])
        if abs(c_opt - EXACT_C_OPT) > 0.01 or abs(scale / EXACT_SCALE_MS - 1) > 1e-3:
            hint = (
                " (scan c_opt between the smallest and the largest c; for each, the best scale "
                "is Σ g·L / Σ g², g = 1/min(c, c_opt))"
            )
            return (
                f"on an exact sweep made with c_opt = {EXACT_C_OPT:g}, scale = "
                f"{EXACT_SCALE_MS:g} ms your function gives c_opt = {c_opt:.4g}, scale = "
                f"{scale:.4g} ms{hint}"
            )
        if fit is None or fit.c_opt is None or fit.scale_ms is None:  # no measured law to match
            return None
        got = _curve(*_pair(answers[1]), fit.cpus)
        want = _curve(fit.c_opt, fit.scale_ms, fit.cpus)
        worst = float(np.max(np.abs(got / want - 1)))
        if not np.isfinite(worst) or worst > CURVE_TOLERANCE:
            return (
                f"on the measured sweep your L(c) is up to {worst:.0%} off the kit's "
                f"(c_opt = {fit.c_opt:.3g}, scale = {fit.scale_ms:.4g} ms)"
            )
        return None

    return compare


def with_law(fit: LcFit, c_opt: float, scale_ms: float) -> LcFit:
    """``fit`` with another law s/min(c, c_opt): its R² on the same points and whether c_opt
    is identified (below the largest c measured)."""
    latency = np.asarray(fit.latency_ms, dtype=np.float64)
    sse = float(np.sum((latency - _curve(c_opt, scale_ms, fit.cpus)) ** 2))
    sst = float(np.sum((latency - latency.mean()) ** 2))
    identified = bool(c_opt < max(fit.cpus) * (1 - 1e-9))
    r2 = 1.0 - sse / sst if sst > 0 else 1.0
    return replace(fit, c_opt=c_opt, scale_ms=scale_ms, r2=r2, identified=identified)


def check_lc_fit(
    fit_l_of_c: Callable[[Sequence[float], Sequence[float]], tuple[float, float]], fit: LcFit
) -> Check:
    """``ex01_lc_fit``: the student's fit on the exact sweep and, when the kit's ``fit`` ran,
    on the measured points. ``value``: ``fit`` with the student's law if right, else ``fit``."""
    measured = fit if fit.outcome.ok and fit.c_opt is not None else None
    cases = [exact_sweep()] + ([(fit.cpus, fit.latency_ms)] if measured else [])
    checked = self_check(
        "ex01_lc_fit",
        over_cases(fit_l_of_c, cases),
        reference=lambda: (
            [(EXACT_C_OPT, EXACT_SCALE_MS)] + ([(fit.c_opt, fit.scale_ms)] if measured else [])
        ),
        compare=_fit_compare(measured),
        section=SECTION,
        blame=fit_l_of_c,
        passed=lambda answers: (
            "c_opt = {:.3g}, scale = {:.4g} ms on the measured sweep, as the kit's".format(
                *_pair(answers[-1])
            )
            if measured
            else f"right on the exact sweep (the measured one could not be fitted: {fit.outcome})"
        ),
    )
    if not checked.passed or measured is None:
        return replace(checked, value=fit)
    return replace(checked, value=with_law(fit, *_pair(checked.value[-1])))


# --- ex02: the limits the measurement tells a server to run with ---------------------------

#: the spreads an answer may read: each quota's calls between these percentiles
SPREADS = ((25.0, 75.0), (5.0, 95.0))

Latencies = Mapping[float, Sequence[float]]


@dataclass(frozen=True)
class ServerLimits:
    """``--cpus`` and the ONNX Runtime intra-op threads (the server's ``THREADS``)."""

    cpus: float
    threads: int

    def command(self, image: str) -> str:
        """The ``docker run`` line that applies these limits to the server image."""
        return f"docker run --cpus={self.cpus:g} -e THREADS={self.threads} -p 8080:8080 {image}"


def quota_latencies(runs: Sequence[Any], policy: str | int) -> dict[float, list[float]]:
    """The latency (ms) of every timed call at each ``--cpus`` quota of the sweep's ``runs``
    (:class:`~mllab.experiments.resources.probe_runs.ProbeRun`) of one thread ``policy``."""
    return {
        float(run.cpus): list(run.samples_ms)
        for run in sorted(runs, key=lambda r: r.cpus or 0.0)
        if run.policy == policy and run.cpus is not None and run.samples_ms
    }


def smallest_unbeaten(latencies: Latencies, spread: tuple[float, float] = SPREADS[0]) -> float:
    """The smallest quota no larger quota beats beyond the spread: a larger quota beats it when
    its calls' upper percentile is below this quota's lower one (the ranges do not overlap)."""
    low, high = spread
    bands = {
        float(c): np.percentile(np.asarray(v, dtype=np.float64), [low, high])
        for c, v in latencies.items()
    }
    quotas = sorted(bands)
    for c in quotas:
        if not any(bands[d][1] < bands[c][0] for d in quotas if d > c):
            return c
    return quotas[-1]


def reference_limits(latencies: Latencies) -> ServerLimits:
    """The kit's answer to ``ex02_limits``: the smallest unbeaten quota (interquartile
    spread) and one thread per CPU it grants, ⌈cpus⌉."""
    if len(latencies) < 2:
        raise ValueError(f"limits need at least two measured quotas, not {len(latencies)}")
    cpus = smallest_unbeaten(latencies)
    return ServerLimits(cpus, max(1, math.ceil(cpus - 1e-9)))


def _band(values: Sequence[float]) -> str:
    p25, p50, p75 = np.percentile(np.asarray(values, dtype=np.float64), [25, 50, 75])
    return f"{p50:.0f} ms, p25–p75 {p25:.0f}–{p75:.0f}"


def accepted_quotas(latencies: Latencies) -> list[float]:
    """The quotas an answer may choose: the smallest unbeaten one under each of :data:`SPREADS`."""
    return sorted({smallest_unbeaten(latencies, spread) for spread in SPREADS})


def limits_problem(
    answer: Any, latencies: Latencies, right: Sequence[float] | None = None
) -> str | None:
    """What is wrong with ``answer`` as the limits the measured ``latencies`` give (None: right);
    ``right``: :func:`accepted_quotas`, when already computed."""
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return f"return (cpus, threads), not {show(answer)}"
    cpus, threads = float(answer[0]), answer[1]
    right = list(right) if right is not None else accepted_quotas(latencies)
    if cpus not in right:
        chosen = min(right, key=lambda c: abs(c - cpus))
        if cpus < chosen:
            faster = min((c for c in latencies if c > cpus), default=chosen)
            near = min(latencies, key=lambda c: abs(c - cpus))
            return (
                f"--cpus = {cpus:g}: a larger quota is faster beyond the spread of the calls "
                f"({near:g}: {_band(latencies[near])}; {faster:g}: {_band(latencies[faster])})"
            )
        return (
            f"--cpus = {cpus:g}: a lower median alone is noise — {chosen:g} CPUs are as fast "
            f"within the spread of the calls ({_band(latencies[chosen])})"
        )
    want = max(1, math.ceil(cpus - 1e-9))
    if threads != want:
        return (
            f"threads = {show(threads)} with --cpus = {cpus:g}: how many threads can a quota of "
            f"{cpus:g} CPUs run at once? (os.cpu_count() in a container is the host's)"
        )
    return None


def made_up_latencies(
    seed: int,
    knee: float,
    quotas: Sequence[float],
    noise: float,
    tail: float = 0.0,
    calls: int = 20,
) -> dict[float, list[float]]:
    """Made-up calls: L(c) = 200 ms / min(c, knee), each call off by ``noise`` (a share, at
    random), and beyond the knee each larger quota ``tail`` (a share) faster than the last."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, c in enumerate(quotas):
        steps = sum(1 for q in quotas[: i + 1] if q > knee)
        center = 200.0 / min(c, knee) * (1 - tail) ** steps
        out[float(c)] = [float(v) for v in center * (1 + noise * rng.standard_normal(calls))]
    return out


def made_up_measurements() -> list[dict[float, list[float]]]:
    """Measurements with a known choice: a knee at 1 CPU, one at 1.7 (so that 2 CPUs still
    pay), a flat tail whose fastest median is at 3 CPUs (noise), and a knee at 1.5."""
    return [
        made_up_latencies(1, 1.0, [0.5, 1.0, 2.0, 3.0], 0.02),
        made_up_latencies(2, 1.7, [0.5, 1.0, 1.5, 2.0, 3.0], 0.01),
        made_up_latencies(3, 1.0, [0.5, 1.0, 2.0, 3.0], 0.05, tail=0.01),
        made_up_latencies(4, 1.5, [0.5, 1.0, 1.5, 2.0], 0.02),
    ]


def check_limits(
    choose_limits: Callable[[Latencies], tuple[float, int]], latencies: Latencies
) -> Check:
    """``ex02_limits``: the student's choice on :func:`made_up_measurements` and, when the sweep
    measured two quotas or more, on ``latencies``. ``value``: :class:`ServerLimits` for the
    measured calls (the student's if right, else the kit's), None when nothing was measured."""
    measured = len(latencies) >= 2
    cases: list[dict[float, list[float]]] = made_up_measurements()
    if measured:
        cases.append({float(c): list(v) for c, v in latencies.items()})
    checked = self_check(
        "ex02_limits",
        over_cases(choose_limits, [(c,) for c in cases]),
        reference=lambda: [(reference_limits(c), c) for c in cases],
        compare=expect_cases(
            "choose_limits",
            [(c,) for c in cases],
            lambda answer, kit: limits_problem(answer, kit[1]),
            labels=[f"made-up calls {i + 1}" for i in range(len(cases) - measured)]
            + ["the measured calls"] * measured,
        ),
        section=SECTION,
        blame=choose_limits,
        passed=lambda answers: (
            "--cpus={:g} and {} threads for the measured calls".format(*answers[-1])
            if measured
            else f"right on {len(cases)} made-up measurements (none measured here)"
        ),
    )
    if not measured:
        return replace(checked, value=None)
    if not checked.passed:
        return replace(checked, value=checked.value[-1][0])
    cpus, threads = checked.value[-1]
    return replace(checked, value=ServerLimits(float(cpus), int(threads)))
