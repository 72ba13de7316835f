"""Claim C22's measurement: what a base lacks, libraries by soname, the interleaving, the rows,
and one Docker test that reads lab 03's run (the app on the Python and the runtime base)."""

from __future__ import annotations

import pytest

from mllab.containers.base import has_image
from mllab.core.errors import InputError
from mllab.core.outcome import Outcome
from mllab.experiments.architecture.base_tradeoff import (
    BaseTradeoff,
    TradeoffBase,
    app_tag,
    lacking,
    libraries,
    measure_tradeoff,
    rotated,
    tradeoff_rows,
)

NEEDS = ["flatbuffers", "numpy", "onnxruntime", "packaging", "protobuf"]


def test_what_a_base_lacks_is_compared_by_canonical_name():
    assert lacking(NEEDS, ["NumPy", "Packaging", "pip"]) == [
        "flatbuffers",
        "onnxruntime",
        "protobuf",
    ]
    assert lacking(NEEDS, []) == NEEDS
    assert lacking(NEEDS, [*NEEDS, "onnxruntime"]) == []


def test_libraries_are_counted_by_soname():
    files = ["libstdc++.so.6", "libstdc++.so.6.0.30", "libc.so.6", "libpython3.11.so.1.0", "x.so"]
    assert libraries(files) == {"libstdc++.so.6", "libc.so.6", "libpython3.11.so.1", "x.so"}


def test_each_base_goes_first_in_its_turn():
    names = ["a", "b", "c"]
    assert [rotated(names, r)[0] for r in range(4)] == ["a", "b", "c", "a"]
    assert sorted(rotated(names, 2)) == names


def test_rows_are_smallest_first_with_median_and_spread():
    big = TradeoffBase("onnxruntime", 290.0, [], build_s=[1.5, 1.7], app=Outcome.ran())
    small = TradeoffBase(
        "minimal", 47.6, NEEDS, NEEDS, ["libstdc++.so.6"], [8.0, 8.4, 8.1], Outcome.ran()
    )
    rows = tradeoff_rows(BaseTradeoff(Outcome.ran(), [big, small], 3, NEEDS))
    assert [r["base"] for r in rows] == ["minimal", "onnxruntime"]
    assert rows[0]["build_s"] == 8.1 and rows[0]["spread_s"] == 0.4 and rows[0]["by_hand"] == 6
    assert rows[1]["python_added"] == "none" and rows[1]["app"] == "ran"


def test_it_needs_two_bases_and_a_round():
    with pytest.raises(InputError):
        measure_tradeoff(rounds=0)
    with pytest.raises(InputError):
        measure_tradeoff(bases=("minimal",))


@pytest.mark.docker
@pytest.mark.slow
def test_the_app_needs_its_packages_on_the_python_base_and_none_on_the_runtime_base(
    executed_lab,
):
    """Lab 03's run (issue 17: not repeated here; it builds on python-slim and onnxruntime):
    the app runs on both, what the Python base lacks was added by hand, nothing on the runtime
    base (the control); every round built; the app images are gone."""
    record = executed_lab("03").record("BaseTradeoff")
    assert record["outcome"]["status"] == "ran", record["outcome"]
    by = {b["base"]: b for b in record["bases"]}
    slim, runtime = by["python-slim"], by["onnxruntime"]
    for base in (slim, runtime):
        assert base["app"]["status"] == "ran", base["app"]
        assert "CPUExecutionProvider" in base["app_output"]
        assert len(base["build_s"]) == record["rounds"]
    assert set(slim["added_dists"]) == set(record["app_needs"]) >= {"numpy", "onnxruntime"}
    assert set(slim["packages"]) == set(record["app_needs"])
    assert runtime["added_dists"] == runtime["packages"] == []
    assert slim["added_libs"] == runtime["added_libs"] == []  # both carry libstdc++ already
    # the app images carry the kept prefix (the lab's cleanup spares them): the run removed them
    assert not any(has_image(app_tag(base)) for base in by)
