"""``mllab deploy up|update|scale|down|ps``: arguments, output and exit codes (the swarm calls
are replaced; the real ones are tested in tests/experiments/delivery/test_swarm.py)."""

from __future__ import annotations

import json

import pytest

from mllab.cli.main import build_parser
from mllab.experiments.delivery import swarm


def _run(argv: list[str]) -> int:
    args = build_parser(groups=("deploy",)).parse_args(["deploy", *argv])
    return args.func(args)


@pytest.fixture
def calls(monkeypatch):
    seen: dict[str, object] = {}

    def up(image, **settings):
        seen["up"] = (image, settings)
        return swarm.Deployment(
            "http://127.0.0.1:9",
            "mllab08",
            "mllab08_server",
            image,
            settings["replicas"],
            settings["port"],
            settings["cpus"],
            settings["memory"],
            "1.0.0",
            True,
            1.5,
        )

    monkeypatch.setattr(swarm, "deploy_up", up)
    monkeypatch.setattr(
        swarm,
        "deploy_update",
        lambda image, **kw: swarm.Update(image, "1.0.0", "rollback_completed", "rolled back", 9.0),
    )
    monkeypatch.setattr(
        swarm, "deploy_scale", lambda n, timeout: seen.setdefault("scale", n) or 1.0
    )
    monkeypatch.setattr(swarm, "deploy_down", lambda leave: seen.setdefault("down", leave) or True)
    monkeypatch.setattr(swarm, "swarm_state", lambda: "inactive")
    return seen


def test_up_deploys_with_the_flags(calls, capsys):
    code = _run(["up", "reg:5000/m@sha256:" + "a" * 64, "--replicas", "3", "--cpus", "0.5"])
    assert code == 0
    image, settings = calls["up"]
    assert settings == {"replicas": 3, "port": 8087, "cpus": 0.5, "memory": "1g"}
    assert "3 x reg:5000/m@sha256" in capsys.readouterr().out


def test_up_json(calls, capsys):
    assert _run(["up", "mllab/serve:slim", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "1.0.0"


def test_a_rolled_back_update_exits_1_and_says_so(calls, capsys):
    assert _run(["update", "mllab/serve-demo:1.2.0"]) == 1
    assert "rollback_completed" in capsys.readouterr().out


def test_scale_and_down(calls, capsys):
    assert _run(["scale", "4"]) == 0 and calls["scale"] == 4
    assert _run(["down", "--keep-swarm"]) == 0 and calls["down"] is False
    assert "swarm now inactive" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["up"], ["up", "x", "--replicas", "-1"], ["scale", "many"], ["nothing"]]
)
def test_bad_arguments_exit_before_anything_runs(calls, argv):
    with pytest.raises(SystemExit):
        _run(argv)
    assert "up" not in calls and "scale" not in calls
