"""``mllab pipeline run``: flags, output and exit codes (the pipeline itself faked here; its
logic is tested in tests/experiments/delivery/test_pipeline.py)."""

from __future__ import annotations

import json

import pytest

from mllab.cli.main import build_parser
from mllab.core.errors import InputError
from mllab.core.outcome import Outcome
from mllab.experiments.delivery import pipeline
from mllab.experiments.delivery.pipeline import PipelineRun, StageResult


def _run(ok: bool) -> PipelineRun:
    ran = [StageResult("build", Outcome.ran(), 1.5, {"tag": "1.0.0-build.3"})]
    if ok:
        stages = ran + [StageResult(s, Outcome.ran(), 0.5) for s in ("test", "tag", "push")]
        stages.append(StageResult("deploy", Outcome.ran(), 9.0, {"url": "http://127.0.0.1:8087"}))
        return PipelineRun(
            "1.0.0",
            tag="1.0.0-build.3",
            reference="r@sha256:" + "a" * 64,
            url="http://127.0.0.1:8087",
            stages=stages,
        )
    failed = StageResult("test", Outcome.failed("StageFailed: Δ container vs host = 0.02"), 3.0)
    blocked = [
        StageResult(s, Outcome.not_run("blocked: test failed: …"))
        for s in ("tag", "push", "deploy")
    ]
    return PipelineRun("1.0.0", stages=ran + [failed, *blocked], blocked_by="test")


@pytest.fixture
def calls(monkeypatch):
    """Replace the pipeline by a recorder that answers a passing (or, for release 9.9.9, a
    failing) run."""
    seen: list[dict] = []

    def fake(**kwargs):
        seen.append(kwargs)
        return _run(ok=kwargs["release"] != "9.9.9")

    monkeypatch.setattr(pipeline, "run_pipeline", fake)
    return seen


def _main(argv: list[str]) -> int:
    args = build_parser(groups=("pipeline",)).parse_args(argv)
    return args.func(args)


def test_defaults_run_everything(calls, capsys):
    assert _main(["pipeline", "run"]) == 0
    assert calls == [
        {"release": "1.0.0", "model": None, "to": "deploy", "registry": None, "replicas": 2}
    ]
    out = capsys.readouterr().out
    assert "build" in out and "deploy" in out and "ran" in out
    assert "mllab deploy down" in out and "r@sha256:" in out


def test_flags_reach_the_pipeline(calls):
    argv = [
        "pipeline",
        "run",
        "--to",
        "push",
        "--release",
        "2.1.0",
        "--model",
        "m.onnx",
        "--registry",
        "127.0.0.1:5077",
        "--replicas",
        "3",
    ]
    assert _main(argv) == 0
    assert calls[0] == {
        "release": "2.1.0",
        "model": "m.onnx",
        "to": "push",
        "registry": "127.0.0.1:5077",
        "replicas": 3,
    }


def test_a_failing_stage_exits_1_and_says_why(calls, capsys):
    assert _main(["pipeline", "run", "--release", "9.9.9"]) == 1
    out = capsys.readouterr().out
    assert "failed: StageFailed: Δ container vs host = 0.02" in out
    assert "not run: blocked: test failed" in out and "deploy down" not in out


def test_json_prints_the_record(calls, capsys):
    assert _main(["pipeline", "run", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["tag"] == "1.0.0-build.3" and len(record["stages"]) == 5
    ran = {"status": "ran", "reason": "", "error_types": []}
    assert record["stages"][0] == {
        "name": "build",
        "outcome": ran,
        "seconds": 1.5,
        "detail": {"tag": "1.0.0-build.3"},
    }


@pytest.mark.parametrize("argv", [["--to", "ship"], ["--replicas", "0"], ["--replicas", "two"]])
def test_bad_flags_are_refused_by_argparse(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser(groups=("pipeline",)).parse_args(["pipeline", "run", *argv])
    assert exit_.value.code == 2 and "error:" in capsys.readouterr().err


def test_a_bad_release_is_a_kit_error_before_anything_runs(tmp_path):
    """The real pipeline (not faked): the release is checked first, so nothing is built."""
    with pytest.raises(InputError, match="MAJOR.MINOR.PATCH"):
        _main(["pipeline", "run", "--release", "1.0", "--model", str(tmp_path / "none.onnx")])
