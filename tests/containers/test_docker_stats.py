"""``docker stats`` (:mod:`mllab.containers.docker_stats`): the ``--no-stream`` table as the CLI
prints it, and the CLI's formulas on a recorded stats API document."""

from __future__ import annotations

import json
import subprocess

import pytest

from mllab.containers import docker_cli
from mllab.containers.docker_stats import (
    DockerStats,
    cpu_percent,
    gpu_fields,
    memory_usage,
    parse_stats_table,
    sample_of,
    snapshot,
)

STATS_OUTPUT = (
    "CONTAINER ID   NAME     CPU %    MEM USAGE / LIMIT    MEM %    NET I/O   BLOCK I/O   PIDS\n"
    "0123456789ab   server   12.50%   120.3MiB / 7.6GiB    1.55%    0B / 0B   0B / 0B     9\n"
)

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


def test_parse_stats_table_keeps_multi_word_columns():
    columns, row = parse_stats_table(STATS_OUTPUT)
    assert columns[:4] == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT"]
    assert row["CPU %"] == "12.50%" and row["MEM USAGE / LIMIT"] == "120.3MiB / 7.6GiB"


def test_snapshot_reads_columns_cells_and_gpu_fields(monkeypatch):
    seen = []

    def fake_run(command, **kwargs):
        seen.append(command)
        return subprocess.CompletedProcess(command, 0, STATS_OUTPUT, "")

    monkeypatch.setattr(docker_cli.subprocess, "run", fake_run)
    document = {"cpu_stats": {}, "memory_stats": {"usage": 1}, "devices": {"nvidia_gpu_mem": 5}}
    stats = snapshot("0123456789ab", document)
    assert seen == [["docker", "stats", "--no-stream", "0123456789ab"]]
    assert stats == DockerStats(
        returncode=0,
        error=None,
        columns=parse_stats_table(STATS_OUTPUT)[0],
        gpu_column=False,
        gpu_fields=["devices.nvidia_gpu_mem"],
        cpu_percent="12.50%",
        mem_usage="120.3MiB / 7.6GiB",
    )
    with_gpu = STATS_OUTPUT.replace("PIDS", "GPU MEM")
    monkeypatch.setattr(
        docker_cli.subprocess,
        "run",
        lambda command, **kwargs: subprocess.CompletedProcess(command, 0, with_gpu, ""),
    )
    assert snapshot("0123456789ab").gpu_column is True


def test_snapshot_without_a_cli_is_a_record_not_an_exception(monkeypatch):
    def missing(command, **kwargs):
        raise FileNotFoundError("docker")

    monkeypatch.setattr(docker_cli.subprocess, "run", missing)
    stats = snapshot("abc")
    assert stats.returncode is None and "DockerCliError" in stats.error
    assert stats.columns == [] and stats.gpu_column is None


def test_snapshot_of_a_failing_cli_keeps_its_code_and_words(monkeypatch):
    monkeypatch.setattr(
        docker_cli.subprocess,
        "run",
        lambda command, **kwargs: subprocess.CompletedProcess(command, 1, "", "No such container"),
    )
    stats = snapshot("abc", {"gpu": 1})
    assert (stats.returncode, stats.error, stats.gpu_fields) == (1, "No such container", ["gpu"])


def test_gpu_fields_walks_nested_keys():
    document = {"a": {"b": 1, "GPU_mem": {"cuda_x": 2}}}
    assert gpu_fields(document) == ["a.GPU_mem", "a.GPU_mem.cuda_x"]
    assert gpu_fields({"cpu_stats": {"x": 1}}) == []


@pytest.mark.docker
@pytest.mark.slow
def test_docker_stats_of_the_slim_server_reads_the_cli_columns():
    from mllab.containers.build import build_slim
    from mllab.containers.run import docker_stats_of_image

    stats = docker_stats_of_image(build_slim(), name="mllab-test-stats")
    assert stats.returncode == 0 and stats.error is None, stats
    assert "CPU %" in stats.columns and stats.cpu_percent is not None
