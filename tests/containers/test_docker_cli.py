"""The docker CLI calls (the runner and its typed errors, docker save, docker run ... python -m,
docker version, compose), the container context manager, and the records lab 04 writes."""

from __future__ import annotations

import subprocess
import tarfile

import pytest

from mllab.containers import docker_cli
from mllab.containers.base import base_image
from mllab.containers.docker_cli import (
    ContainerFailed,
    DockerCliError,
    last_json_line,
    run_module_command,
)
from mllab.containers.layers import ImageSizes
from mllab.containers.parity import ContainerParity, container_parity
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome


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


def test_docker_runner_raises_typed_errors_with_what_the_cli_printed(monkeypatch):
    seen = []

    def failing(command, **kwargs):
        seen.append((command, kwargs))
        return subprocess.CompletedProcess(command, 1, "", "Error: No such image: x:1\n")

    monkeypatch.setattr(docker_cli.subprocess, "run", failing)
    with pytest.raises(DockerCliError, match="No such image") as error:
        docker_cli.docker(["image", "inspect", "x:1"], env={"A": "b"})
    assert error.value.returncode == 1 and "docker image inspect" in str(error.value)
    command, kwargs = seen[0]
    assert command == ["docker", "image", "inspect", "x:1"] and kwargs["env"]["A"] == "b"
    assert docker_cli.docker(["ps"], check=False).returncode == 1  # no check: the process


def test_docker_runner_without_a_cli_or_over_time_is_a_docker_cli_error(monkeypatch):
    def missing(command, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "docker")

    monkeypatch.setattr(docker_cli.subprocess, "run", missing)
    with pytest.raises(DockerCliError, match="could not start"):
        docker_cli.docker(["ps"], check=False)

    def slow(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(docker_cli.subprocess, "run", slow)
    with pytest.raises(DockerCliError, match="ran over 3 s"):
        docker_cli.docker(["ps"], timeout=3)


def test_version_is_none_when_the_engine_does_not_answer(monkeypatch):
    monkeypatch.setattr(docker_cli.shutil, "which", lambda name: "/usr/bin/docker")
    answers = {"{{.Client.Version}}": (0, "24.0.7\n"), "{{.Server.Version}}": (1, "")}

    def fake_run(command, **kwargs):
        code, out = answers[command[-1]]
        return subprocess.CompletedProcess(command, code, out, "Cannot connect")

    monkeypatch.setattr(docker_cli.subprocess, "run", fake_run)
    assert docker_cli.version("Client") == "24.0.7"
    assert docker_cli.version("Server") is None
    monkeypatch.setattr(docker_cli.shutil, "which", lambda name: None)
    assert docker_cli.version("Client") is None


def test_compose_prefers_docker_compose_v1_and_says_when_neither_is_there(monkeypatch):
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, "up\n", "")

    monkeypatch.setattr(docker_cli.subprocess, "run", fake_run)
    monkeypatch.setattr(docker_cli.shutil, "which", lambda name: "/usr/bin/docker-compose")
    assert docker_cli.compose("c.yml", "p", ["up", "-d"], env={"X": "1"}) == "up\n"
    assert calls[-1] == ["docker-compose", "-f", "c.yml", "-p", "p", "up", "-d"]
    monkeypatch.setattr(docker_cli.shutil, "which", lambda name: None)
    assert docker_cli.compose_command() == ["docker", "compose"]  # the plugin answered
    monkeypatch.setattr(
        docker_cli.subprocess,
        "run",
        lambda command, **kwargs: subprocess.CompletedProcess(command, 1, "", "unknown"),
    )
    with pytest.raises(DockerCliError, match="neither docker-compose"):
        docker_cli.compose_command()
    assert docker_cli.buildx_available() is False


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
