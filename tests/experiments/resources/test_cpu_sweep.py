"""The sweep measures each (quota, session) once: a policy that gives the same threads as an
earlier one at the same quota reuses its run, and the table says so."""

import os

import pytest

from mllab.experiments.resources import cpu_sweep as sweep_module
from mllab.experiments.resources.cpu_sweep import CpuSweep, _same_session, expected_threads
from mllab.experiments.resources.probe_runs import ProbeRun


def test_expected_threads_follow_the_probe_policies():
    cores = os.cpu_count() or 1
    assert expected_threads(0.5, "host") == cores
    assert expected_threads(0.5, "quota") == 1
    assert expected_threads(None, "quota") == cores
    assert expected_threads(1.5, "quota") == min(cores, 2)
    assert expected_threads(2.0, 1) == 1


def test_only_points_with_the_same_quota_and_threads_are_twins(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    points = [(c, p) for c in (0.5, 1.0, 2.0) for p in ("host", "quota", 1)]
    twins = _same_session(points)
    # quota at 0.5 and 1 gives 1 thread, like the fixed 1; at 2 it gives the host's 2
    assert twins == {
        (0.5, 1): (0.5, "quota"),
        (1.0, 1): (1.0, "quota"),
        (2.0, "quota"): (2.0, "host"),
    }
    monkeypatch.setattr(os, "cpu_count", lambda: 8)  # more cores: every point is its own
    assert _same_session(points) == {(0.5, 1): (0.5, "quota"), (1.0, 1): (1.0, "quota")}


def _run(cpus, policy, threads, mean):
    return ProbeRun("container", cpus, policy, threads, 4, mean, mean, mean, mean, 1000 / mean)


def test_a_twin_is_measured_once_and_labelled(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    calls = []

    def fake_probe(tag, cpus, policy, repeats, warmup, cgroup_parent=None):
        calls.append((cpus, policy))
        return _run(cpus, policy, expected_threads(cpus, policy), 10.0 + len(calls))

    monkeypatch.setattr(sweep_module, "run_probe", fake_probe)
    result = sweep_module.cpu_sweep(
        "t", [2.0], ["host", "quota", 1], own_groups=False, progress=False
    )
    assert calls == [(2.0, "host"), (2.0, 1)]  # quota at --cpus=2 on 2 cores is the host's pool
    rows = {row["policy"]: row for row in result.rows()}
    assert rows["quota"]["mean_ms"] == rows["host"]["mean_ms"]
    assert rows["quota"]["measured as"] == "host" and rows[1]["measured as"] == ""
    assert result.same_runs == [[2.0, "quota", "host"]]


def test_a_sweep_without_twins_has_no_extra_column():
    sweep = CpuSweep([_run(0.5, "host", 2, 10.0)], rounds=1, cgroups="test")
    assert "measured as" not in sweep.rows()[0]


@pytest.mark.parametrize("bad", [0, -1])
def test_bad_quotas_are_refused_before_anything_runs(bad, monkeypatch):
    monkeypatch.setattr(sweep_module, "run_probe", lambda *a, **k: pytest.fail("ran"))
    with pytest.raises(Exception, match=r"cpus|quota"):
        sweep_module.cpu_sweep("t", [bad], ["host"], own_groups=False, progress=False)
