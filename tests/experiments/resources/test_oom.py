"""The server under a memory limit below its need (lab 06)."""

from __future__ import annotations

import pytest

from mllab.core.errors import InputError
from mllab.experiments.resources.container_limits import MIB
from mllab.experiments.resources.oom import oom_demo


def test_oom_demo_refuses_a_limit_docker_would_refuse():
    with pytest.raises(InputError):
        oom_demo(tag="never-built", memory="1k")


@pytest.mark.docker
def test_an_oom_kill_is_reported_in_words(slim):
    result = oom_demo(slim, memory="150m")
    assert result.exit_code == 137
    assert result.oom_killed
    assert result.needed_bytes and result.needed_bytes > 150 * MIB
    need = f"~{result.needed_bytes / MIB:.0f} MiB measured"
    assert "OOM killer" in result.message
    assert "memory limit 150 MiB is below what the model needs" in result.message
    assert need in result.message
