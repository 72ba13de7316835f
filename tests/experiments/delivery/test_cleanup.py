"""Lab 08's clean-up: every step is tried, a failing one is said, nothing is raised (no Docker:
the kit's stack, registry and swarm functions are replaced)."""

from __future__ import annotations

import pytest

from mllab.experiments.delivery import cleanup


def test_every_step_runs_even_after_one_fails(monkeypatch: pytest.MonkeyPatch):
    ran = []

    def fails():
        ran.append("stack")
        raise RuntimeError("docker stack rm timed out")

    steps = (
        ("stack", fails),
        ("registry", lambda: ran.append("registry") or True),
        ("swarm", lambda: ran.append("swarm") or False),
    )
    monkeypatch.setattr(cleanup, "STEPS", steps)
    done = cleanup.cleanup()
    assert ran == ["stack", "registry", "swarm"]
    assert not done.ok
    assert [str(s.outcome) for s in done.steps] == [
        "failed: RuntimeError: docker stack rm timed out",
        "ran",
        "ran",
    ]
    assert [s.done for s in done.steps] == [None, True, False]
    assert "registry: ran (done)" in done.line() and "swarm: ran;" not in done.line()
    assert "failed: RuntimeError" in str(done)


def test_the_steps_remove_the_stack_before_leaving_the_swarm():
    names = [name for name, _ in cleanup.STEPS]
    assert names.index("remove the stack mllab08") < names.index(
        "leave the swarm if the kit created it"
    )
    assert "stop the registry the lab started" in names


def test_only_a_registry_the_lab_started_is_stopped(monkeypatch, tmp_path):
    from mllab.experiments.delivery.registry import RegistryState

    stopped = []
    monkeypatch.setattr(cleanup, "REGISTRY_MARK", tmp_path / "lab08" / "mark.json")
    monkeypatch.setattr(cleanup, "registry_down", lambda: stopped.append(1) or True)
    found = RegistryState("127.0.0.1:5000", 5000, started=False, managed=True)
    monkeypatch.setattr(cleanup, "registry_up", lambda port: found)
    cleanup.lab_registry(5000)  # one was up already (mllab registry up): the lab leaves it
    assert cleanup.stop_lab_registry() is False and stopped == []
    ours = RegistryState("127.0.0.1:5000", 5000, started=True, managed=True, pid=42)
    monkeypatch.setattr(cleanup, "registry_up", lambda port: ours)
    cleanup.lab_registry(5000)
    assert cleanup.REGISTRY_MARK.exists()
    assert cleanup.stop_lab_registry() is True and stopped == [1]
    assert not cleanup.REGISTRY_MARK.exists()
    assert cleanup.stop_lab_registry() is False  # twice changes nothing
