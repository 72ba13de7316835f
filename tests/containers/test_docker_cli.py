"""The docker CLI calls (docker save, docker run ... python -m, docker stats --no-stream), the
container context manager, and the records lab 03 writes."""

from __future__ import annotations

import subprocess
import tarfile

import pytest

from mllab.containers import docker_cli
from mllab.containers.base import base_image
from mllab.containers.docker_cli import (
    ContainerFailed,
    DockerStats,
    docker_stats,
    gpu_fields,
    last_json_line,
    parse_stats_table,
    run_module_command,
)
from mllab.containers.layers import ImageSizes
from mllab.containers.parity import ContainerParity, container_parity
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome

STATS_OUTPUT = (
    "CONTAINER ID   NAME     CPU %    MEM USAGE / LIMIT    MEM %    NET I/O   BLOCK I/O   PIDS\n"
    "0123456789ab   server   12.50%   120.3MiB / 7.6GiB    1.55%    0B / 0B   0B / 0B     9\n"
)


def test_run_module_command_runs_python_m_without_network():
    command = run_module_command(
        "img:1", "mllab.x", ["--n", "2"], user="1:2", volumes={"/h": "/c:ro"}, env={"A": "b"}
    )
    assert command[:5] == ["docker", "run", "--rm", "--entrypoint", "python"]
    assert command[command.index("--network") + 1] == "none"
    assert ["--user", "1:2"] == command[command.index("--user") : command.index("--user") + 2]
    assert "/h:/c:ro" in command and "A=b" in command
    assert command[-5:] == ["img:1", "-m", "mllab.x", "--n", "2"]
    assert "--network" not in run_module_command("img:1", "m", network=None)


def test_last_json_line_skips_log_lines():
    assert last_json_line('warning: x\n{"a": 1}\nnot json\n') == {"a": 1}
    with pytest.raises(MllabError, match="no JSON"):
        last_json_line("only\nlogs\n")


def test_run_module_raises_container_failed_with_stderr(monkeypatch):
    def fake_run(command, **kwargs):
        return subprocess.CompletedProcess(command, 3, "", "Traceback...\nValueError: bad\n")

    monkeypatch.setattr(docker_cli.subprocess, "run", fake_run)
    with pytest.raises(ContainerFailed, match="ValueError: bad") as error:
        docker_cli.run_module("img:1", "mllab.x")
    assert error.value.exit_code == 3
    assert docker_cli.run_module("img:1", "mllab.x", check=False).returncode == 3


def test_parse_stats_table_keeps_multi_word_columns():
    columns, row = parse_stats_table(STATS_OUTPUT)
    assert columns[:4] == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT"]
    assert row["CPU %"] == "12.50%" and row["MEM USAGE / LIMIT"] == "120.3MiB / 7.6GiB"


def test_docker_stats_reads_columns_cells_and_gpu_fields(monkeypatch):
    monkeypatch.setattr(
        docker_cli.subprocess,
        "run",
        lambda command, **kwargs: subprocess.CompletedProcess(command, 0, STATS_OUTPUT, ""),
    )
    document = {"cpu_stats": {}, "memory_stats": {"usage": 1}, "devices": {"nvidia_gpu_mem": 5}}
    stats = docker_stats("0123456789ab", document)
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
    assert docker_stats("0123456789ab").gpu_column is True


def test_docker_stats_without_a_cli_is_a_record_not_an_exception(monkeypatch):
    def missing(command, **kwargs):
        raise FileNotFoundError("docker")

    monkeypatch.setattr(docker_cli.subprocess, "run", missing)
    stats = docker_stats("abc")
    assert stats.returncode is None and "FileNotFoundError" in stats.error
    assert stats.columns == [] and stats.gpu_column is None


def test_gpu_fields_walks_nested_keys():
    document = {"a": {"b": 1, "GPU_mem": {"cuda_x": 2}}}
    assert gpu_fields(document) == ["a.GPU_mem", "a.GPU_mem.cuda_x"]
    assert gpu_fields({"cpu_stats": {"x": 1}}) == []


def test_container_parity_records_a_failure_instead_of_raising():
    parity = container_parity("http://127.0.0.1:9", "unused.onnx", None)  # nothing listens on 9
    assert parity.outcome.status == "failed"
    assert parity.delta_l2 is None and parity.max_abs is None and parity.top1_agreement is None
    assert isinstance(parity, ContainerParity)


def test_image_sizes_defaults_are_unmeasured():
    sizes = ImageSizes(outcomes={"naive": Outcome.not_run("BUILD_NAIVE = False")})
    assert sizes.slim_mb is None and sizes.naive_mb is None and sizes.cuda_mb is None
    assert str(sizes.outcomes["naive"]) == "not run: BUILD_NAIVE = False"


# --- with an engine ---------------------------------------------------------------------------


@pytest.mark.docker
def test_save_writes_the_image_tar_and_save_stream_starts_with_it(tmp_path):
    tag = base_image()
    tar = docker_cli.save(tag, tmp_path / "base.tar")
    with tarfile.open(tar) as saved:
        assert "manifest.json" in saved.getnames()
    with docker_cli.save_stream(tag) as stream, tarfile.open(fileobj=stream, mode="r|") as t:
        assert next(iter(t)).name  # readable as a stream; the process is killed on exit
    with pytest.raises(MllabError, match="docker save"):
        docker_cli.save("mllab-test/no-such-image:0", tmp_path / "x.tar")


@pytest.mark.docker
def test_run_module_runs_a_module_in_an_image(tmp_path):
    data = tmp_path / "x.json"
    data.write_text('{"b": [1, 2], "a": "x"}')
    volumes = {str(data): "/in/x.json:ro"}
    args = ["--compact", "--sort-keys", "/in/x.json"]
    assert docker_cli.run_module_json(base_image(), "json.tool", args, volumes=volumes) == {
        "a": "x",
        "b": [1, 2],
    }
    with pytest.raises(ContainerFailed) as error:
        docker_cli.run_module(base_image(), "no_such_module_xyz")
    assert error.value.exit_code == 1 and "No module named" in str(error.value)


@pytest.mark.docker
def test_run_always_removes_the_container(docker_client):
    from mllab.containers.run import run

    name = "mllab-test-run-removed"
    with pytest.raises(RuntimeError, match="boom"):
        with run(base_image(), name=name, wait=None, ports={}, command=["sleep", "60"]) as c:
            assert c.status() == "running"
            stats = c.docker_stats()
            assert stats.returncode == 0 and "CPU %" in stats.columns
            raise RuntimeError("boom")
    assert not docker_client.containers.list(all=True, filters={"name": name})
