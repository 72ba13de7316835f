"""Lab 03's base-image claim (C22): records for every verdict kind its judge can give, made
with the producer's own dataclasses (``mllab.experiments.architecture.base_tradeoff``; a field
renamed there breaks these tests), written with ``mllab.core.records.record`` and read back."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mllab.core.outcome import Outcome
from mllab.experiments.architecture.base_tradeoff import BaseTradeoff, TradeoffBase
from mllab.report.judges_base_images import judge_c22
from mllab.report.verdict import NotMeasured

RAN = Outcome.ran()
PY = ["flatbuffers", "numpy", "onnxruntime", "packaging", "protobuf"]
LIBS = ["libgcc_s.so.1", "libstdc++.so.6"]


def tradeoff(minimal=(4.0, 4.2), slim=(6.0, 6.3), ort=(8.0, 8.1), rounds=2, **changed):
    """Three bases; by default the smaller builds faster beyond the spread and needs more."""
    bases = [
        TradeoffBase("onnxruntime", 290.0, [], [], [], list(ort), RAN),
        TradeoffBase("minimal", 47.6, PY, PY, LIBS, list(minimal), RAN),
        TradeoffBase("python-slim", 124.0, PY, PY, [], list(slim), RAN),
    ]
    return replace(BaseTradeoff(RAN, bases, rounds, PY), **changed)


def judged(results_of, item):
    return judge_c22(results_of(("03", item)))


def test_holds_when_smaller_builds_faster_and_needs_more(results_of):
    row = judged(results_of, tradeoff())
    assert row.verdict.kind == "holds", row
    assert "minimal vs python-slim: 2.05 s faster" in row.verdict.text
    assert "minimal needed more (7) than python-slim (5)" in row.verdict.text
    assert "[03:BaseTradeoff]" in row.measured and "minimal 47.6 MB" in row.measured


def test_does_not_hold_when_the_larger_base_builds_the_app_faster(results_of):
    row = judged(results_of, tradeoff(minimal=(8.0, 8.2), slim=(8.1, 8.4), ort=(1.5, 1.6)))
    assert row.verdict.kind == "does not hold", row
    assert "minimal vs python-slim: no measurable difference" in row.verdict.text
    assert "python-slim vs onnxruntime: the smaller base 6.70 s slower" in row.verdict.text
    assert "by hand: minimal needed more (7)" in row.verdict.text  # the other half is named


def test_does_not_hold_when_the_smaller_base_needs_no_more(results_of):
    made = tradeoff()
    made.bases[1] = replace(made.bases[1], added_dists=[], added_libs=[])
    row = judged(results_of, made)
    assert row.verdict.kind == "does not hold", row
    assert "minimal needed no more (0) than python-slim (5)" in row.verdict.text


def test_holds_in_part_with_one_round(results_of):
    row = judged(results_of, tradeoff(minimal=(4.0,), slim=(6.0,), ort=(8.0,), rounds=1))
    assert row.verdict.kind == "holds in part", row
    assert "one round: no spread" in row.verdict.text


def test_an_app_that_did_not_run_does_not_count_by_hand(results_of):
    made = tradeoff(rounds=1)
    for i, b in enumerate(made.bases):
        made.bases[i] = replace(b, app=Outcome.failed("ContainerFailed: no numpy"))
    with pytest.raises(NotMeasured, match="fewer than two bases ran the app"):
        judged(results_of, made)


def test_not_measured_without_the_record_or_when_it_did_not_run(results_of):
    with pytest.raises(NotMeasured, match="BaseTradeoff not recorded: run lab 03"):
        judge_c22(results_of())
    failed = tradeoff(outcome=Outcome.failed("BuildError: step 6"))
    with pytest.raises(NotMeasured, match="failed: BuildError"):
        judged(results_of, failed)
