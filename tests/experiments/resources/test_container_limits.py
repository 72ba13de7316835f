"""``--cpus`` / ``--memory`` arguments and exits explained in words (lab 07)."""

from __future__ import annotations

import os

import pytest

from mllab.core.errors import InputError
from mllab.experiments.resources.container_limits import (
    MIB,
    container_limits,
    explain_exit,
    limit_options,
    parse_cpus,
    parse_memory,
)


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


def test_container_limits_forbid_swap_beyond_the_memory_limit():
    limits = container_limits(0.5, "150m")
    assert limits == {
        "nano_cpus": 500_000_000,
        "mem_limit": 150 * MIB,
        "memswap_limit": 150 * MIB,
    }
    assert container_limits(None, None) == {}


def test_limit_options_are_the_same_limits_as_docker_run_options():
    assert limit_options(0.5, "150m") == [
        "--cpus=0.5",
        f"--memory={150 * MIB}b",
        f"--memory-swap={150 * MIB}b",
    ]
    assert limit_options(None, None) == []
    with pytest.raises(InputError):
        limit_options(None, "lots")


class _Exited:
    """A stopped container as the docker SDK shows it (``attrs`` after ``reload``)."""

    name = "mllab07-fake"

    def __init__(self, code: int, oom: bool = False, memory: int = 0):
        state = {"Running": False, "ExitCode": code, "OOMKilled": oom}
        self.attrs = {"State": state, "HostConfig": {"Memory": memory}}

    def reload(self) -> None:
        pass


def test_explain_exit_tells_an_oom_kill_from_a_plain_sigkill():
    oom = explain_exit(_Exited(137, oom=True, memory=150 * MIB), needed_bytes=300 * MIB)
    assert "OOM killer" in oom and "150 MiB" in oom and "~300 MiB measured" in oom
    killed = explain_exit(_Exited(137))
    assert "not by the OOM killer" in killed
    assert "exited normally" in explain_exit(_Exited(0))


@pytest.mark.docker
def test_explain_exit_of_a_normal_and_a_failing_container(slim, docker_client):
    for command, words in ((["true"], "exited normally"), (["sh", "-c", "exit 3"], "code 3")):
        container = docker_client.containers.run(slim, command, detach=True)
        try:
            container.wait(timeout=60)
            assert words in explain_exit(container)
        finally:
            container.remove(force=True)
