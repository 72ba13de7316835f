"""The next patch release when a version tag is taken (the pipeline replaced by a fake: no
Docker)."""

from __future__ import annotations

import pytest

from mllab.core.errors import InputError
from mllab.core.outcome import Outcome
from mllab.experiments.delivery import releases
from mllab.experiments.delivery.pipeline import PipelineRun, StageResult

TAKEN = "ImmutableTagError: 127.0.0.1:5000/mllab/serve:1.0.0-build.29 already holds sha256:…"


def _run(release: str, tag_outcome: Outcome) -> PipelineRun:
    run = PipelineRun(release, stages=[StageResult("build", Outcome.ran()),
                                       StageResult("tag", tag_outcome)])  # fmt: skip
    run.blocked_by = None if tag_outcome.ok else "tag"
    return run


def _pipeline(taken: set[str], tag_error: str = TAKEN):
    calls = []

    def fake(release: str, **settings):
        calls.append((release, settings))
        failed = Outcome.failed(tag_error)
        return _run(release, failed if release in taken else Outcome.ran())

    return fake, calls


def test_a_taken_tag_moves_to_the_next_patch_release(monkeypatch: pytest.MonkeyPatch):
    fake, calls = _pipeline({"1.0.0", "1.0.1"})
    monkeypatch.setattr(releases, "run_pipeline", fake)
    run, refused = releases.release_run("1.0.0", to="push", registry="127.0.0.1:5000")
    assert run.release == "1.0.2" and run.blocked_by is None
    assert [r.release for r in refused] == ["1.0.0", "1.0.1"]
    assert calls[-1] == ("1.0.2", {"to": "push", "registry": "127.0.0.1:5000"})


def test_a_free_tag_runs_once(monkeypatch: pytest.MonkeyPatch):
    fake, calls = _pipeline(set())
    monkeypatch.setattr(releases, "run_pipeline", fake)
    run, refused = releases.release_run("1.1.0")
    assert (run.release, refused, len(calls)) == ("1.1.0", [], 1)


def test_another_failure_is_not_retried(monkeypatch: pytest.MonkeyPatch):
    fake, calls = _pipeline({"1.0.0"}, tag_error="TransferFailed: the registry does not answer")
    monkeypatch.setattr(releases, "run_pipeline", fake)
    run, refused = releases.release_run("1.0.0")
    assert run.blocked_by == "tag" and refused == [] and len(calls) == 1


def test_it_gives_up_after_its_tries(monkeypatch: pytest.MonkeyPatch):
    fake, calls = _pipeline({f"1.0.{p}" for p in range(50)})
    monkeypatch.setattr(releases, "run_pipeline", fake)
    run, refused = releases.release_run("1.0.0", tries=3)
    assert run.release == "1.0.2" and releases.refused_tag(run) and len(refused) == 2


def test_next_patch():
    assert releases.next_patch("1.0.9") == "1.0.10"
    with pytest.raises(InputError, match="MAJOR.MINOR.PATCH"):
        releases.next_patch("1.0")
