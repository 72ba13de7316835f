"""The ``docker stats`` formulas of :mod:`mllab.containers.monitor`, on a recorded document
(moved here from the lab 06 tests, to mirror the package)."""

from __future__ import annotations

import json

import pytest

from mllab.containers.docker_cli import gpu_fields
from mllab.containers.monitor import cpu_percent, memory_usage, sample_of

MIB = 1024 * 1024

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
