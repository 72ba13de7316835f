"""Lab 05: the fixed cost a of L(n) = a + b·n on this machine — and so, why batch here?

Batching pays by sharing a call's fixed cost a among n items: T(n)/T(1) = (a + b)/(a/n + b).
The reading refits the recorded sweep as claim C7 does (:func:`mllab.measure.batching.check_law`)
and says which case the run is in: the law does not describe the data (a below zero beyond two
standard errors), a fixed cost distinguishable from zero (beyond two standard errors: batching
amortises it), no fixed cost (not distinguishable from zero, and even the largest a the data
allow, a + 2 standard errors, would buy a gain at n* within the measured gain's spread: every
item costs b whatever the batch), cannot tell (not distinguishable from zero, but the error bar
allows an a that would buy a measurable gain: the sweep is too noisy), or no error bar (two
batch sizes). Beside it, the measured gain T(n*)/T(1) with its spread, so the student sees
whether the law's prediction and the measurement agree.
"""

from __future__ import annotations

from mllab.measure.batching import BatchFit, LawCheck, check_law
from mllab.report.interpret.text import Reading


def read_fixed_cost(fit: BatchFit, device: str = "cpu") -> Reading:
    """The reading of lab 05's T(n) fit on ``device`` (the sweep's ``cpu`` or ``cuda``): is
    there a fixed cost for batching to share?"""
    law = check_law(fit)
    cpu = device == "cpu"
    where, where_ru = ("this CPU", "этом CPU") if cpu else (f"this {device}", f"этом {device}")
    one = fit.a_ms + fit.b_ms  # the fitted latency of a batch of 1
    share = law.a_ms / one if one > 0 else 0.0
    se = f" ± {2 * law.a_se_ms:.2g}" if law.a_se_ms is not None else ""
    fixed = (
        f"a = {law.a_ms:.3g}{se} ms (two standard errors) against b = {law.b_fit_ms:.3g} ms per "
        f"image"
    )
    fixed_ru = (
        f"a = {law.a_ms:.3g}{se} мс (две стандартные ошибки) при b = {law.b_fit_ms:.3g} мс на "
        "изображение"
    )
    if law.negative_fixed_cost:
        reading = Reading("law does not describe")
        reading.say(
            f"The fit gives {fixed}: a fixed cost below zero means latency grows faster than "
            "a + b·n allows (a slower item in larger batches: caches, memory), so the law does "
            "not describe this data and its n* is not to be trusted.",
            f"Аппроксимация даёт {fixed_ru}: фиксированная цена ниже нуля значит, что "
            "задержка растёт быстрее, чем позволяет a + b·n (в больших батчах каждое "
            "изображение дороже: кэши, память), так что закон эти данные не описывает и его "
            "n* верить нельзя.",
        )
    elif law.fixed_cost_distinguishable:
        reading = Reading("fixed cost")
        reading.say(
            f"The fit gives {fixed}: a fixed cost distinguishable from zero, "
            f"{100 * share:.0f} % of a batch of 1; batching shares it, so T(n)/T(1) can reach "
            f"(a + b)/b = {_ceiling(law):.2f} at most.",
            f"Аппроксимация даёт {fixed_ru}: фиксированная цена отличима от нуля, "
            f"{100 * share:.0f} % от батча из 1; батчирование делит её, так что T(n)/T(1) "
            f"может дойти самое большее до (a + b)/b = {_ceiling(law):.2f}.",
        )
    elif law.fixed_cost_distinguishable is None:
        reading = Reading("no error bar")
        reading.say(
            f"The fit gives a = {law.a_ms:.3g} ms, b = {law.b_fit_ms:.3g} ms per image, from "
            "two batch sizes: a line through two points has no error bar, so whether a differs "
            "from zero cannot be told; sweep three batch sizes or more.",
            f"Аппроксимация даёт a = {law.a_ms:.3g} мс, b = {law.b_fit_ms:.3g} мс на "
            "изображение по двум размерам батча: у прямой через две точки нет погрешности, и "
            "отличается ли a от нуля, сказать нельзя; возьмите три размера батча или больше.",
        )
    elif not _negligible(law):
        reading = Reading("cannot tell")
        high = law.a_ms + 2 * (law.a_se_ms or 0.0)
        reading.say(
            f"The fit gives {fixed}: the fixed cost is not distinguishable from zero, but the "
            f"data allow one up to {high:.3g} ms, which would make batch {law.n_star} up to "
            f"{_law_gain(law, high):.2f}× faster than batch 1 — more than the measured gain's "
            "spread: this sweep is too noisy to tell whether batching has something to share "
            "here; more REPEATS narrow it.",
            f"Аппроксимация даёт {fixed_ru}: фиксированная цена неотличима от нуля, но данные "
            f"допускают её до {high:.3g} мс, а с ней батч {law.n_star} был бы до "
            f"{_law_gain(law, high):.2f}× быстрее батча 1 — больше разброса измеренного "
            "выигрыша: этот замер слишком шумный, чтобы сказать, есть ли здесь что делить "
            "батчированию; больше REPEATS сузят разброс.",
        )
    else:
        reading = Reading("no fixed cost")
        reading.say(
            f"The fit gives {fixed}: the fixed cost is not distinguishable from zero "
            f"({100 * share:.1f} % of a batch of 1). On {where} every image costs b whatever "
            "the batch"
            + (" — the convolutions already keep the cores busy at batch 1 —" if cpu else "")
            + " so the law leaves batching nothing to share here.",
            f"Аппроксимация даёт {fixed_ru}: фиксированная цена неотличима от нуля "
            f"({100 * share:.1f} % от батча из 1). На {where_ru} каждое изображение стоит b "
            "при любом батче"
            + (" — свёртки загружают ядра уже при батче 1 —" if cpu else "")
            + " так что по закону батчированию здесь нечего делить.",
        )
    _gain(reading, law, cpu)
    return reading


def _law_gain(law: LawCheck, a_ms: float) -> float:
    """T(n*)/T(1) = n*(a + b)/(a + n*·b): what a fixed cost ``a_ms`` would buy at n*."""
    n, b = law.n_star, law.b_fit_ms
    return n * (a_ms + b) / (a_ms + n * b) if a_ms + n * b > 0 else float("inf")


def _negligible(law: LawCheck) -> bool:
    """Even the largest fixed cost the data allow (a + 2 standard errors) would buy a gain at n*
    within the measured gain's spread: a is zero for what batching can do here. False when the
    sweep kept no spread to compare with."""
    if law.gain_spread is None or law.a_se_ms is None:
        return False
    return _law_gain(law, max(law.a_ms + 2 * law.a_se_ms, 0.0)) - 1 <= law.gain_spread


def _ceiling(law: LawCheck) -> float:
    """T(∞)/T(1) = (a + b)/b under the a ≥ 0 fit: the most batching can buy."""
    return (law.a_fit_ms + law.b_fit_ms) / law.b_fit_ms if law.b_fit_ms > 0 else float("inf")


def _gain(reading: Reading, law: LawCheck, cpu: bool) -> None:
    """The measured gain T(n*)/T(1), with its spread when the sweep recorded one."""
    spread = f" ± {law.gain_spread:.2f}" if law.gain_spread is not None else ""
    measured = f"T({law.n_star})/T(1) = {law.gain:.2f}{spread}"
    if law.gain_distinguishable is None:
        reading.say(
            f"Measured: {measured} (the sweep kept no spread to judge it by).",
            f"Измерено: {measured} (разброса для суждения в замере нет).",
        )
    elif law.gain_distinguishable:
        more = "more" if law.gain > 1 else "less"
        more_ru = "больше" if law.gain > 1 else "меньше"
        reading.say(
            f"Measured: {measured}, beyond its spread: batch {law.n_star} gives {more} "
            "throughput than batch 1 here.",
            f"Измерено: {measured}, больше разброса: батч {law.n_star} даёт здесь {more_ru} "
            "throughput, чем батч 1.",
        )
    else:
        reading.say(
            f"Measured: {measured}, within its spread: batching bought no measurable "
            "throughput on this machine.",
            f"Измерено: {measured}, в пределах разброса: измеримого прироста throughput "
            "батчирование на этой машине не дало.",
        )
        if cpu:
            reading.say(
                "Batch where a is large next to b — on a GPU, kernel launches and host↔device "
                "copies are such a cost — not for throughput on this CPU.",
                "Батчировать ради throughput стоит там, где a велика рядом с b, — на GPU это "
                "запуски ядер и копирование между хостом и устройством, — но не на этом CPU.",
            )
