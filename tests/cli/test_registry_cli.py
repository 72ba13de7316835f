"""``mllab registry up|down|ls``: flags, output, errors (through the group's own parser)."""

from __future__ import annotations

import json

import pytest

from mllab.cli.main import build_parser
from mllab.core.errors import MllabError
from mllab.experiments.delivery import registry as reg
from mllab.serve.process import free_port

TEST_PORT = 5055


def _run(argv: list[str]) -> int:
    args = build_parser(groups=("registry",)).parse_args(["registry", *argv])
    return args.func(args)


@pytest.fixture(autouse=True)
def storage(monkeypatch, tmp_path):
    """The kit's registry storage in a temp folder; no REGISTRY from the environment."""
    monkeypatch.delenv("REGISTRY", raising=False)
    monkeypatch.setattr(reg, "ARTIFACTS", tmp_path / "artifacts")
    return tmp_path / "artifacts" / "registry"


def test_parser_flags():
    parser = build_parser(groups=("registry",))
    assert parser.parse_args(["registry", "up"]).port == reg.DEFAULT_PORT
    assert parser.parse_args(["registry", "up", "--port", "5055"]).port == 5055
    ls = parser.parse_args(["registry", "ls", "--json", "--port", "5055"])
    assert ls.json and ls.port == 5055
    with pytest.raises(SystemExit):
        parser.parse_args(["registry", "up", "--port", "five"])


def test_down_when_nothing_runs(capsys):
    assert _run(["down"]) == 0
    assert "was not running" in capsys.readouterr().out


def test_ls_without_a_registry_is_a_clear_error():
    with pytest.raises(MllabError, match="mllab registry up"):
        _run(["ls", "--port", str(free_port())])


@pytest.mark.docker
def test_up_ls_down(storage, capsys):
    try:
        assert _run(["up", "--port", str(TEST_PORT)]) == 0
        assert f"started at 127.0.0.1:{TEST_PORT}" in capsys.readouterr().out
        assert _run(["up", "--port", str(TEST_PORT)]) == 0
        assert "already runs" in capsys.readouterr().out
        assert _run(["ls", "--json"]) == 0  # the running registry's port, without --port
        listing = json.loads(capsys.readouterr().out)
        assert listing == {"registry": f"127.0.0.1:{TEST_PORT}", "repositories": []}
        assert _run(["ls"]) == 0
        assert "(empty)" in capsys.readouterr().out
    finally:
        assert _run(["down"]) == 0
    assert "registry stopped" in capsys.readouterr().out
    assert reg.probe(f"127.0.0.1:{TEST_PORT}") == "nothing"
