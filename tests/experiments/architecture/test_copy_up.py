"""C18's measurement: the probe's round run here on plain files, the interleaving, the rounds
aggregated (min, median, max), the rows; one Docker test of lab 03's run."""

from __future__ import annotations

import pytest

from mllab.core.errors import InputError
from mllab.core.outcome import Outcome
from mllab.experiments.architecture import copy_up, write_probe
from mllab.experiments.architecture.copy_up import (
    ORDER,
    TARGETS,
    CopyUp,
    aggregate,
    copy_up_rows,
    rotated,
)


def test_each_round_runs_every_group_once_in_a_rotated_order():
    orders = [rotated(i) for i in range(len(ORDER))]
    assert all(sorted(o) == sorted(ORDER) for o in orders)
    assert [o[0] for o in orders] == list(ORDER)  # each group goes first once


def test_the_probe_writes_at_offset_zero_and_reports_every_target(tmp_path):
    big, small = tmp_path / "big.bin", tmp_path / "small.bin"
    big.write_bytes(b"\0" * (1024 * 1024))
    small.write_bytes(b"\0" * 4096)
    spec = {
        "paths": {
            "big": str(big),
            "small": str(small),
            "volume": str(tmp_path / "v.bin"),
            "tmpfs": str(tmp_path / "t.bin"),
            "layer": str(tmp_path / "s.bin"),
        },
        "big_mb": 1,
        "write_kb": 4,
        "order": rotated(2),
    }
    answer = write_probe.one_round(spec)
    assert set(answer["first_ms"]) == set(TARGETS)
    assert set(answer["sequential_mbps"]) == {"layer", "volume", "tmpfs"}
    assert big.read_bytes()[:4096] == b"w" * 4096 and big.stat().st_size == 1024 * 1024
    assert (tmp_path / "v.bin").stat().st_size == 1024 * 1024


def _answer(big_first: float) -> dict[str, dict[str, float]]:
    first = dict.fromkeys(TARGETS, 0.2)
    first["lower_big_first"] = big_first
    return {
        "first_ms": first,
        "sequential_mbps": {"layer": 900.0, "volume": 1000.0, "tmpfs": 3000.0},
    }


def test_rounds_are_aggregated_and_the_copy_checked_in_every_round():
    record = CopyUp(Outcome.ran(), "base", 64, 4, 3, host=Outcome.ran(), big_bytes=64 * 1024**2)
    record.upper_big_bytes = [64 * 1024**2] * 3
    aggregate(record, [_answer(40.0), _answer(50.0), _answer(45.0)])
    big = record.target("lower_big_first")
    assert big is not None and (big.min_ms, big.median_ms, big.max_ms) == (40.0, 45.0, 50.0)
    assert big.spread_ms == 10.0 and record.copied_up is True
    record.upper_big_bytes[1] = None
    assert aggregate(record, [_answer(40.0), _answer(50.0)]).copied_up is False


def test_no_round_leaves_the_record_empty():
    record = aggregate(CopyUp(Outcome.failed("DockerCliError: x"), "base", 64, 4, 3), [])
    assert record.targets == [] and record.sequential == [] and record.copied_up is None


def test_without_the_host_view_the_copy_is_unknown():
    record = CopyUp(Outcome.ran(), "base", 64, 4, 2, host=Outcome.not_run("not root"))
    record.upper_big_bytes = [None, None]
    assert aggregate(record, [_answer(40.0), _answer(50.0)]).copied_up is None


def test_rows_put_the_first_write_beside_the_sequential_speed():
    record = aggregate(CopyUp(Outcome.ran(), "base", 64, 4, 2), [_answer(40.0), _answer(50.0)])
    rows = {r["target"]: r for r in copy_up_rows(record)}
    assert rows[TARGETS["lower_big_first"]]["write ms (median)"] == 45.0
    assert rows[TARGETS["volume_first"]]["seq. write MB/s (median)"] == 1000
    assert rows["writable layer, new file"]["seq. write MB/s (median)"] == 900


def test_one_round_has_no_spread_and_is_refused():
    with pytest.raises(InputError, match="rounds >= 2"):
        copy_up.copy_up_timing(rounds=1, base="unused")


@pytest.mark.docker
@pytest.mark.slow
def test_copy_up_timing_on_the_engine(executed_lab):
    """Lab 03's run (issue 17: not repeated here): every target timed in every round, the large
    file's first write slower than its second beyond the rounds' spread (the copy-up), and the
    whole file in the upper directory where the host could be read."""
    record = executed_lab("03").record("CopyUp")
    assert record["outcome"]["status"] == "ran", record["outcome"]
    targets = {t["target"]: t for t in record["targets"]}
    assert list(targets) == list(TARGETS)
    assert all(len(t["first_ms"]) == record["rounds"] for t in targets.values())
    assert targets["lower_big_first"]["min_ms"] > targets["lower_big_second"]["max_ms"]
    assert [p["place"] for p in record["sequential"]] == list(copy_up.PLACES.values())
    assert all(len(p["mbps"]) == record["rounds"] for p in record["sequential"])
    if record["host"]["status"] == "ran":
        assert record["copied_up"] is True, record["upper_big_bytes"]  # the whole file went up
        assert record["upper_big_bytes"] == [record["big_bytes"]] * record["rounds"]
