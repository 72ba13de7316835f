"""Lab 08's swarm stack: the stack file and nginx.conf say what the issue asks, the kit leaves only
a swarm it made, bad input changes nothing, and (Docker) a stack goes up, updates and goes down."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from mllab.core.errors import InputError, MllabError
from mllab.experiments.delivery import swarm, swarm_node


@pytest.fixture(scope="module")
def stack() -> dict:
    return yaml.safe_load(swarm.STACK_FILE.read_text())


def test_stack_server_updates_one_at_a_time_start_first_with_rollback(stack):
    server = stack["services"]["server"]
    deploy = server["deploy"]
    update = deploy["update_config"]
    assert update["parallelism"] == 1 and update["order"] == "start-first"
    assert update["failure_action"] == "rollback" and update["monitor"]
    assert deploy["rollback_config"]["order"] == "start-first"
    assert deploy["endpoint_mode"] == "dnsrr"
    assert deploy["restart_policy"]["condition"] == "any"
    assert set(deploy["resources"]["limits"]) == {"cpus", "memory"}
    assert "/ready" in " ".join(server["healthcheck"]["test"])
    assert server["stop_grace_period"] and "ports" not in server  # only nginx is published


def test_stack_nginx_uses_a_swarm_config_and_a_host_mode_port(stack):
    nginx = stack["services"]["nginx"]
    assert nginx["configs"][0]["target"] == "/etc/nginx/nginx.conf"
    assert "volumes" not in nginx  # a bind mount would tie the stack to this machine's files
    assert nginx["ports"][0]["mode"] == "host" and nginx["ports"][0]["target"] == 80
    assert stack["configs"]["nginx_conf"]["file"] == "./nginx.conf"


def test_nginx_conf_re_resolves_replicas_and_retries_a_prediction_elsewhere():
    conf = swarm.NGINX_CONF.read_text()
    assert "resolver 127.0.0.11 valid=1s" in conf
    assert "set $replicas tasks.server;" in conf and "proxy_pass http://$replicas:8080;" in conf
    retry = next(line for line in conf.splitlines() if "proxy_next_upstream " in line)
    for word in ("error", "timeout", "http_502", "http_503", "non_idempotent"):
        assert word in retry.rstrip(";").split()
    assert "proxy_connect_timeout 1s;" in conf and "X-Upstream" in conf


def test_stack_env_fills_every_variable_the_stack_file_reads():
    env = swarm.stack_env("reg:5000/mllab/serve@sha256:" + "a" * 64, 3, 8099, 0.5, "512m")
    text = swarm.STACK_FILE.read_text()
    for name in env:
        assert f"${{{name}" in text
    assert env["MLLAB08_REPLICAS"] == "3" and env["MLLAB08_CPUS"] == "0.5"
    assert env["MLLAB08_NGINX_CONF"].startswith(f"{swarm.STACK}_nginx_")


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"replicas": -1}, "replicas"),
        ({"port": 0}, "port"),
        ({"cpus": 0}, "cpus"),
        ({"memory": "lots"}, "memory"),
    ],
)
def test_deploy_up_refuses_bad_settings_before_touching_the_engine(settings, message, monkeypatch):
    monkeypatch.setattr(swarm, "ensure_swarm", lambda: pytest.fail("the swarm was touched"))
    with pytest.raises(InputError, match=message):
        swarm.deploy_up("reg:5000/mllab/serve@sha256:" + "a" * 64, **settings)


def test_check_reference_accepts_registry_references_and_refuses_blanks(monkeypatch):
    monkeypatch.setattr(swarm, "has_image", lambda ref: False)
    ref = "127.0.0.1:5000/mllab/serve@sha256:" + "b" * 64
    assert swarm.check_reference(ref) == ref
    for bad in ("", "has space:1", "not-built/here:1.0"):
        with pytest.raises(InputError):
            swarm.check_reference(bad)


class FakeDocker:
    """docker_cli.docker stand-in: the swarm state it answers and the commands it was given."""

    def __init__(self, state: str, manager: str = "true", pending: int = 0):
        self.state, self.manager, self.calls = state, manager, []
        self.pending = pending  # how many `docker info` answers say "pending" first
        self.networks = {"docker_gwbridge"} if state == "active" else set()

    def __call__(self, args, *, timeout=None, env=None, check=True):
        self.calls.append(args)
        out = ""
        if args[:2] == ["info", "--format"]:
            if "ControlAvailable" in args[2]:
                out = self.manager
            elif self.pending:
                self.pending, out = self.pending - 1, "pending"
            else:
                out = self.state
        if args[:2] == ["swarm", "init"]:
            self.state = "active"
            self.networks.add("docker_gwbridge")
        if args[:2] == ["swarm", "leave"]:
            self.state = "inactive"  # the engine keeps docker_gwbridge
        if args[:2] == ["network", "inspect"] and args[2] not in self.networks:
            return subprocess.CompletedProcess(["docker", *args], 1, "[]\n", "No such network")
        if args[:2] == ["network", "rm"]:
            self.networks.discard(args[2])
        return subprocess.CompletedProcess(["docker", *args], 0, out + "\n", "")


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setattr(swarm_node, "STATE_FILE", tmp_path / "swarm" / "created-by-kit.json")

    def install(state: str, manager: str = "true", services=(), pending: int = 0):
        docker = FakeDocker(state, manager, pending)
        monkeypatch.setattr(swarm_node, "docker", docker)
        services_api = type("S", (), {"list": staticmethod(lambda: list(services))})
        monkeypatch.setattr(swarm_node, "client", lambda: type("C", (), {"services": services_api}))
        return docker

    return install


def test_the_kit_remembers_a_swarm_it_made_and_leaves_it(fake):
    docker = fake("inactive")
    assert swarm_node.ensure_swarm() is True and swarm_node.created_by_kit()
    assert ["swarm", "init", "--advertise-addr", "127.0.0.1"] in docker.calls
    assert swarm_node.leave_swarm_if_created() is True and not swarm_node.created_by_kit()
    assert docker.state == "inactive"
    assert docker.networks == set()  # the bridge its init made is gone with it


def test_a_gwbridge_that_was_there_before_the_kits_swarm_stays(fake):
    docker = fake("inactive")
    docker.networks.add("docker_gwbridge")  # left by an earlier swarm of the user's
    swarm_node.ensure_swarm()
    assert swarm_node.leave_swarm_if_created() is True
    assert docker.networks == {"docker_gwbridge"}
    assert not any(call[:2] == ["network", "rm"] for call in docker.calls)


def test_a_users_swarm_is_never_left(fake):
    docker = fake("active")
    assert swarm_node.ensure_swarm() is False
    assert swarm_node.leave_swarm_if_created() is False
    assert not any(call[:2] in (["swarm", "init"], ["swarm", "leave"]) for call in docker.calls)


def test_a_kit_swarm_where_services_still_run_is_kept(fake):
    docker = fake("inactive", services=["someone-elses-service"])
    swarm_node.ensure_swarm()
    assert swarm_node.leave_swarm_if_created() is False and docker.state == "active"
    assert swarm_node.created_by_kit()  # still remembered: a later down leaves it


def test_a_worker_node_is_refused_with_what_to_do(fake):
    fake("active", manager="false")
    with pytest.raises(MllabError, match="worker"):
        swarm_node.ensure_swarm()


def test_a_pending_swarm_is_awaited_until_it_settles(fake):
    fake("active", pending=2)
    assert swarm_node.settled_state(timeout=5.0) == "active"
    fake("active", pending=10**6)
    assert swarm_node.settled_state(timeout=0.0) == "pending"  # no wait left: still pending


def test_swarm_session_leaves_its_swarm_when_the_block_fails(fake):
    docker = fake("inactive")
    with pytest.raises(RuntimeError), swarm_node.swarm_session() as created:
        assert created
        raise RuntimeError("a cell failed")
    assert docker.state == "inactive" and not swarm_node.created_by_kit()


@pytest.mark.docker
@pytest.mark.slow
def test_lab08_deployed_updated_and_left_no_stack(executed_lab, docker_client):
    """The stack's life under Docker is lab 08's run (issue 17: not repeated here): the pipeline
    deployed 1.0.0 behind nginx, the swarm updated it, and the lab's clean-up took it down."""
    lab = executed_lab("08")
    first = lab.record("PipelineRun")
    assert [s["outcome"]["status"] for s in first["stages"]] == ["ran"] * 5, first["stages"]
    assert lab.record("Rollouts")["rolling"]["update_state"] == "completed"
    if swarm.swarm_state() == "active":  # a user's swarm is kept: the kit's service must be gone
        assert not docker_client.services.list(filters={"name": swarm.SERVICE})
