"""The Deploy stage's choice between a first deployment and a rolling update (the swarm
calls faked; the real ones run in test_pipeline_docker.py), and the registry it uses."""

from __future__ import annotations

import pytest

from mllab.experiments.delivery import pipeline_steps


@pytest.fixture
def swarm(monkeypatch):
    """Fake swarm: ``state`` is what it is in, ``calls`` what the stage asked of it."""
    fake = {"state": "inactive", "replicas": None, "calls": []}

    def wanted():
        if fake["replicas"] is None:
            raise pipeline_steps.MllabError("no service mllab08_server")
        return fake["replicas"]

    def up(ref, replicas, port):
        fake["calls"].append(("up", ref, replicas, port))
        return type("Deployment", (), {"url": f"http://127.0.0.1:{port}"})()

    monkeypatch.setattr(pipeline_steps, "swarm_state", lambda: fake["state"])
    monkeypatch.setattr(pipeline_steps, "wanted_replicas", wanted)
    monkeypatch.setattr(pipeline_steps, "deploy_up", up)
    monkeypatch.setattr(
        pipeline_steps, "deploy_update", lambda ref, url: fake["calls"].append(("update", ref, url))
    )
    monkeypatch.setattr(
        pipeline_steps, "deploy_scale", lambda n: fake["calls"].append(("scale", n))
    )
    return fake


def test_a_first_deployment_brings_the_stack_up(swarm):
    assert pipeline_steps.deploy_swarm("r@sha256:1", 2) == "http://127.0.0.1:8087"
    assert swarm["calls"] == [("up", "r@sha256:1", 2, 8087)]


def test_a_running_stack_gets_a_rolling_update_and_then_the_replicas_asked_for(swarm):
    swarm["state"], swarm["replicas"] = "active", 2
    assert pipeline_steps.deploy_swarm("r@sha256:2", 3, port=8097) == "http://127.0.0.1:8097"
    assert swarm["calls"] == [("update", "r@sha256:2", "http://127.0.0.1:8097"), ("scale", 3)]


def test_a_swarm_without_the_stack_gets_it_deployed(swarm):
    swarm["state"] = "active"
    pipeline_steps.deploy_swarm("r@sha256:3", 1)
    assert swarm["calls"][-1] == ("up", "r@sha256:3", 1, 8087)


def test_a_named_registry_is_used_as_it_is():
    with pipeline_steps.kit_registry("registry.example:5000") as address:
        assert address == "registry.example:5000"
