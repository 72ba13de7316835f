"""The environment fingerprint M(E), its diff, and ``mllab doctor``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mllab.runtime import cgroup
from mllab.experiments import fingerprint as env


def test_fingerprint_has_the_fields():
    fp = env.fingerprint()
    for key in ("os", "python", "packages", "cpu", "cgroup", "nvidia", "onnxruntime", "docker"):
        assert key in fp
    assert fp["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert fp["packages"]["numpy"] is not None
    assert fp["cpu"]["usable_cpus"] >= 1


def test_working_providers_are_verified_not_listed():
    ort = env.ort_info()
    assert "CPUExecutionProvider" in ort["working_providers"]
    assert set(ort["working_providers"]) <= set(ort["available_providers"])
    if env.nvidia_driver() is None:  # no GPU: CUDA may be listed, it must not be "working"
        assert "CUDAExecutionProvider" not in ort["working_providers"]


def test_diff_names_what_changed_and_ignores_volatile_fields():
    a = {"captured_at": "t1", "python": {"version": "3.11.7"}, "packages": {"numpy": "2.4"}}
    b = {"captured_at": "t2", "python": {"version": "3.11.2"}, "packages": {"numpy": None}}
    assert env.diff(a, b) == [
        ("packages.numpy", "2.4", None),
        ("python.version", "3.11.7", "3.11.2"),
    ]
    assert env.diff(a, a) == []
    assert "no differences" in env.format_diff([])


def test_cuda_compatibility_verdicts():
    no_gpu = env.cuda_compatibility({"driver": None, "ort_build_cuda": "13.0"})
    assert "not measurable" in no_gpu["verdict"]
    old = env.cuda_compatibility(
        {"driver": "535.1", "driver_max_cuda": "12.2", "ort_build_cuda": "13.0"}
    )
    assert "does not hold" in old["verdict"] and "insufficient" in old["verdict"]
    new = env.cuda_compatibility(
        {"driver": "580.6", "driver_max_cuda": "13.0", "ort_build_cuda": "13.0"}
    )
    assert new["verdict"].endswith("holds")


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
    from mllab.cli.main import main

    a = env.save({"python": {"version": "1"}}, tmp_path / "a.json")
    b = env.save({"python": {"version": "2"}}, tmp_path / "b.json")
    assert main(["doctor", "--diff", str(a), str(b)]) == 0
    assert "python.version" in capsys.readouterr().out


@pytest.mark.docker
def test_fingerprint_inside_the_base_container(docker_client):
    from mllab.containers import images

    inside = env.fingerprint_in_container(images.base_image(), cpus=1, memory="256m")
    assert inside["in_container"] is True
    assert inside["cgroup"]["cpu_quota"] == 1.0
    assert inside["cgroup"]["memory_limit_bytes"] == 256 * 2**20
    assert inside["packages"]["torch"] is None, "E_venv ⊂ E_Docker: the image decides"
    assert inside["os"]["kernel"] == env.fingerprint()["os"]["kernel"], "same kernel as the host"
