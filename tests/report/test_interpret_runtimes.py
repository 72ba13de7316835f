"""Lab 05's reading of ONNX Runtime against OpenVINO: each case from a comparison built here."""

from __future__ import annotations

from mllab.core.outcome import Outcome
from mllab.measure.runtimes import RuntimeComparison, RuntimeRow, not_run
from mllab.report.interpret.runtimes import read_runtimes


def row(runtime: str, p50: float, rate: float, precision: str = "fp32") -> RuntimeRow:
    """A measured row: spread 2 ms at batch 1, 1 img/s at the best batch (4)."""
    made = RuntimeRow(runtime, precision, threads=2, p50_ms=p50, spread_ms=2.0)
    made.round_p50_ms, made.items_per_s = [p50 - 1, p50 + 1], [1000 / p50, rate]
    made.best_batch, made.best_items_per_s, made.best_spread = 4, rate, 1.0
    if runtime == "openvino":
        made.reference, made.max_abs_diff, made.top1_agreement = (
            f"onnxruntime {precision}",
            3e-5,
            1.0,
        )
    return made


def comparison(ov_p50: float, ov_rate: float, int8: bool = False) -> RuntimeComparison:
    rows = [row("onnxruntime", 40.0, 26.0), row("openvino", ov_p50, ov_rate)]
    if int8:
        rows += [row("onnxruntime", 30.0, 40.0, "int8"), row("openvino", 25.0, 48.0, "int8")]
    else:
        why = Outcome.not_run("no INT8 model was given")
        rows += [RuntimeRow("onnxruntime", "int8", why), RuntimeRow("openvino", "int8", why)]
    return RuntimeComparison([1, 4], 3, 4, 4, {"openvino": "2026.4.1"}, rows)


def test_openvino_faster_beyond_the_spread():
    reading = read_runtimes(comparison(30.0, 33.0))
    assert reading.case == "faster"
    text = reading.text("en")
    assert "OpenVINO is faster than ONNX Runtime here" in text and "×0.75" in text
    assert "beyond the two runs' spreads added (4.0 ms over 3 rounds)" in text
    assert "Best throughput over batches 1, 4" in text and "×1.27" in text
    assert "top-1 agreement 100% on 4 inputs" in text
    assert "int8: OpenVINO and ONNX Runtime were not compared here" in text
    assert "no INT8 model was given" in text
    assert "OpenVINO здесь быстрее ONNX Runtime" in reading.text("ru")


def test_openvino_slower_and_no_measurable_difference():
    slower = read_runtimes(comparison(50.0, 20.0))
    assert slower.case == "slower" and "OpenVINO is slower" in slower.text("en")
    assert "OpenVINO медленнее" in slower.text("ru")
    same = read_runtimes(comparison(42.0, 25.5))
    assert same.case == "same"
    text = same.text("en")
    assert "no measurable difference between OpenVINO and ONNX Runtime (within the spread)" in text
    assert "no measurable difference (within the spreads added, 2.0 img/s)" in text
    assert "измеримой разницы между OpenVINO и ONNX Runtime нет" in same.text("ru")


def test_each_precision_measured_gets_its_own_sentences():
    reading = read_runtimes(comparison(42.0, 25.5, int8=True))
    text = reading.text("en")
    assert reading.case == "same"  # the case is fp32's
    assert "int8, batch 1: OpenVINO is faster" in text and "from ONNX Runtime int8's" in text


def test_a_switched_off_comparison_reads_as_not_measured_with_its_reason():
    reading = read_runtimes(not_run("OPENVINO = False: not asked for in this run"))
    assert reading.case == "not measured"
    assert reading.text("en").count("not asked for in this run") == 2  # fp32 and int8
