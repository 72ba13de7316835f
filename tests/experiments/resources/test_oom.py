"""The server under a memory limit below its need (lab 07)."""

from __future__ import annotations

import pytest

from mllab.core.errors import InputError
from mllab.experiments.resources.container_limits import MIB
from mllab.experiments.resources.oom import oom_demo, parse_memory

V1 = """cache 52428800
rss 262144000
swap 0
hierarchical_memory_limit 9223372036854771712
total_cache 52428800
total_rss 262144000
total_swap 4096
peak 330000000
"""
V2 = """anon 262144000
file 52428800
kernel 1000
peak 330000000
swap_current 8192
"""


@pytest.mark.parametrize("text, swap", [(V1, 4096), (V2, 8192)])
def test_the_memory_cgroup_is_read_in_v1_and_v2_names(text: str, swap: int):
    assert parse_memory(text) == {
        "peak": 330000000,
        "anon": 262144000,
        "file": 52428800,
        "swap": swap,
    }


def test_what_the_cgroup_did_not_say_is_absent():
    assert parse_memory("") == {}
    assert parse_memory("anon 5\nsh: 1: cannot open memory.peak\n") == {"anon": 5}


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
