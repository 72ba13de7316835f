"""mllab.measure.suite: ratios beside goals, ``met`` as data, rows that could not run, and the
workloads of the layers above taken as parameters."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tiny_models import CONV_MACS, GEMM_MACS

from mllab.core.errors import InputError, MllabError, ProviderUnavailable
from mllab.core.outcome import Outcome
from mllab.measure import runtimes, suite
from mllab.runtime.sessions import create_session


@dataclass
class _Body:
    body: str
    ratio: float
    http_ms: float


@dataclass
class _Table:
    bodies: list[_Body]


def _workloads(tiny, http=None, int8=None) -> suite.Workloads:
    """The suite's workloads on the tiny model: a numpy call stands in for PyTorch."""
    return suite.Workloads(
        torch=lambda: lambda: sum(range(1000)),
        int8=int8 or (lambda: create_session(tiny)),
        http=http or (lambda repeats: _Table([_Body("npy", 1.1, 2.0)])),
        cpu="a test CPU",
    )


def test_suite_reports_a_missing_http_measurement():
    def broken(repeats):
        raise MllabError("port 8080 is taken")

    (row,) = suite.http_rows(broken, repeats=1)
    assert row.outcome == Outcome.failed("MllabError: port 8080 is taken")
    assert row.met is None and row.ratio is None
    assert "failed: MllabError: port 8080 is taken" in suite.format_suite([row])


def test_http_goal_holds_for_the_binary_bodies_and_json_is_only_reported():
    goal = suite.HTTP_OVER_IN_PROCESS_GOAL
    bodies = [_Body("image", goal, 3.0), _Body("npy", goal + 0.01, 2.0), _Body("raw", 0.5, 1.0)]
    table = _Table([*bodies, _Body("json", 9.0, 40.0)])
    rows = suite.http_rows(lambda repeats: table, repeats=3)
    assert [r.met for r in rows] == [True, False, True, None]
    assert rows[3].goal.startswith("reported") and rows[0].goal == f"<= {goal}"
    assert rows[1].values == {"http_ms": 2.0} and rows[1].ratio == goal + 0.01
    assert suite.http_goals(table) == {"image": True, "npy": False, "raw": True}


def test_kit_row_says_whether_its_goal_was_met(tiny):
    session = create_session(tiny)
    kit = suite.kit_vs_raw(tiny, session, repeats=6, progress=False)
    assert kit.ratio > 0 and kit.goal == f">= {suite.KIT_OVER_RAW_GOAL}"
    assert kit.met is (kit.ratio >= suite.KIT_OVER_RAW_GOAL)
    assert f"met: {'yes' if kit.met else 'no'}" in suite.format_suite([kit])


def test_int8_row_times_both_sessions_on_the_batch_asked(tiny):
    session = create_session(tiny)
    row = suite.int8_vs_fp32(session, create_session(tiny), repeats=3, batch=4)
    assert row.values["batch"] == 4 and "batch 4" in row.name
    assert row.ratio == pytest.approx(row.values["fp32_p50_ms"] / row.values["int8_p50_ms"])
    assert row.met is (row.ratio > 1)
    assert row.values["fp32_p50_ms"] <= row.values["fp32_p90_ms"]


def test_int8_row_that_cannot_open_its_model_says_why(tiny):
    def missing():
        raise MllabError("no INT8 model: run mllab quantize")

    row = suite.int8_row(create_session(tiny), missing, repeats=3)
    assert row.outcome == Outcome.failed("MllabError: no INT8 model: run mllab quantize")
    assert row.ratio is None and row.met is None


def test_roofline_row_on_a_tiny_model(tiny):
    session = create_session(tiny)
    line = suite.roofline_row(tiny, session, repeats=4, progress=False, batch=4)
    counted = line.values["gflop_per_image_counted"]
    assert counted == pytest.approx(2 * (CONV_MACS + GEMM_MACS) / 1e9)
    assert line.ratio == pytest.approx(
        line.values["measured_items_per_s"] / line.values["best_items_per_s"]
    )
    assert line.met is (line.ratio <= 1)


def test_machine_row_states_the_load_as_data():
    row = suite.machine_row("a test CPU")
    assert row.values["usable_cpus"] >= 1 and row.ratio is None
    assert row.values["cpu"] == "a test CPU"
    load = row.values["load_avg_1min"]
    assert row.met is (None if load is None else load <= row.values["usable_cpus"])
    assert row.to_dict()["outcome"] == "ran"


def test_run_suite_runs_the_rows_asked_on_the_workloads_given(tiny):
    rows = suite.run_suite(
        tiny, _workloads(tiny), repeats=3, progress=False, rows=("int8", "torch")
    )
    assert [r.name.split(" ")[0] for r in rows] == ["machine", "ORT", "fp32"]  # suite's order
    assert rows[0].values["cpu"] == "a test CPU"
    assert all(r.outcome.ok and r.ratio > 0 for r in rows[1:])
    http = suite.run_suite(tiny, _workloads(tiny), repeats=3, progress=False, rows=("http",))
    assert [r.name for r in http[1:]] == ["HTTP / in-process latency, npy body"]


def test_run_suite_refuses_an_unknown_row_or_a_missing_model(tiny, tmp_path):
    with pytest.raises(InputError, match="roofline"):
        suite.run_suite(tiny, _workloads(tiny), rows=("gpu",))
    with pytest.raises(InputError, match="no such model file"):
        suite.run_suite(tmp_path / "none.onnx", _workloads(tiny))


def test_openvino_row_reports_the_ratio_on_the_same_model_and_threads(tiny):
    row = suite.openvino_row(tiny, repeats=3, rounds=2)
    v = row.values
    assert row.ratio == pytest.approx(v["openvino_p50_ms"] / v["ort_p50_ms"])
    assert row.met is None and row.goal.startswith("reported")
    assert v["latency"] in ("faster", "slower", "same") and v["max_abs_diff"] < 1e-4
    assert "OpenVINO / ORT latency" in suite.format_suite([row])


def test_openvino_row_without_openvino_says_why(tiny, monkeypatch):
    def missing(*args, **kwargs):
        raise ProviderUnavailable("OpenVINO is not installed here")

    monkeypatch.setattr(runtimes, "compile_openvino", missing)
    row = suite.openvino_row(tiny, repeats=3)
    assert row.outcome == Outcome.not_run("OpenVINO is not installed here")
    assert row.ratio is None and "not run: OpenVINO is not installed" in suite.format_suite([row])
