"""Lab 03, section 5: a server beside a loaded neighbour
(``mllab.experiments.architecture.neighbours``); one Docker test of lab 03's run."""

from __future__ import annotations

import pytest

from mllab.core.errors import InputError
from mllab.core.outcome import Outcome
from mllab.experiments.architecture.neighbours import (
    SETTINGS,
    Neighbours,
    NeighbourSetting,
    neighbour_rows,
    neighbours,
    plan,
)
from mllab.experiments.architecture.networks import Latency


def test_the_plan_limits_and_pins_as_docker_run_would_and_knows_one_core_cannot_pin():
    plans = plan(2)
    assert set(plans) == set(SETTINGS)
    assert not plans["alone"]["b_runs"] and plans["no limits"]["b_runs"]
    assert plans["--cpus 1"]["a"]["cpu_quota"] == plans["--cpus 1"]["a"]["cpu_period"]
    assert plans["no limits"]["a"]["cpu_quota"] == -1
    assert plans["no limits"]["a"]["cpuset_cpus"] == "0-1"
    pinned = plans["--cpuset-cpus"]
    assert (pinned["a"]["cpuset_cpus"], pinned["b"]["cpuset_cpus"]) == ("0", "1")
    assert not any("not_run" in p for p in plans.values())
    assert "1 CPU" in plan(1)["--cpuset-cpus"]["not_run"]


def test_rows_give_each_setting_its_shift_from_a_alone_and_the_load_its_cost():
    record = Neighbours(
        Outcome.ran(),
        cores=2,
        users=1,
        settings=[
            NeighbourSetting("alone", "", "docker pause", Outcome.ran(), Latency(90, 99, 5, [], 9)),
            NeighbourSetting("no limits", "", "", Outcome.ran(), Latency(150, 200, 9, [], 9)),
            NeighbourSetting("--cpuset-cpus", "0", "1", Outcome.not_run("1 CPU")),
        ],
        load_cpu_s=2.0,
        load_s=10.0,
        b_requests=40,
        b_failures=0,
    )
    rows = neighbour_rows(record)
    assert [r["Δp50 vs alone ms"] for r in rows] == [0, 60, None]
    assert rows[2]["outcome"] == "not run: 1 CPU"
    assert "2.0 CPU-s in 10.0 s (20% of one core)" in record.load_note
    assert Neighbours(Outcome.ran()).load_note == "no load generator figures"


def test_neighbours_refuses_bad_arguments_before_docker():
    for bad in ({"requests": 0}, {"rounds": 0}, {"users": 0}, {"threads": 0}):
        with pytest.raises(InputError):
            neighbours("never-built", **bad)


@pytest.mark.docker
@pytest.mark.slow
def test_a_is_measured_in_every_setting(executed_lab):
    """Lab 03's run (issue 17: not repeated here): server A timed in every setting (pinning
    needs two cores), every round's requests counted, and the neighbour B really loaded."""
    record = executed_lab("03").record("Neighbours")
    assert record["outcome"]["status"] == "ran", record["outcome"]
    assert [s["setting"] for s in record["settings"]] == list(SETTINGS)
    measured = [s for s in record["settings"] if s["outcome"]["status"] == "ran"]
    assert len(measured) == (4 if record["cores"] >= 2 else 3)
    for setting in measured:
        latency = setting["latency"]
        assert latency and latency["requests"] == record["requests"] * record["rounds"]
        assert len(latency["round_p50_ms"]) == record["rounds"]
    assert record["b_requests"] and record["b_requests"] > 0 and record["b_failures"] == 0
