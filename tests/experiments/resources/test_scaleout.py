"""N replicas behind nginx (lab 07)."""

from __future__ import annotations

import os

import pytest

from mllab.core.errors import InputError
from mllab.experiments.resources.scaleout import compose_env, replicas_up, scale_out


def test_compose_env_defaults_each_replica_to_every_core_and_threads_from_the_quota():
    env = compose_env("mllab/serve:slim", 8086)
    assert env["MLLAB07_CPUS"] == f"{float(os.cpu_count() or 1):g}"
    assert env["MLLAB07_THREADS"] == ""  # empty: the server sizes its pool from the quota
    assert compose_env("t", 1, threads=1, cpus=0.5)["MLLAB07_CPUS"] == "0.5"


@pytest.mark.parametrize("replicas", [[], [0], [1, -2]])
def test_scale_out_refuses_replica_counts_below_one(replicas):
    with pytest.raises(InputError):
        scale_out(replicas, tag="never-built")


def test_replicas_up_refuses_bad_arguments_before_compose_runs():
    with pytest.raises(InputError), replicas_up(0, tag="never-built"):
        pass
    with pytest.raises(InputError), replicas_up(1, tag="never-built", threads=0):
        pass


@pytest.mark.docker
@pytest.mark.slow
def test_two_replicas_behind_nginx_share_the_requests(slim):
    from mllab.experiments.resources.scaleout import upstreams_seen

    with replicas_up(2, tag=slim) as url:
        seen = upstreams_seen(url, 8)
    assert len(seen) == 2, seen
    assert all(count >= 2 for count in seen.values())
