"""The environment fingerprint M(E), its diff, and ``mllab doctor``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mllab.cli.main import build_parser
from mllab.core.outcome import Outcome
from mllab.experiments.environment import fingerprint as env
from mllab.runtime import cgroup


def test_fingerprint_has_the_fields():
    fp = env.fingerprint()
    for key in ("os", "python", "packages", "cpu", "cgroup", "nvidia", "onnxruntime", "docker"):
        assert key in fp
    assert fp["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert fp["packages"]["numpy"] is not None
    assert fp["cpu"]["usable_cpus"] >= 1


def test_fingerprint_reports_working_providers_and_no_verdict():
    fp = env.fingerprint()
    assert "CPUExecutionProvider" in fp["onnxruntime"]["working_providers"]
    assert "cuda_compatibility" not in fp, "C9 is observed by mllab.runtime.compat, not guessed"
    assert set(fp["nvidia"]) == {"driver", "driver_max_cuda", "gpus", "ort_build_cuda"}


def test_diff_names_what_changed_and_ignores_volatile_fields():
    a = {"captured_at": "t1", "python": {"version": "3.11.7"}, "packages": {"numpy": "2.4"}}
    b = {"captured_at": "t2", "python": {"version": "3.11.2"}, "packages": {"numpy": None}}
    assert env.diff(a, b) == [
        ("packages.numpy", "2.4", None),
        ("python.version", "3.11.7", "3.11.2"),
    ]
    assert env.diff(a, a) == []
    assert "no differences" in env.format_diff([])


def test_format_diff_is_a_table():
    text = env.format_diff([("python.version", "3.11.7", "3.11.2")], ("host", "container"))
    header, rule, row = text.splitlines()
    assert header.split() == ["field", "host", "container"] and set(rule) <= {"-", " "}
    assert row.split() == ["python.version", "'3.11.7'", "'3.11.2'"]


def test_summary_of_host_and_container():
    host = env.fingerprint()
    container = {**host, "python": {**host["python"], "version": "3.11.2"}}
    summary = env.summarize(host, container, Outcome.ran(), {"host": "E_host.json"})
    assert summary.differences == 1 and summary.kernel_equal is True
    assert summary.working_providers == host["onnxruntime"]["working_providers"]
    alone = env.summarize(host, None, Outcome.not_run("no Docker engine"))
    assert alone.differences is None and alone.kernel_equal is None
    assert str(alone.container) == "not run: no Docker engine"


def test_cgroup_quota_v2(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    (tmp_path / "memory.max").write_text("536870912\n")
    assert cgroup.cpu_quota(tmp_path) == 1.5
    assert cgroup.memory_limit(tmp_path) == 536870912
    (tmp_path / "cpu.max").write_text("max 100000\n")
    (tmp_path / "memory.max").write_text("max\n")
    assert cgroup.cpu_quota(tmp_path) is None and cgroup.memory_limit(tmp_path) is None


def test_doctor_json_is_valid_json():
    done = subprocess.run(
        [sys.executable, "-m", "mllab", "doctor", "--json"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    fp = json.loads(done.stdout)
    assert fp["onnxruntime"]["working_providers"]


def test_doctor_diff(tmp_path, capsys):
    parser = build_parser(groups=("doctor",))
    a = env.save({"python": {"version": "1"}}, tmp_path / "a.json")
    b = env.save({"python": {"version": "2"}}, tmp_path / "b.json")
    args = parser.parse_args(["doctor", "--diff", str(a), str(b)])
    assert args.func(args) == 0
    assert "python.version" in capsys.readouterr().out


@pytest.mark.docker
def test_fingerprint_inside_the_base_container(docker_client):
    from mllab.containers.base import base_image

    inside = env.fingerprint_in_container(base_image(), cpus=1, memory="256m")
    assert inside["in_container"] is True
    assert inside["cgroup"]["cpu_quota"] == 1.0
    assert inside["cgroup"]["memory_limit_bytes"] == 256 * 2**20
    assert inside["packages"]["torch"] is None, "E_venv ⊂ E_Docker: the image decides"
    assert inside["os"]["kernel"] == env.fingerprint()["os"]["kernel"], "same kernel as the host"
