"""Lab 05: is OpenVINO the faster runtime on this CPU, or is the kit's ONNX Runtime?

The reading takes :class:`~mllab.measure.runtimes.RuntimeComparison` (the same ONNX file on
both runtimes, the same threads, timed interleaved in rounds) and says for each precision that
was measured whether OpenVINO is faster, slower, or not measurably different from ONNX Runtime
at batch 1 — the gap between the p50s against the two runs' spreads (max − min of the rounds'
p50s) added — and the same for the best throughput; then how far its outputs are from ONNX
Runtime's (max |logit diff|, top-1 agreement). A precision that did not run says why. The case
is fp32's latency case (``faster``, ``slower``, ``same``, ``not measured``).
"""

from __future__ import annotations

from mllab.measure.runtimes import PRECISIONS, RuntimeComparison, RuntimeRow
from mllab.report.interpret.text import Reading

WORDS = {
    "faster": ("faster", "быстрее"),
    "slower": ("slower", "медленнее"),
}


def read_runtimes(comparison: RuntimeComparison) -> Reading:
    """The reading of lab 05's ONNX Runtime / OpenVINO comparison (see the module)."""
    reading = Reading(comparison.case("fp32"))
    for precision in PRECISIONS:
        pair = comparison.pair(precision)
        if pair is None:
            _not_measured(reading, comparison, precision)
            continue
        _latency(reading, comparison, precision, *pair)
        _throughput(reading, comparison, precision, *pair)
        _delta(reading, comparison, pair[1])
    return reading


def _not_measured(reading: Reading, comparison: RuntimeComparison, precision: str) -> None:
    """Why ``precision`` has no comparison: the first row that did not run gives the reason."""
    rows = [r for r in comparison.rows if r.precision == precision and not r.measured]
    why = str(rows[0].outcome) if rows else "not measured"
    reading.say(
        f"{precision}: OpenVINO and ONNX Runtime were not compared here ({why}).",
        f"{precision}: OpenVINO и ONNX Runtime здесь не сравнивались ({why}).",
    )


def _latency(
    reading: Reading, c: RuntimeComparison, precision: str, ort: RuntimeRow, ov: RuntimeRow
) -> None:
    assert ort.p50_ms is not None and ov.p50_ms is not None  # pair() gives measured rows
    case, ratio = c.case(precision), c.latency_ratio(precision)
    line = (ort.spread_ms or 0) + (ov.spread_ms or 0)
    gap = abs(ov.p50_ms - ort.p50_ms)
    figures = (
        f"p50 {ov.p50_ms:.1f} ms against ONNX Runtime's {ort.p50_ms:.1f} ms (×{ratio:.2f}) on "
        f"{ov.threads} threads; the gap, {gap:.1f} ms"
    )
    figures_ru = (
        f"p50 {ov.p50_ms:.1f} мс против {ort.p50_ms:.1f} мс у ONNX Runtime (×{ratio:.2f}) на "
        f"{ov.threads} потоках; разница {gap:.1f} мс"
    )
    spreads = f"the two runs' spreads added ({line:.1f} ms over {c.rounds} rounds)"
    spreads_ru = f"сумма разбросов двух прогонов ({line:.1f} мс, раундов: {c.rounds})"
    if case == "same":
        reading.say(
            f"{precision}, batch 1: no measurable difference between OpenVINO and ONNX Runtime "
            f"(within the spread): {figures}, is within {spreads}.",
            f"{precision}, батч 1: измеримой разницы между OpenVINO и ONNX Runtime нет (в "
            f"пределах разброса): {figures_ru}, не больше, чем {spreads_ru}.",
        )
        return
    word, word_ru = WORDS[case]
    reading.say(
        f"{precision}, batch 1: OpenVINO is {word} than ONNX Runtime here: {figures}, is "
        f"beyond {spreads}.",
        f"{precision}, батч 1: OpenVINO здесь {word_ru} ONNX Runtime: {figures_ru}, больше, "
        f"чем {spreads_ru}.",
    )


def _throughput(
    reading: Reading, c: RuntimeComparison, precision: str, ort: RuntimeRow, ov: RuntimeRow
) -> None:
    case, ratio = c.throughput_case(precision), c.throughput_ratio(precision)
    line = (ort.best_spread or 0) + (ov.best_spread or 0)
    figures = (
        f"OpenVINO {ov.best_items_per_s:.1f} img/s (batch {ov.best_batch}) against ONNX "
        f"Runtime's {ort.best_items_per_s:.1f} img/s (batch {ort.best_batch}), ×{ratio:.2f}"
    )
    figures_ru = (
        f"OpenVINO {ov.best_items_per_s:.1f} изобр./с (батч {ov.best_batch}) против "
        f"{ort.best_items_per_s:.1f} изобр./с у ONNX Runtime (батч {ort.best_batch}), ×{ratio:.2f}"
    )
    if case == "same":
        verdict = f"no measurable difference (within the spreads added, {line:.1f} img/s)"
        verdict_ru = f"измеримой разницы нет (в пределах суммы разбросов, {line:.1f} изобр./с)"
    else:
        word, word_ru = WORDS[case]
        verdict = f"OpenVINO is {word}, beyond the spreads added ({line:.1f} img/s)"
        verdict_ru = f"OpenVINO {word_ru}, больше суммы разбросов ({line:.1f} изобр./с)"
    batches = ", ".join(str(b) for b in c.batches)
    reading.say(
        f"Best throughput over batches {batches}: {figures}: {verdict}.",
        f"Лучший throughput по батчам {batches}: {figures_ru}: {verdict_ru}.",
    )


def _delta(reading: Reading, c: RuntimeComparison, ov: RuntimeRow) -> None:
    if ov.max_abs_diff is None or ov.top1_agreement is None:
        return
    reference = ov.reference.replace("onnxruntime", "ONNX Runtime")
    reading.say(
        f"OpenVINO's logits differ from {reference}'s by at most {ov.max_abs_diff:.2g}, with "
        f"top-1 agreement {ov.top1_agreement:.0%} on {c.samples} inputs.",
        f"Логиты OpenVINO отличаются от логитов {reference} не более чем на "
        f"{ov.max_abs_diff:.2g}, совпадение top-1 — {ov.top1_agreement:.0%} на {c.samples} "
        "входах.",
    )
