"""``make student`` as a new user runs it (issue 19): the workspace is made and JupyterLab
starts there and answers, also as root (a course VM, a container), where JupyterLab refuses to
start without ``--allow-root``."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess

import pytest

from mllab.core.paths import ROOT
from mllab.serve.process import free_port, wait_until_ready


@pytest.mark.slow  # makes every student edition, then starts JupyterLab
def test_make_student_makes_the_workspace_and_jupyterlab_answers(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    workspace = tmp_path / "workspace"
    extra = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --ServerApp.token={token}"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config")}
    log = (tmp_path / "make.log").open("w")
    make = subprocess.Popen(
        ["make", "-C", str(ROOT), "student", f"WORKSPACE={workspace}", f"LAB_ARGS={extra}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # its own process group: make, mllab and jupyter end together
    )
    try:
        url = f"http://127.0.0.1:{port}/api/status?token={token}"
        wait_until_ready(url, timeout=240, process=make)  # a refused start ends make: fails here
        assert sorted(p.name for p in workspace.rglob("*.ipynb")), "no student edition was made"
    except Exception:
        print((tmp_path / "make.log").read_text()[-3000:])
        raise
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=60)
        log.close()
