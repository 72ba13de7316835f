"""Resource limits, docker stats, load tests and scale-out (lab 06).

Pure functions (the L(c) fit, the CLI's CPU % and memory formulas, argument checks) run
everywhere; the rest needs the engine (``docker``) and the slim image, the long runs ``slow``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mllab.core.errors import InputError
from mllab.experiments.load import check_loopback, result_of, timeline
from mllab.containers.monitor import cpu_percent, gpu_fields, memory_usage, sample_of
from mllab.experiments.resources import MIB, explain_exit, fit_lc, parse_cpus, parse_memory

#: one document of the engine's stats API, recorded from the slim server under load on this
#: kit's 2-core machine (docker 20.10, cgroup v1), trimmed to the fields the formulas read
RECORDED_STATS = json.loads(
    """{"read": "2026-11-24T20:45:39.995222069Z", "preread": "2026-11-24T20:45:38.987273899Z",
    "pids_stats": {"current": 5},
    "cpu_stats": {"cpu_usage": {"total_usage": 1722157787,
      "percpu_usage": [541679314, 1180478473]}, "system_cpu_usage": 3988850000000,
      "online_cpus": 2, "throttling_data": {"periods": 0, "throttled_periods": 0,
      "throttled_time": 0}},
    "precpu_stats": {"cpu_usage": {"total_usage": 1406253691,
      "percpu_usage": [479119854, 927133837]}, "system_cpu_usage": 3986830000000,
      "online_cpus": 2},
    "memory_stats": {"usage": 339161088, "limit": 1073741824,
      "stats": {"total_inactive_file": 12288, "cache": 12050432, "rss": 324050944}}}"""
)


# --- L(c) ~ 1/min(c, c_opt) ----------------------------------------------------------------------


def test_fit_lc_recovers_c_opt_from_noisy_synthetic_data():
    rng = np.random.default_rng(0)
    c = np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0])
    latency = 120.0 / np.minimum(c, 1.5) * (1 + 0.02 * rng.standard_normal(c.size))
    fit = fit_lc(c, latency)
    assert fit.c_opt == pytest.approx(1.5, abs=0.1)
    assert fit.scale_ms == pytest.approx(120.0, rel=0.05)
    assert fit.r2 > 0.99
    assert fit.identified
    assert fit.predict(4.0) == pytest.approx(fit.scale_ms / fit.c_opt)


def test_fit_lc_says_when_c_opt_is_beyond_the_measured_range():
    c = [0.5, 1.0, 2.0]
    fit = fit_lc(c, [400.0, 200.0, 100.0])  # still 1/c at the largest c: no knee seen
    assert fit.c_opt == pytest.approx(2.0)
    assert not fit.identified
    assert fit.r2 == pytest.approx(1.0)


def test_fit_lc_knee_at_one_thread():
    # one ONNX Runtime thread: more than one CPU of quota cannot help
    fit = fit_lc([0.5, 1.0, 2.0], [100.0, 50.0, 50.0])
    assert fit.c_opt == pytest.approx(1.0, abs=0.01)
    assert fit.identified


@pytest.mark.parametrize(
    "c, latency",
    [([1.0], [10.0]), ([1.0, 1.0], [10.0, 11.0]), ([0.0, 1.0], [1.0, 1.0]), ([1, 2], [1, np.nan])],
)
def test_fit_lc_refuses_what_cannot_be_fitted(c, latency):
    with pytest.raises(InputError):
        fit_lc(c, latency)


# --- docker stats formulas ---------------------------------------------------------------------


def test_cpu_percent_is_the_cli_formula_on_a_recorded_sample():
    # Δ container CPU / Δ host CPU × online CPUs × 100, worked by hand from the document
    expected = (1722157787 - 1406253691) / (3988850000000 - 3986830000000) * 2 * 100
    assert cpu_percent(RECORDED_STATS) == pytest.approx(expected)
    assert cpu_percent(RECORDED_STATS) == pytest.approx(31.28, abs=0.01)


def test_cpu_percent_counts_percpu_entries_when_online_cpus_is_missing():
    stats = json.loads(json.dumps(RECORDED_STATS))
    del stats["cpu_stats"]["online_cpus"]
    assert cpu_percent(stats) == pytest.approx(cpu_percent(RECORDED_STATS))


def test_cpu_percent_is_zero_without_a_previous_sample():
    first = {**RECORDED_STATS, "precpu_stats": {"cpu_usage": {"total_usage": 0}}}
    first["precpu_stats"]["system_cpu_usage"] = RECORDED_STATS["cpu_stats"]["system_cpu_usage"]
    assert cpu_percent(first) == 0.0  # no host time passed: the CLI shows 0.00%


def test_memory_usage_subtracts_inactive_page_cache_v1_and_v2():
    assert memory_usage(RECORDED_STATS) == 339161088 - 12288
    v2 = {"memory_stats": {"usage": 1000, "stats": {"inactive_file": 300}}}
    assert memory_usage(v2) == 700
    assert memory_usage({"memory_stats": {"usage": 1000, "stats": {}}}) == 1000


def test_a_sample_carries_limit_pids_and_throttling_and_no_gpu_field():
    sample = sample_of(RECORDED_STATS, 1.0)
    assert sample.memory_limit_bytes == 1024 * MIB
    assert sample.pids == 5
    assert sample.throttled_periods == 0
    assert sample.memory_percent == pytest.approx(100 * (339161088 - 12288) / 2**30)
    assert gpu_fields(RECORDED_STATS) == []
    assert gpu_fields({"a": {"gpu_memory": 1}}) == ["a.gpu_memory"]


# --- argument checks: bad input changes nothing ---------------------------------------------


def test_parse_memory_units_and_refusals():
    assert parse_memory("150m") == 150 * MIB
    assert parse_memory("1g") == 1024 * MIB
    assert parse_memory("512MiB") == 512 * MIB
    for bad in ("lots", "-1m", "1t", "1k"):
        with pytest.raises(InputError):
            parse_memory(bad)


def test_parse_cpus_refuses_more_than_the_host_or_zero():
    assert parse_cpus("0.5") == 0.5
    assert parse_cpus(None) is None
    for bad in (0, -1, (os.cpu_count() or 1) + 1, "two"):
        with pytest.raises(InputError):
            parse_cpus(bad)


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.1:8080", "ftp://127.0.0.1"])
def test_load_goes_only_to_loopback(url):
    with pytest.raises(InputError):
        check_loopback(url)
    assert check_loopback("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"


def test_load_result_percentiles_and_timeline_from_records():
    records = [[0.1 * i, float(10 + i), 0] for i in range(1, 21)] + [[2.05, 5.0, 1]]
    raw = {
        "records": records,
        "url": "http://127.0.0.1:1",
        "users": 2,
        "spawn_rate": 2.0,
        "payload": "npy",
        "duration_s": 2.1,
        "stopped_by": "requests",
        "locust": {},
        "errors": {"ConnectionError": 1},
    }
    result = result_of(raw)
    assert result.requests == 21 and result.failures == 1
    assert result.p50_ms == pytest.approx(np.percentile(np.arange(11, 31), 50))
    assert result.rps == pytest.approx(21 / 2.1)
    rows = timeline(np.array([0.5, 0.6, 1.2, 2.0]), np.arange(1.0, 5.0), np.zeros(4, bool))
    assert [r["t_s"] for r in rows] == [1.0, 2.0]
    assert [r["rps"] for r in rows] == [2.0, 2.0]  # the last answer counts in the last window
    assert rows[0]["p50_ms"] == pytest.approx(1.5)
    sliver = timeline(np.array([0.5, 1.0, 1.1]), np.ones(3), np.zeros(3, bool))
    assert len(sliver) == 1 and sliver[0]["rps"] == pytest.approx(3 / 1.1)  # folded in


# --- gevent: locust stays in its subprocess ------------------------------------------------------


def test_importing_the_load_module_does_not_import_locust_or_gevent():
    code = (
        "import sys, mllab.experiments.load, mllab.experiments.resources, mllab.containers.monitor; "
        "print('gevent' in sys.modules, 'locust' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
    assert "locust" not in sys.modules  # nor in this pytest process


def test_importing_locust_turns_threads_into_greenlets():
    from mllab.experiments.load import gevent_effect

    effect = gevent_effect()
    assert not effect["plain"]["threading_patched"]
    assert effect["locust"]["threading_patched"] and effect["locust"]["socket_patched"]
    assert effect["plain"]["parallelism"] > 1.5  # two OS threads block side by side
    assert effect["locust"]["parallelism"] < 1.3  # two greenlets block one after the other


# --- with the engine -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slim(docker_client):
    from mllab.experiments.resources import slim_image

    return slim_image()


@pytest.mark.docker
def test_the_probe_sees_the_quota_and_sizes_threads_from_it(slim):
    from mllab.experiments.resources import run_probe

    host = run_probe(slim, cpus=0.5, threads="host", repeats=2, warmup=1)
    quota = run_probe(slim, cpus=0.5, threads="quota", repeats=2, warmup=1)
    cores = os.cpu_count()
    assert host.quota_seen == pytest.approx(0.5) and quota.quota_seen == pytest.approx(0.5)
    assert host.cpu_count == cores  # inside the container: the host's cores
    assert host.threads == cores
    assert quota.threads == 1  # ceil(0.5): the server's default
    assert quota.nr_periods is not None and quota.nr_periods > 0  # cpu.stat was read


@pytest.mark.docker
def test_an_oom_kill_is_reported_in_words(slim):
    from mllab.experiments.resources import oom_demo

    result = oom_demo(slim, memory="150m")
    assert result.exit_code == 137
    assert result.oom_killed
    assert result.needed_bytes and result.needed_bytes > 150 * MIB
    need = f"~{result.needed_bytes / MIB:.0f} MiB measured"
    assert "OOM killer" in result.message
    assert "memory limit 150 MiB is below what the model needs" in result.message
    assert need in result.message


@pytest.mark.docker
def test_explain_exit_of_a_normal_and_a_failing_container(slim, docker_client):
    for command, words in ((["true"], "exited normally"), (["sh", "-c", "exit 3"], "code 3")):
        container = docker_client.containers.run(slim, command, detach=True)
        try:
            container.wait(timeout=60)
            assert words in explain_exit(container)
        finally:
            container.remove(force=True)


@pytest.mark.docker
@pytest.mark.slow
def test_locust_500_requests_8_users_no_failures_with_docker_stats(slim):
    from mllab.containers import images
    from mllab.experiments.load import run_load
    from mllab.containers.monitor import StatsMonitor

    with images.run(slim, name="mllab06-test-load", read_only=True) as server:
        with StatsMonitor(server.container) as monitor:
            result = run_load(server.url, users=8, requests=500, max_seconds=420)
    assert result.stopped_by == "requests", result.summary()
    assert result.requests == 500
    assert result.failures == 0, result.errors
    assert result.rps > 0 and result.p50_ms <= result.p95_ms <= result.p99_ms
    assert result.locust["num_failures"] == 0
    assert monitor.error is None
    assert len(monitor.samples) >= 3
    assert max(s.cpu_percent for s in monitor.samples) > 10  # the server worked
    assert monitor.gpu_fields == []  # docker stats has no GPU memory (lecture's claim C13)


@pytest.mark.docker
@pytest.mark.slow
def test_two_replicas_behind_nginx_share_the_requests(slim):
    from mllab.experiments.resources import replicas_up, upstreams_seen

    with replicas_up(2, tag=slim) as url:
        seen = upstreams_seen(url, 8)
    assert len(seen) == 2, seen
    assert all(count >= 2 for count in seen.values())


@pytest.mark.docker
def test_overhead_compares_the_same_threads_and_cleans_its_cgroups(slim):
    from mllab.experiments.resources import PREFIX, cpu_cgroup_root, overhead

    result = overhead(slim, threads=1, rounds=2, repeats=3, warmup=1, progress=False)
    assert [r.threads for r in result.container] == [1, 1]
    assert [r.threads for r in result.native] == [1, 1]
    assert [r.where for r in result.container] == ["container"] * 2
    assert result.eta > 0 and len(result.ratios) == 2
    assert result.eta == pytest.approx(float(np.median(result.ratios)))
    root = cpu_cgroup_root()
    if root is not None:
        assert result.cgroups.startswith("own sibling CPU cgroups")
        assert not list(root.parent.glob(f"*/{PREFIX}-*"))  # removed afterwards


def test_overhead_refuses_bad_arguments_before_starting_anything():
    from mllab.experiments.resources import overhead

    with pytest.raises(InputError):
        overhead(tag="never-built", rounds=0)
    with pytest.raises(InputError):
        overhead(tag="never-built", threads=-1)
