"""The probe (``python -m mllab.experiments.resources.probe``): cgroup readers, a native run on a
tiny
model, and a container run that sees the quota (lab 07)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mllab.core.errors import InputError
from mllab.experiments.resources.probe import COMMAND, cpu_stat, main, memory_peak, probe_args
from mllab.experiments.resources.probe_runs import native_probe, probe_result


def test_cpu_stat_reads_v2_microseconds_and_v1_nanoseconds(tmp_path: Path):
    (tmp_path / "cpu.stat").write_text(
        "usage_usec 10\nnr_periods 40\nnr_throttled 7\nthrottled_usec 2500\n"
    )
    assert cpu_stat(tmp_path) == {"nr_periods": 40, "nr_throttled": 7, "throttled_ms": 2.5}
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.stat").write_text("nr_periods 4\nnr_throttled 1\nthrottled_time 3000000\n")
    assert cpu_stat(v1) == {"nr_periods": 4, "nr_throttled": 1, "throttled_ms": 3.0}
    assert cpu_stat(tmp_path / "none") is None


def test_memory_peak_reads_v2_then_v1(tmp_path: Path):
    assert memory_peak(tmp_path) is None
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "memory.max_usage_in_bytes").write_text("2048\n")
    assert memory_peak(tmp_path) == 2048
    (tmp_path / "memory.peak").write_text("4096\n")
    assert memory_peak(tmp_path) == 4096


def test_the_probe_module_imports_neither_torch_nor_docker():
    code = (
        "import sys, mllab.experiments.resources.probe; "
        "print('torch' in sys.modules, 'docker' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_the_probe_refuses_an_unknown_action(capsys):
    assert main(["explode"]) == 2
    assert "usage" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [("threads", "all"), ("threads", 0), ("repeats", 0)])
def test_probe_arguments_are_checked_before_anything_runs(bad):
    args = {"policy": "quota", "repeats": 3, "warmup": 1, "batch": 1, "cgroup": False}
    key = "policy" if bad[0] == "threads" else bad[0]
    args[key] = bad[1]
    with pytest.raises(InputError):
        probe_args(**args)


def test_the_native_probe_times_a_tiny_model_with_a_fixed_pool(tiny_model: Path):
    run = native_probe(tiny_model, threads=1, repeats=5, warmup=1, batch=2)
    assert run.where == "native" and run.threads == 1 and run.repeats == 5
    assert len(run.samples_ms) == 5
    assert run.p50_ms <= run.p99_ms <= run.max_ms
    assert run.nr_periods is None  # natively the host's cgroup is not read
    assert run.cpu_count == os.cpu_count()


def test_probe_result_summarises_the_samples_and_throttling():
    raw = {
        "samples_ms": [10.0, 20.0, 30.0, 40.0],
        "wall_s": 0.2,
        "threads": 2,
        "throttle": {"nr_periods": 10, "nr_throttled": 4, "throttled_ms": 5.0},
        "quota": 0.5,
    }
    run = probe_result(raw, "container", 0.5, "host", batch=2)
    assert run.p50_ms == pytest.approx(25.0) and run.max_ms == 40.0 and run.mean_ms == 25.0
    assert run.throughput == pytest.approx(2 * 4 / 0.2)
    assert run.throttled_fraction == pytest.approx(0.4)
    assert run.quota_seen == 0.5


def test_the_probe_prints_one_json_line_when_run_as_a_module(tiny_model: Path):
    args = json.dumps({"threads": 1, "repeats": 2, "warmup": 0, "batch": 1, "cgroup": False})
    done = subprocess.run(
        [sys.executable, *COMMAND, "time", args],
        env={**os.environ, "MODEL_PATH": str(tiny_model)},
        capture_output=True,
        text=True,
        check=True,
    )
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(raw["samples_ms"]) == 2 and raw["threads"] == 1


@pytest.mark.docker
def test_the_probe_sees_the_quota_and_sizes_threads_from_it(slim):
    from mllab.experiments.resources.probe_runs import run_probe

    host = run_probe(slim, cpus=0.5, threads="host", repeats=2, warmup=1)
    quota = run_probe(slim, cpus=0.5, threads="quota", repeats=2, warmup=1)
    cores = os.cpu_count()
    assert host.quota_seen == pytest.approx(0.5) and quota.quota_seen == pytest.approx(0.5)
    assert host.cpu_count == cores  # inside the container: the host's cores
    assert host.threads == cores
    assert quota.threads == 1  # ceil(0.5): the server's default
    assert quota.nr_periods is not None and quota.nr_periods > 0  # cpu.stat was read
