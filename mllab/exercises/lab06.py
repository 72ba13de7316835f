"""Lab 06's exercises: the lecture's L(c) ~ 1/min(c, c_opt) under ``--cpus``, and the limits
it tells a server to run with.

* ``ex01_lc_fit`` — ``fit_l_of_c(cpus, latency_ms) -> (c_opt, scale_ms)``: the law fitted by
  least squares to the measured mean latencies. The kit's reference is
  :func:`mllab.experiments.resources.lc_fit.fit_lc`; the check runs the student's function on
  an exact made-up sweep (c_opt = 1.5) and compares the fitted curve on the measured one.
* ``ex02_limits`` — ``choose_limits(fit) -> (cpus, threads)``: ``--cpus`` at c_opt (more quota
  buys no latency, less costs it) and one ONNX Runtime thread per CPU the quota grants,
  ⌈cpus⌉ (what :func:`mllab.runtime.cgroup.usable_cpus` reads inside the container; the
  host's core count would start threads the quota cannot feed). The kit's rule is
  :func:`reference_limits`, on made-up fits and on the measured one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mllab.core.outcome import Outcome
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


# --- ex02: the limits the law tells a server to run with --------------------------------------


@dataclass(frozen=True)
class ServerLimits:
    """``--cpus`` and the ONNX Runtime intra-op threads (the server's ``THREADS``)."""

    cpus: float
    threads: int
    c_opt: float | None = None  # the fitted c_opt the kit chose from (None: the student's)

    def command(self, image: str) -> str:
        """The ``docker run`` line that applies these limits to the server image."""
        return f"docker run --cpus={self.cpus:g} -e THREADS={self.threads} -p 8080:8080 {image}"


def reference_limits(fit: LcFit) -> ServerLimits:
    """The kit's rule: ``--cpus`` = c_opt to the nearest :data:`QUOTA_STEP` (at least one step,
    at most the largest c measured), threads = ⌈cpus⌉."""
    if fit.c_opt is None:
        raise ValueError(f"no L(c) law to choose limits from: {fit.outcome}")
    cpus = math.floor(fit.c_opt / QUOTA_STEP + 0.5) * QUOTA_STEP
    cpus = min(max(cpus, QUOTA_STEP), max(fit.cpus))
    return ServerLimits(cpus, math.ceil(cpus - 1e-9), fit.c_opt)


def made_up_fits() -> list[LcFit]:
    """Fitted laws with a known choice: a knee at 1 CPU, one between steps, a small one, and
    latency still falling at the largest quota (c_opt not identified)."""
    cpus = [0.5, 1.0, 2.0, 3.0]
    laws = [(1.0, 200.0, True), (1.3, 180.0, True), (0.6, 300.0, True), (3.0, 150.0, False)]
    return [
        LcFit(Outcome.ran(), cpus, list(_curve(c_opt, s, cpus)), c_opt, s, 1.0, known)
        for c_opt, s, known in laws
    ]


def _limits_compare(answer: Any, reference: ServerLimits) -> str | None:
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return f"return (cpus, threads), not {show(answer)}"
    cpus, threads = answer
    c_opt = reference.c_opt if reference.c_opt is not None else reference.cpus
    if abs(float(cpus) - c_opt) > QUOTA_STEP / 2 + 1e-9:
        side = (
            "more quota than c_opt buys no latency (L(c) stops falling there)"
            if float(cpus) > c_opt
            else "latency still falls up to c_opt: a smaller quota costs latency"
        )
        kit = f"the kit: {reference.cpus:g}"
        return f"--cpus = {float(cpus):g} with c_opt = {c_opt:.3g} ({kit}): {side}"
    want = max(1, math.ceil(float(cpus) - 1e-9))
    if threads != want:
        return (
            f"threads = {show(threads)} with --cpus = {float(cpus):g}: one thread per CPU the "
            f"quota grants, ⌈cpus⌉ = {want} (os.cpu_count() in a container is the host's)"
        )
    return None


def _fit_label(fit: LcFit) -> tuple:
    return (f"L(c) = {fit.scale_ms:.4g}/min(c, {fit.c_opt:.3g}) ms for c in {fit.cpus}",)


def check_limits(choose_limits: Callable[[LcFit], tuple[float, int]], fit: LcFit) -> Check:
    """``ex02_limits``: the student's choice on :func:`made_up_fits` and, when it has a law, on
    the measured ``fit``. ``value``: :class:`ServerLimits` for the measured fit (the student's
    if right, else the kit's), None when the measured fit has no law."""
    measured = fit.c_opt is not None and fit.scale_ms is not None
    fits = [*made_up_fits(), *([fit] if measured else [])]
    checked = self_check(
        "ex02_limits",
        over_cases(choose_limits, [(f,) for f in fits]),
        reference=lambda: [reference_limits(f) for f in fits],
        compare=expect_cases("choose_limits", [_fit_label(f) for f in fits], _limits_compare),
        section=SECTION,
        blame=choose_limits,
        passed=lambda answers: (
            "--cpus={:g} and {} threads for the measured L(c)".format(*answers[-1])
            if measured
            else f"right on {len(fits)} made-up laws (no measured law: {fit.outcome})"
        ),
    )
    if not measured:
        return replace(checked, value=None)
    if not checked.passed:
        return replace(checked, value=checked.value[-1])
    cpus, threads = checked.value[-1]
    return replace(checked, value=ServerLimits(float(cpus), int(threads)))
