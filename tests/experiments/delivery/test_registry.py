"""The kit's registry: config, address, refusals, start/stop, listing; the engine script's
install of docker-registry."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from mllab.containers.engine import ENSURE_SCRIPT
from mllab.core.errors import MllabError
from mllab.experiments.delivery import registry as reg
from mllab.experiments.delivery.registry import (
    base_url,
    probe,
    registry_address,
    registry_config,
    registry_down,
    registry_running,
    registry_up,
)
from mllab.experiments.delivery.registry_api import registry_ls
from mllab.serve.process import free_port

#: the test registry's port: apart from the lab's 5000 and the other test suites' ports
TEST_PORT = 5055


@pytest.fixture(autouse=True)
def no_user_registry(monkeypatch, tmp_path):
    """No REGISTRY from the environment, and the default storage in a temp folder."""
    monkeypatch.delenv("REGISTRY", raising=False)
    monkeypatch.setattr(reg, "ARTIFACTS", tmp_path / "artifacts")


def test_config_is_local_filesystem_deletable_and_without_auth(tmp_path):
    text = registry_config(5055, tmp_path / "data")
    assert "addr: 127.0.0.1:5055" in text
    assert f'rootdirectory: "{tmp_path / "data"}"' in text
    assert "delete:\n    enabled: true" in text
    assert "auth" not in text and "htpasswd" not in text


def test_address_from_env_port_or_default(monkeypatch):
    assert registry_address() == "127.0.0.1:5000"
    assert registry_address(5055) == "127.0.0.1:5055"
    monkeypatch.setenv("REGISTRY", "https://registry.example.org:443/")
    assert registry_address(5055) == "registry.example.org:443"


def test_base_url_is_http_only_on_the_loopback():
    assert base_url("127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert base_url("localhost:5000") == "http://localhost:5000"
    assert base_url("registry.example.org:5000") == "https://registry.example.org:5000"


@pytest.fixture
def not_a_registry():
    """An HTTP server on a free port that answers 200 to everything, without the registry
    header (a web app on the port the user asked for)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_port_taken_by_something_else_is_refused(not_a_registry, tmp_path):
    assert probe(f"127.0.0.1:{not_a_registry}") == "other"
    with pytest.raises(MllabError, match="not a Docker registry.*--port"):
        registry_up(not_a_registry, tmp_path / "reg")
    assert not (tmp_path / "reg" / "registry.pid").exists()


def test_a_missing_binary_says_how_to_install(tmp_path):
    port = free_port()
    assert probe(f"127.0.0.1:{port}") == "nothing"
    with pytest.raises(MllabError, match="apt-get install docker-registry"):
        registry_up(port, tmp_path / "reg", binary="no-such-registry-binary")


def test_a_user_registry_that_does_not_answer_is_not_started(monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY", f"127.0.0.1:{free_port()}")
    with pytest.raises(MllabError, match="never starts or stops a registry you name"):
        registry_up(TEST_PORT, tmp_path / "reg")
    assert not (tmp_path / "reg").exists()


def test_down_without_a_registry_changes_nothing(tmp_path):
    assert registry_down(tmp_path / "reg") is False


def test_down_kills_a_registry_that_ignores_sigterm(tmp_path):
    """The kit's registry process (named docker-registry, as _alive checks) that does not stop
    on SIGTERM within the timeout is killed, and down returns once it is gone."""
    script = "trap '' TERM; echo ready; while :; do sleep 0.05; done"
    process = subprocess.Popen(  # $0: the registry's name
        ["sh", "-c", script, reg.BINARY], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout and process.stdout.readline() == "ready\n"  # exec'd, trap set
        storage = tmp_path / "reg"
        storage.mkdir()
        state = {"pid": process.pid, "port": TEST_PORT, "address": f"127.0.0.1:{TEST_PORT}"}
        (storage / "state.json").write_text(json.dumps(state))
        assert registry_down(storage, timeout=0.3) is True
        process.wait(timeout=1.0)  # returns: the process is gone (TimeoutExpired if it ran on)
        assert not (storage / "state.json").exists()
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.docker
def test_up_ls_down(tmp_path):
    storage = tmp_path / "reg"
    state = registry_up(TEST_PORT, storage)
    try:
        assert state.started and state.managed and state.pid
        assert "distribution" in (state.version or "")
        assert httpx.get(f"{state.url}/v2/").headers["docker-distribution-api-version"]
        assert registry_ls(state.address) == []
        again = registry_up(TEST_PORT, storage)
        assert not again.started and again.pid == state.pid
        assert registry_address(storage=storage) == f"127.0.0.1:{TEST_PORT}"
        with pytest.raises(MllabError, match="already runs on port"):
            registry_up(TEST_PORT + 1, storage)
        assert (storage / "config.yml").is_file() and (storage / "data").is_dir()
    finally:
        stopped = registry_down(storage)
    assert stopped and probe(state.address) == "nothing"
    assert not (storage / "registry.pid").exists() and (storage / "registry.log").is_file()
    assert registry_down(storage) is False


@pytest.mark.docker
def test_running_stops_what_it_started_also_on_failure(tmp_path):
    storage = tmp_path / "reg"
    with pytest.raises(RuntimeError), registry_running(TEST_PORT, storage) as state:
        assert probe(state.address) == "registry"
        raise RuntimeError("a failing cell")
    assert probe(state.address) == "nothing"


@pytest.mark.docker
def test_running_leaves_a_registry_it_did_not_start(tmp_path):
    storage = tmp_path / "reg"
    outer = registry_up(TEST_PORT, storage)
    try:
        with registry_running(TEST_PORT, storage) as inner:
            assert not inner.started
        assert probe(outer.address) == "registry"
    finally:
        registry_down(storage)


# --- docker/engine/ensure-engine installs docker-registry ------------------------------------


def _stubs(folder: Path, uid: int) -> Path:
    """A PATH with stub tools: docker answers, id says ``uid``, apt-get/systemctl/service log
    their arguments; docker-registry is absent."""
    log = folder / "calls.log"
    scripts = {
        "docker": 'case "$1" in info) exit 0;; version) echo 20.10;; esac',
        "id": f"echo {uid}",
        "apt-get": f'echo "apt-get $*" >> {log}',
        "systemctl": f'echo "systemctl $*" >> {log}',
        "service": f'echo "service $*" >> {log}',
    }
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)
    for tool in ("timeout", "cat"):
        (folder / tool).symlink_to(
            subprocess.check_output(["bash", "-c", f"command -v {tool}"], text=True).strip()
        )
    return log


def _ensure(folder: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": str(folder)}
    return subprocess.run(
        ["/bin/bash", str(ENSURE_SCRIPT)], capture_output=True, text=True, env=env
    )


def test_engine_script_installs_the_registry_as_root_when_docker_answers(tmp_path):
    log = _stubs(tmp_path, uid=0)
    done = _ensure(tmp_path)
    calls = log.read_text()
    assert done.returncode == 0, done.stderr
    assert "install" in calls and "docker-registry" in calls
    assert "systemctl disable --now docker-registry" in calls  # the package's auth service off


def test_engine_script_installs_prometheus_and_stops_its_service(tmp_path):
    log = _stubs(tmp_path, uid=0)
    done = _ensure(tmp_path)
    calls = log.read_text()
    assert done.returncode == 0, done.stderr
    assert "install -y -qq --no-install-recommends prometheus" in calls
    assert "systemctl disable --now prometheus" in calls  # the kit runs its own process


def test_engine_script_only_says_what_to_install_when_not_root(tmp_path):
    log = _stubs(tmp_path, uid=1000)
    done = _ensure(tmp_path)
    assert done.returncode == 0 and "apt-get install docker-registry" in done.stderr
    assert not log.exists()
