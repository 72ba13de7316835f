"""Lab 03's network and isolation claims (C20, C21): records for every verdict kind each judge
can give, made with the producers' own dataclasses (``mllab.experiments.architecture``:
``networks``, ``neighbours``; a field renamed there breaks these tests), written with
``mllab.core.records.record`` and read back, as a lab run does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mllab.core.outcome import Outcome
from mllab.experiments.architecture.neighbours import Neighbours, NeighbourSetting
from mllab.experiments.architecture.networks import Latency, ModeLatency, NetworkModes
from mllab.report.judges_network import judge_c20, judge_c21
from mllab.report.verdict import NotMeasured

RAN = Outcome.ran()
HOST = ["lo", "eth0", "docker0", "br-1"]


def latency(p50: float, spread: float) -> Latency:
    """A latency with p50 ``p50`` whose three rounds span ``spread``."""
    rounds = [p50 - spread / 2, p50, p50 + spread / 2]
    return Latency(p50, p50 * 1.5, spread, rounds, 30)


def modes(bridge: float = 80.0, host: float = 70.0, spread: float = 4.0, **changed) -> NetworkModes:
    """Bridge, host and user-defined; host faster than bridge beyond the spread by default."""
    made = NetworkModes(
        RAN,
        "mllab/serve:slim",
        3,
        10,
        modes=[
            ModeLatency("bridge", "published", RAN, latency(bridge, spread), latency(1.4, 0.2)),
            ModeLatency("host", "host stack", RAN, latency(host, spread), latency(1.1, 0.2)),
            ModeLatency("user-defined", "routed", RAN, latency(bridge, spread), latency(1.0, 0.2)),
        ],
        host_interfaces=HOST,
        host_mode_interfaces=[*HOST, "veth1"],
        bridge_interfaces=["lo", "eth0"],
    )
    return replace(made, **changed)


def neighbours(alone=90.0, free=180.0, cpus=92.0, pinned=93.0, spread=5.0, **changed) -> Neighbours:
    """A alone, beside a loaded neighbour without limits (the control) and under both limits;
    by default the control slows A and both limits keep A within the spread."""
    settings = [
        NeighbourSetting("alone", "", "docker pause", RAN, latency(alone, spread)),
        NeighbourSetting("no limits", "", "", RAN, latency(free, spread)),
        NeighbourSetting("--cpus 1", "--cpus 1", "--cpus 1", RAN, latency(cpus, spread)),
        NeighbourSetting("--cpuset-cpus", "0", "1", RAN, latency(pinned, spread)),
    ]
    made = Neighbours(
        RAN,
        "mllab/serve:slim",
        cores=2,
        threads=1,
        b_threads=2,
        rounds=3,
        requests=5,
        users=1,
        settings=settings,
        load_cpu_s=0.5,
        load_s=20.0,
        b_requests=60,
        b_failures=0,
    )
    return replace(made, **changed)


def judged(results_of, judge, item):
    return judge(results_of(("03", item)))


# --- C20 ------------------------------------------------------------------------------------


def test_c20_holds_when_host_is_faster_beyond_the_spread_and_sees_the_hosts_interfaces(
    results_of,
):
    row = judged(results_of, judge_c20, modes())
    assert row.verdict.kind == "holds", row
    assert "faster by 10.0 ms" in row.verdict.text
    assert "sees all 4 host interfaces" in row.verdict.text
    assert "[03:NetworkModes]" in row.measured and "user-defined p50 80.0" in row.measured


def test_c20_does_not_hold_when_the_gain_is_within_the_spread(results_of):
    row = judged(results_of, judge_c20, modes(bridge=80.0, host=78.0, spread=4.0))
    assert row.verdict.kind == "does not hold", row
    assert "no measurable gain here" in row.verdict.text
    assert "isolation: a host-mode container sees all 4" in row.verdict.text


def test_c20_does_not_hold_when_host_is_slower_or_isolates(results_of):
    slower = judged(results_of, judge_c20, modes(bridge=70.0, host=80.0))
    assert slower.verdict.kind == "does not hold" and "slower by 10.0 ms" in slower.verdict.text
    isolated = judged(results_of, judge_c20, modes(host_mode_interfaces=["lo", "eth0"]))
    assert isolated.verdict.kind == "does not hold", isolated
    assert "does not see 2 host interfaces (br-1, docker0)" in isolated.verdict.text


def test_c20_holds_in_part_when_one_half_was_not_measured(results_of):
    failed = ModeLatency("host", "host stack", Outcome.failed("ConnectError: refused"))
    record = modes()
    record.modes[1] = failed
    row = judged(results_of, judge_c20, record)
    assert row.verdict.kind == "holds in part", row
    assert "performance: not measured (host: failed: ConnectError: refused)" in row.verdict.text
    no_lists = judged(results_of, judge_c20, modes(host_mode_interfaces=[]))
    assert no_lists.verdict.kind == "holds in part"


def test_c20_is_not_measured_without_the_record_or_both_halves(results_of):
    with pytest.raises(NotMeasured, match="NetworkModes not recorded"):
        judge_c20(results_of())
    with pytest.raises(NotMeasured, match="not run: no Docker"):
        judge_c20(results_of(("03", NetworkModes(Outcome.not_run("no Docker engine answers")))))
    with pytest.raises(NotMeasured, match="performance: not measured"):
        judge_c20(results_of(("03", modes(modes=[], host_mode_interfaces=[]))))


# --- C21 ------------------------------------------------------------------------------------


def test_c21_holds_when_both_limits_keep_a_within_the_spread_and_the_control_moves(results_of):
    row = judged(results_of, judge_c21, neighbours())
    assert row.verdict.kind == "holds", row
    assert "with --cpus 1, --cpuset-cpus A's p50 stays within" in row.verdict.text
    assert "the unlimited neighbour added 90.0 ms" in row.verdict.text
    assert "[03:Neighbours]" in row.measured


def test_c21_does_not_hold_naming_the_setting_under_which_a_slowed(results_of):
    row = judged(results_of, judge_c21, neighbours(pinned=120.0))
    assert row.verdict.kind == "does not hold", row
    assert "with --cpuset-cpus A's p50 grew by 30.0 ms (+33%)" in row.verdict.text
    assert "--cpus 1" not in row.verdict.text.split("(the unlimited")[0]


def test_c21_holds_in_part_when_pinning_could_not_be_measured(results_of):
    record = neighbours()
    why = "the engine has 1 CPU: two containers cannot be pinned to separate cores"
    record.settings[3] = NeighbourSetting("--cpuset-cpus", "", "", Outcome.not_run(why))
    row = judged(results_of, judge_c21, record)
    assert row.verdict.kind == "holds in part", row
    assert "not measured: --cpuset-cpus not run: the engine has 1 CPU" in row.verdict.text


def test_c21_is_not_measured_when_the_control_shows_no_effect(results_of):
    with pytest.raises(NotMeasured, match="the control failed") as caught:
        judge_c21(results_of(("03", neighbours(free=93.0))))
    assert "[03:Neighbours]" in caught.value.measured
    with pytest.raises(NotMeasured, match="Neighbours not recorded"):
        judge_c21(results_of())
    missing_alone = neighbours()
    missing_alone.settings.pop(0)
    with pytest.raises(NotMeasured, match="'alone' not recorded"):
        judge_c21(results_of(("03", missing_alone)))


def test_c21_draws_the_line_at_a_alones_spread_not_at_a_noisy_settings(results_of):
    record = neighbours(spread=2.0)
    record.settings[3] = replace(record.settings[3], latency=latency(100.0, 40.0))
    row = judged(results_of, judge_c21, record)
    assert row.verdict.kind == "does not hold", row
    assert "grew by 10.0 ms (+11%), beyond A alone's spread 2.0 ms" in row.verdict.text
