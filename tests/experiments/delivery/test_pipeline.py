"""The pipeline's logic with small fakes for Docker, the registry and the swarm: what each
stage compares, what a failing stage blocks, what a run records. The real run is in
test_pipeline_docker.py."""

from __future__ import annotations

import contextlib
import json

import pytest

from mllab.core.errors import BuildError, InputError, IntegrityError
from mllab.core.hashing import sha256_file
from mllab.core.outcome import Outcome
from mllab.core.records import load, record
from mllab.experiments.delivery import pipeline
from mllab.experiments.delivery.distribution import ImmutableTagError, Pushed, TransferFailed
from mllab.experiments.delivery.pipeline import (
    STAGES,
    PipelineRun,
    StageResult,
    release_run,
    run_pipeline,
    stage_table,
)
from mllab.experiments.delivery.pipeline_checks import (
    DELTA_BUDGET,
    deploy_problems,
    label_problems,
    model_problems,
    parity_problems,
    probe_problems,
)
from mllab.experiments.delivery.pipeline_steps import Steps
from mllab.experiments.delivery.versions import BuildVersion

COMMIT = "8a9c794d1e2f" + "0" * 28
IMAGE_ID = "sha256:" + "1" * 64
DIGEST = "sha256:" + "2" * 64


class Fake:
    """Every operation of the stages, faked; ``calls`` says which ran, and each answer can be
    changed before the run."""

    def __init__(self, model):
        self.model = model
        self.calls: list[str] = []
        self.version: BuildVersion | None = None
        self.probe_changes: dict = {}
        self.labels_changes: dict = {}
        self.deployed_sha: str | None = None
        self.tag_error: Exception | None = None
        self.build_error: Exception | None = None
        self.registry_entered = False

    def _version(self, release, model):
        self.calls.append("version")
        self.version = BuildVersion(release, 7, COMMIT, False, sha256_file(model))
        return self.version

    def _build(self, model, version):
        self.calls.append("build")
        if self.build_error:
            raise self.build_error
        return "mllab/serve:candidate", IMAGE_ID

    def _probe(self, image, model):
        self.calls.append("probe")
        sha = self.version.model_sha256
        answer = {
            "sha256_in_image": sha,
            "sha256_served": sha,
            "sha256_label": sha,
            "model_version_served": self.version.model_version,
            "parity": "ran",
            "delta_l2": 2e-6,
            "max_abs": 1e-6,
            "top1_agreement": 1.0,
            "n": 7,
        }
        return {**answer, **self.probe_changes}

    @contextlib.contextmanager
    def _registry(self, address):
        self.calls.append("registry")
        self.registry_entered = True
        yield address or "127.0.0.1:5999"

    def _tag(self, image, version, registry):
        self.calls.append("tag")
        if self.tag_error:
            raise self.tag_error
        return f"{registry}/mllab/serve:{version.tag}"

    def _push(self, image, version, registry):
        self.calls.append("push")
        return Pushed("mllab/serve", version.tag, DIGEST, IMAGE_ID, registry)

    def _labels(self, pushed):
        self.calls.append("labels")
        return {**self.version.labels(), **self.labels_changes}

    def _deploy(self, reference, replicas):
        self.calls.append("deploy")
        return "http://127.0.0.1:8087"

    def _ask(self, url, replicas):
        self.calls.append("ask")
        sha = self.version.model_sha256
        answers = [{"sha256": sha, "model_version": self.version.model_version}] * replicas
        if self.deployed_sha:
            answers = [*answers, {"sha256": self.deployed_sha, "model_version": "?"}]
        return answers

    def steps(self) -> Steps:
        return Steps(
            self._version,
            self._build,
            self._probe,
            self._registry,
            self._tag,
            self._push,
            self._labels,
            self._deploy,
            self._ask,
        )


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"not really onnx, but bytes with a sha256")
    return path


@pytest.fixture
def fake(model):
    return Fake(model)


def _outcomes(run: PipelineRun) -> dict[str, str]:
    return {s.name: s.outcome.status for s in run.stages}


def test_every_stage_runs_and_the_run_names_the_build(fake, model):
    run = run_pipeline("1.2.3", model, steps=fake.steps())
    assert [s.name for s in run.stages] == list(STAGES)
    assert _outcomes(run) == dict.fromkeys(STAGES, "ran") and run.ok and run.blocked_by is None
    assert run.tag == "1.2.3-build.7" and run.git_commit == COMMIT and run.image_id == IMAGE_ID
    assert run.model_sha256 == sha256_file(model) == run.deployed_sha256
    assert run.model_version == f"1.2.3-build.7+g8a9c794d1e2f.m{sha256_file(model)[:12]}"
    assert run.digest == DIGEST and run.reference == f"127.0.0.1:5999/mllab/serve@{DIGEST}"
    assert run.labels["org.mllab.model.sha256"] == run.model_sha256
    assert run.url == "http://127.0.0.1:8087"
    assert run.stage("test").detail["delta_l2"] == 2e-6
    assert run.stage("deploy").detail["replicas"] == 2
    assert all(s.seconds >= 0 for s in run.stages)
    table = stage_table(run)
    assert all(name in table for name in STAGES) and "1.2.3-build.7" in table


def test_a_run_is_a_record(fake, model, tmp_path, monkeypatch):
    monkeypatch.setenv("MLLAB_RESULTS", str(tmp_path / "results"))
    record("08", run_pipeline("1.0.0", model, steps=fake.steps()))
    stored = load("08")["PipelineRun"]
    assert stored["_schema"] == 1 and stored["digest"] == DIGEST
    assert [s["outcome"]["status"] for s in stored["stages"]] == ["ran"] * 5
    json.dumps(stored)  # nothing but JSON in it


def test_delta_over_budget_fails_the_test_and_blocks_push_and_deploy(fake, model):
    fake.probe_changes = {"delta_l2": 0.02}
    run = run_pipeline("1.0.0", model, steps=fake.steps())
    assert _outcomes(run) == {
        "build": "ran",
        "test": "failed",
        "tag": "not run",
        "push": "not run",
        "deploy": "not run",
    }
    assert run.blocked_by == "test" and not run.ok
    reason = run.stage("test").outcome.reason
    assert reason.startswith("StageFailed") and "0.02 > the budget 0.001" in reason
    failed = run.stage("test").outcome
    assert failed.failed_with(pipeline.StageFailed) and not failed.failed_with(IntegrityError)
    assert run.stage("push").outcome.reason.startswith("blocked: test failed: StageFailed")
    assert "push" not in fake.calls and "deploy" not in fake.calls
    assert not fake.registry_entered  # nothing is started for stages that do not run
    assert run.digest is None and run.reference is None and run.url is None


def test_a_model_that_differs_from_the_image_fails_the_test_on_its_sha256(fake, model):
    """The image holds another model than the file given to the pipeline (here: the file is
    changed after the build), even with outputs that agree: the sha256 check catches it."""
    original = fake._build

    def build_then_tamper(path, version):
        built = original(path, version)
        path.write_bytes(path.read_bytes() + b"\0")  # the file changes after the build
        return built

    fake._build = build_then_tamper
    run = run_pipeline("1.0.0", model, steps=fake.steps())
    reason = run.stage("test").outcome.reason
    assert run.blocked_by == "test" and reason.startswith("IntegrityError")
    assert run.stage("test").outcome.failed_with(IntegrityError)
    assert "the image does not hold that model" in reason
    assert run.stage("test").detail["sha256_file"] == sha256_file(model)
    assert run.stage("deploy").outcome.reason.startswith("blocked: test failed: IntegrityError")


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"sha256_label": "f" * 64}, "label org.mllab.model.sha256"),
        ({"sha256_served": "e" * 64}, "the model the server serves"),
        ({"top1_agreement": 6 / 7}, "top-1 agrees on 86% of the 7 sample images"),
        ({"parity": "failed: ServerError: 500", "delta_l2": None}, "was not measured"),
        ({"model_version_served": "0.1.0"}, "answers model_version '0.1.0'"),
    ],
)
def test_each_check_of_the_test_stage_can_fail(fake, model, changes, words):
    fake.probe_changes = changes
    run = run_pipeline("1.0.0", model, steps=fake.steps())
    assert run.blocked_by == "test" and words in run.stage("test").outcome.reason


def test_a_wrong_model_is_an_integrity_failure_whatever_else_is_wrong(fake, model):
    """Which error the Test stage fails with is decided by which check found the problem (the
    model's sha256), not by the words of the problems: a model_version that differs is a
    failed check, a sha256 that differs an integrity failure, and both are reported."""
    fake.probe_changes = {"model_version_served": "sha256-looking-0.1.0"}
    alone = run_pipeline("1.0.0", model, steps=fake.steps()).stage("test").outcome
    assert alone.failed_with(pipeline.StageFailed) and not alone.failed_with(IntegrityError)
    fake.probe_changes = {"model_version_served": "0.1.0", "sha256_served": "e" * 64}
    both = run_pipeline("1.0.0", model, steps=fake.steps()).stage("test").outcome
    assert both.failed_with(IntegrityError) and "answers model_version '0.1.0'" in both.reason
    assert model_problems({"sha256_in_image": "a"}, "a") != []  # served and label missing
    version = BuildVersion("1.0.0", 1, COMMIT, False, "a" * 64)
    computed = {"parity": "ran", "delta_l2": 0.0, "top1_agreement": 1.0}
    assert (
        parity_problems({**computed, "model_version_served": version.model_version}, version) == []
    )


def test_a_failing_build_blocks_everything_after_it(fake, model):
    fake.build_error = BuildError("step 7/12 returned 1")
    run = run_pipeline("1.0.0", model, steps=fake.steps())
    assert run.blocked_by == "build" and "probe" not in fake.calls
    reason = run.stage("test").outcome.reason
    assert reason == "blocked: build failed: BuildError: step 7/12 returned 1"


def test_tag_refuses_to_overwrite_a_version(fake, model):
    fake.tag_error = ImmutableTagError("127.0.0.1:5999/mllab/serve:1.0.0-build.7 already holds …")
    run = run_pipeline("1.0.0", model, steps=fake.steps())
    assert _outcomes(run)["tag"] == "failed" and run.blocked_by == "tag"
    assert run.stage("push").outcome.reason.startswith("blocked: tag failed: ImmutableTagError")
    assert run.stage("tag").outcome.failed_with(ImmutableTagError)
    assert "push" not in fake.calls


def test_push_fails_when_the_registry_labels_name_another_commit(fake, model):
    fake.labels_changes = {"org.opencontainers.image.revision": "b" * 40}
    run = run_pipeline("1.0.0", model, steps=fake.steps())
    assert run.blocked_by == "push" and "org.opencontainers.image.revision" in str(run.stages[3])
    assert "deploy" not in fake.calls


def test_deploy_fails_when_a_replica_serves_another_model(fake, model):
    fake.deployed_sha = "d" * 64
    run = run_pipeline("1.0.0", model, steps=fake.steps())
    reason = run.stage("deploy").outcome.reason
    assert run.blocked_by == "deploy" and reason.startswith("IntegrityError: sha256(deploy)")
    assert "≠ sha256(build)" in reason and "," in run.deployed_sha256


def test_to_stops_early_and_starts_no_registry(fake, model):
    run = run_pipeline("1.0.0", model, to="test", steps=fake.steps())
    assert _outcomes(run) == {
        "build": "ran",
        "test": "ran",
        "tag": "not run",
        "push": "not run",
        "deploy": "not run",
    }
    assert run.stage("tag").outcome.reason == "not asked: the run stops after test"
    assert run.ok and not fake.registry_entered


def test_a_deploy_callable_replaces_the_swarm(fake, model):
    seen = []
    run = run_pipeline(
        "1.0.0",
        model,
        replicas=3,
        steps=fake.steps(),
        deploy=lambda ref, n: seen.append((ref, n)) or "http://elsewhere:1",
    )
    assert seen == [(run.reference, 3)] and run.url == "http://elsewhere:1"
    assert "deploy" not in fake.calls


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"release": "1.0"}, "MAJOR.MINOR.PATCH"),
        ({"to": "ship"}, "--to must be one of build, test, tag, push, deploy"),
        ({"replicas": 0}, "replicas must be >= 1"),
        ({"model": "/no/such/model.onnx"}, "no model file"),
    ],
)
def test_bad_input_runs_nothing(fake, model, kwargs, words):
    with pytest.raises(InputError, match=words):
        run_pipeline(**{"release": "1.0.0", "model": model, **kwargs}, steps=fake.steps())
    assert fake.calls == []


def test_an_unexpected_error_is_a_bug_and_propagates(fake, model):
    fake.build_error = KeyError("oops")
    with pytest.raises(KeyError):
        run_pipeline("1.0.0", model, steps=fake.steps())


def test_the_checks_alone():
    version = BuildVersion("1.0.0", 1, COMMIT, True, "a" * 64)
    good = {
        "sha256_in_image": "a" * 64,
        "sha256_served": "a" * 64,
        "sha256_label": "a" * 64,
        "model_version_served": version.model_version,
        "parity": "ran",
        "delta_l2": DELTA_BUDGET,
        "top1_agreement": 1.0,
        "n": 7,
    }
    assert probe_problems(good, "a" * 64, version) == []  # Δ equal to the budget passes
    assert len(probe_problems(good, "b" * 64, version)) == 3  # each sha256 named
    assert probe_problems({**good, "delta_l2": float("nan")}, "a" * 64, version)
    assert label_problems(version.labels(), version) == []
    assert len(label_problems({}, version)) == 3
    answers = [{"sha256": "a" * 64, "model_version": version.model_version}]
    assert deploy_problems(answers, version) == []
    assert deploy_problems([], version)  # no answer proves nothing


def test_an_image_whose_server_refuses_its_model_fails_the_test(fake, model):
    """The image's model file altered after its digest was written: the server in the
    container refuses to start, and that is the Test stage's failure."""
    from mllab.containers.docker_cli import ContainerFailed

    def refuses(image, path):
        raise ContainerFailed("container exited with code 1 (IntegrityError: refusing to load)")

    fake._probe = refuses
    run = run_pipeline("1.0.0", model, steps=fake.steps())
    assert run.blocked_by == "test" and "refusing to load" in run.stage("test").outcome.reason
    assert run.stage("deploy").outcome.reason.startswith("blocked: test failed: ContainerFailed")


# --- a taken version tag: the next patch release (the pipeline replaced by a fake) -------------

TAKEN = ImmutableTagError("127.0.0.1:5000/mllab/serve:1.0.0-build.29 already holds sha256:…")


def _tag_run(release: str, tag_outcome: Outcome) -> PipelineRun:
    run = PipelineRun(
        release, stages=[StageResult("build", Outcome.ran()), StageResult("tag", tag_outcome)]
    )
    run.blocked_by = None if tag_outcome.ok else "tag"
    return run


def _pipeline(taken: set[str], tag_error: Exception | str = TAKEN):
    calls = []

    def fake(release: str, **settings):
        calls.append((release, settings))
        failed = Outcome.failed(tag_error)
        return _tag_run(release, failed if release in taken else Outcome.ran())

    return fake, calls


def test_a_taken_tag_moves_to_the_next_patch_release(monkeypatch: pytest.MonkeyPatch):
    fake, calls = _pipeline({"1.0.0", "1.0.1"})
    monkeypatch.setattr(pipeline, "run_pipeline", fake)
    run, refused = release_run("1.0.0", to="push", registry="127.0.0.1:5000")
    assert run.release == "1.0.2" and run.blocked_by is None
    assert [r.release for r in refused] == ["1.0.0", "1.0.1"]
    assert calls[-1] == ("1.0.2", {"to": "push", "registry": "127.0.0.1:5000"})


def test_a_free_tag_runs_once(monkeypatch: pytest.MonkeyPatch):
    fake, calls = _pipeline(set())
    monkeypatch.setattr(pipeline, "run_pipeline", fake)
    run, refused = release_run("1.1.0")
    assert (run.release, refused, len(calls)) == ("1.1.0", [], 1)


@pytest.mark.parametrize(
    "error",
    [
        TransferFailed("push", "the registry does not answer"),
        # the words alone are no refusal: only an ImmutableTagError is
        "ImmutableTagError: a text that only looks like the refusal",
    ],
    ids=["another-error", "same-words-no-type"],
)
def test_another_failure_is_not_retried(monkeypatch: pytest.MonkeyPatch, error):
    fake, calls = _pipeline({"1.0.0"}, tag_error=error)
    monkeypatch.setattr(pipeline, "run_pipeline", fake)
    run, refused = release_run("1.0.0")
    assert run.blocked_by == "tag" and refused == [] and len(calls) == 1


def test_it_gives_up_after_its_tries(monkeypatch: pytest.MonkeyPatch):
    fake, calls = _pipeline({f"1.0.{p}" for p in range(50)})
    monkeypatch.setattr(pipeline, "run_pipeline", fake)
    run, refused = release_run("1.0.0", tries=3)
    assert run.release == "1.0.2" and pipeline.refused_tag(run) and len(refused) == 2


def test_next_patch():
    assert pipeline.next_patch("1.0.9") == "1.0.10"
    with pytest.raises(InputError, match="MAJOR.MINOR.PATCH"):
        pipeline.next_patch("1.0")
