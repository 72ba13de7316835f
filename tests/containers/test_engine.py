"""A Docker engine, or one clear message; the offline base image."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mllab.containers import engine
from mllab.containers.base import LOCAL_BASE, build_base, has_image, image_size_mb


def test_missing_engine_is_one_clear_message():
    done = subprocess.run(
        [sys.executable, "-m", "mllab", "engine", "ensure", "--check"],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    assert done.returncode == 2
    assert "no Docker engine answers" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.docker
def test_engine_answers_with_a_version():
    assert engine.engine_version()


@pytest.mark.docker
def test_local_base_image_is_slim_and_runs_python_311(docker_client):
    tag = LOCAL_BASE
    if not has_image(tag):
        build_base(tag)
    size = image_size_mb(tag)
    assert size < 160, f"the local base is {size:.0f} MB; python:3.11-slim is about 130 MB"
    out = docker_client.containers.run(
        tag, ["python", "-c", "import sys, venv, ssl; print(sys.version)"], remove=True
    )
    assert out.decode().startswith("3.11.")
    config = docker_client.images.get(tag).attrs["Config"]
    assert config["Cmd"] == ["python3"]
