"""mllab.measure.runtimes: ONNX Runtime beside OpenVINO — the cases from records built here, a
real interleaved run on the tiny model, rows that could not run, and one small run of the
real ResNet-50 and its INT8 twin (slow)."""

from __future__ import annotations

import pytest

from mllab.core.errors import InputError, ProviderUnavailable
from mllab.core.outcome import Outcome
from mllab.measure import runtimes
from mllab.measure.runtimes import RuntimeComparison, RuntimeRow


def row(runtime: str, p50: float, spread: float, rate: float, rate_spread: float):
    """A measured row at fp32 (batch 1 and 4; the best at 4)."""
    return RuntimeRow(
        runtime,
        "fp32",
        threads=2,
        p50_ms=p50,
        spread_ms=spread,
        round_p50_ms=[p50 - spread / 2, p50 + spread / 2],
        items_per_s=[1000 / p50, rate],
        best_batch=4,
        best_items_per_s=rate,
        best_spread=rate_spread,
    )


def comparison(*rows: RuntimeRow) -> RuntimeComparison:
    versions = {"onnxruntime": "1.31.1", "openvino": "2026.4.1"}
    return RuntimeComparison([1, 4], 3, 4, 4, versions, list(rows))


def test_openvino_is_faster_only_beyond_the_two_spreads_added():
    ort = row("onnxruntime", 40.0, 2.0, 26.0, 1.0)
    faster = comparison(ort, row("openvino", 35.0, 2.0, 30.0, 1.0))
    assert faster.case() == "faster" and faster.throughput_case() == "faster"
    assert faster.latency_ratio() == pytest.approx(35 / 40)
    assert faster.throughput_ratio() == pytest.approx(30 / 26)
    same = comparison(ort, row("openvino", 36.0, 2.0, 27.5, 1.0))  # gap 4 ms = 2 + 2
    assert same.case() == "same" and same.throughput_case() == "same"
    slower = comparison(ort, row("openvino", 45.0, 1.0, 20.0, 1.0))
    assert slower.case() == "slower" and slower.throughput_case() == "slower"


def test_latency_and_throughput_are_judged_each_by_its_own_spread():
    ort = row("onnxruntime", 40.0, 1.0, 26.0, 8.0)
    mixed = comparison(ort, row("openvino", 30.0, 1.0, 30.0, 8.0))
    assert mixed.case() == "faster" and mixed.throughput_case() == "same"


def test_a_precision_without_both_rows_measured_is_not_compared():
    ort = row("onnxruntime", 40.0, 2.0, 26.0, 1.0)
    failed = RuntimeRow("openvino", "fp32", Outcome.not_run("OpenVINO is not installed"))
    c = comparison(ort, failed)
    assert c.pair() is None and c.case() == "not measured"
    assert c.throughput_case() == "not measured" and c.latency_ratio() is None
    assert c.row("openvino", "int8") is None and c.case("int8") == "not measured"
    table = c.table()
    assert [t["runtime"] for t in table] == ["onnxruntime", "openvino"]
    assert str(table[1]["outcome"]) == "not run: OpenVINO is not installed"


def test_a_switched_off_comparison_says_why_in_every_row():
    off = runtimes.not_run("OPENVINO = False")
    assert len(off.rows) == len(runtimes.RUNTIMES) * len(runtimes.PRECISIONS)
    assert all(r.outcome == Outcome.not_run("OPENVINO = False") for r in off.rows)
    assert off.case("fp32") == "not measured"


def test_both_runtimes_run_interleaved_on_the_tiny_model(tiny):
    c = runtimes.compare_runtimes(tiny, tiny, batches=[4, 1], rounds=2, repeats=2)
    assert c.batches == [1, 4] and c.samples == 4 and c.versions["openvino"]
    for r in c.rows:
        assert r.outcome.ok and r.threads == c.rows[0].threads
        assert len(r.round_p50_ms) == 2 and r.spread_ms == pytest.approx(
            max(r.round_p50_ms) - min(r.round_p50_ms)
        )
        assert len(r.items_per_s) == 2 and r.best_items_per_s == max(r.items_per_s)
        assert r.best_batch == c.batches[r.items_per_s.index(r.best_items_per_s)]
    ov = c.row("openvino")
    assert ov.reference == "onnxruntime fp32" and ov.max_abs_diff < 1e-4
    assert ov.top1_agreement == 1.0 and "f32 hint" in ov.kernels
    assert c.row("onnxruntime", "int8").max_abs_diff == 0.0  # the same file as "fp32" here
    assert c.row("openvino", "int8").reference == "onnxruntime int8"
    assert c.row("onnxruntime").max_abs_diff is None  # the reference itself
    assert c.case() in ("faster", "slower", "same")


def test_without_an_int8_model_or_openvino_the_rows_say_why(tiny, monkeypatch):
    c = runtimes.compare_runtimes(tiny, rounds=2, repeats=1)
    assert c.pair("fp32") is not None
    assert all(r.outcome == Outcome.not_run("no INT8 model was given") for r in c.rows[2:])

    def missing(*args, **kwargs):
        raise ProviderUnavailable("OpenVINO is not installed here")

    monkeypatch.setattr(runtimes, "compile_openvino", missing)
    c = runtimes.compare_runtimes(tiny, rounds=2, repeats=1)
    ort, ov = c.row("onnxruntime"), c.row("openvino")
    assert ov.outcome == Outcome.not_run("OpenVINO is not installed here")
    assert ort.outcome.reason == "nothing to compare it with: OpenVINO is not installed here"
    assert c.case() == "not measured"


def test_the_comparison_needs_a_spread_and_a_batch_of_one(tiny):
    with pytest.raises(InputError, match="rounds >= 2"):
        runtimes.compare_runtimes(tiny, rounds=1)
    with pytest.raises(InputError, match="include 1"):
        runtimes.compare_runtimes(tiny, batches=[2, 4])


@pytest.mark.slow
def test_resnet50_and_its_int8_twin_on_both_runtimes():
    from mllab.model.artifacts import default_model
    from mllab.model.quantize import default_int8_model

    c = runtimes.compare_runtimes(default_model(), default_int8_model(), [1, 2], 2, 1)
    assert all(r.outcome.ok for r in c.rows), [str(r.outcome) for r in c.rows]
    assert c.row("openvino").max_abs_diff < 1e-2  # fp32 arithmetic, as asked
    int8 = c.row("openvino", "int8")
    assert "u8 ops" in int8.kernels or "i8 ops" in int8.kernels  # integer kernels really ran
    assert c.case() in ("faster", "slower", "same")
