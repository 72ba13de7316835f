"""mllab.experiments.batching.suite: ratios beside goals, ``met`` as data, rows that could not
run."""

from __future__ import annotations

import pytest
from tiny_models import CONV_MACS, GEMM_MACS, tiny_classifier

from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.experiments.batching import suite
from mllab.runtime.sessions import create_session


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_classifier(tmp_path_factory.mktemp("models") / "tiny.onnx")


def test_suite_reports_a_missing_http_measurement(tiny, monkeypatch):
    def broken(*args, **kwargs):
        raise MllabError("port 8080 is taken")

    monkeypatch.setattr(suite, "http_overhead", broken)
    (row,) = suite.http_rows(tiny, repeats=1)
    assert row.outcome == Outcome.failed("MllabError: port 8080 is taken")
    assert row.met is None and row.ratio is None
    assert "failed: MllabError: port 8080 is taken" in suite.format_suite([row])


def test_kit_row_says_whether_its_goal_was_met(tiny):
    session = create_session(tiny)
    kit = suite.kit_vs_raw(tiny, session, repeats=6, progress=False)
    assert kit.ratio > 0 and kit.goal == f">= {suite.KIT_OVER_RAW_GOAL}"
    assert kit.met is (kit.ratio >= suite.KIT_OVER_RAW_GOAL)
    assert f"met: {'yes' if kit.met else 'no'}" in suite.format_suite([kit])


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
    row = suite.machine_row()
    assert row.values["usable_cpus"] >= 1 and row.ratio is None
    load = row.values["load_avg_1min"]
    assert row.met is (None if load is None else load <= row.values["usable_cpus"])
    assert row.to_dict()["outcome"] == "ran"
