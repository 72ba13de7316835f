"""Lab 08's CI/CD pipeline: Build → Test → Tag → Push → Deploy, each stage an :class:`Outcome`.

The lecture ("Практика версионирования в CI/CD"): build the image, test its inference, tag it
``1.0.3-build.472``, push it to a registry, deploy it; model_version = f(git_commit,
docker_tag, hash). Here each stage checks something and a stage that fails blocks the ones after
it (``not run: blocked: test failed: …``)::

    build   the slim image of the model, VERSION = model_version, OCI labels (commit, model sha256)
    test    Δ container vs host on the sample images ≤ 1e-3, top-1 agreement on every image, and
            sha256 of the model file in the image = the one the server serves = the image's
            label = the sha256 of the model file given to the pipeline (a tampered model fails)
    tag     the version tag ``<release>-build.N`` is free in the registry, or holds this very
            image: a version tag is never overwritten (immutable builds)
    push    push it; the registry's digest; the labels read back from the registry by digest
            must name the same commit and model
    deploy  the swarm stack runs the image by digest; every answer of the deployed service
            names the model sha256 of the build (IntegrityError otherwise)

The operations behind the stages are :class:`~mllab.experiments.delivery.pipeline_steps.Steps`
(the real ones by default) and what each stage compares is in
:mod:`~mllab.experiments.delivery.pipeline_checks`; here is the run itself: the stages in order,
timed, a failure blocking the rest, one typed record (:class:`PipelineRun`, printed by
:func:`stage_table`), and :func:`release_run`, which runs the pipeline again on the next patch
release when the Tag stage refuses to overwrite a version tag (immutable builds: a second lab run
from a tree with uncommitted changes builds another image under the same
``<release>-build.N``; the lab shows the refusal and goes on with ``1.0.0`` → ``1.0.1``).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import httpx

from mllab.core.errors import InputError, IntegrityError, MllabError
from mllab.core.hashing import sha256_file
from mllab.core.outcome import Outcome
from mllab.core.tables import format_table
from mllab.experiments.delivery.distribution import ImmutableTagError
from mllab.experiments.delivery.pipeline_checks import (
    DELTA_BUDGET,
    deploy_problems,
    label_problems,
    model_problems,
    parity_problems,
    short_hash,
)
from mllab.experiments.delivery.pipeline_steps import Steps, real_steps
from mllab.experiments.delivery.versions import BuildVersion, check_release

STAGES = ("build", "test", "tag", "push", "deploy")
#: how many patch releases :func:`release_run` tries before giving up
TRIES = 10
#: what a stage may fail with: a kit error, an HTTP error talking to a server or registry,
#: a file that cannot be read; anything else is a bug and propagates
EXPECTED = (MllabError, httpx.HTTPError, OSError)


class StageFailed(MllabError):
    """A stage's check did not hold (Δ over budget, top-1 disagreement, ...): the message
    lists every check that failed."""


@dataclass
class StageResult:
    """One stage: how it went, how long it took, and what it measured or produced."""

    name: str
    outcome: Outcome
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PipelineRun:
    """One run of the pipeline (lab 08's record of it).

    ``reference`` is ``host:port/mllab/serve@sha256:…`` (what Deploy ran); ``labels`` are the
    pushed image's labels as the registry serves them; ``deployed_sha256`` the model sha256 the
    deployed service answered. Fields of stages that did not run stay None."""

    release: str
    tag: str | None = None
    model_version: str | None = None
    git_commit: str | None = None
    dirty: bool | None = None
    model_sha256: str | None = None
    image_id: str | None = None
    digest: str | None = None
    reference: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    deployed_sha256: str | None = None
    url: str | None = None
    stages: list[StageResult] = field(default_factory=list)
    blocked_by: str | None = None  # the stage that failed

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def ok(self) -> bool:
        """True when no stage failed (stages not asked for do not count)."""
        return self.blocked_by is None

    def stage(self, name: str) -> StageResult:
        """The result of stage ``name``."""
        for result in self.stages:
            if result.name == name:
                return result
        raise InputError(f"no stage {name!r} in this run: stages are {', '.join(STAGES)}")


# --- the stages ---------------------------------------------------------------------------------


@dataclass
class _Context:
    """What the stages hand on to each other in one run."""

    model: Path
    budget: float
    replicas: int
    registry: str | None
    steps: Steps
    run: PipelineRun
    resources: contextlib.ExitStack
    version: BuildVersion | None = None
    image: str | None = None
    address: str | None = None


def _build(ctx: _Context, detail: dict[str, Any]) -> None:
    version = ctx.steps.version(ctx.run.release, ctx.model)
    ctx.version = version
    run = ctx.run
    run.tag, run.model_version = version.tag, version.model_version
    run.git_commit, run.dirty = version.git_commit, version.dirty
    run.model_sha256 = version.model_sha256
    detail.update(version.summary())
    ctx.image, run.image_id = ctx.steps.build(ctx.model, version)
    detail.update(image=ctx.image, image_id=run.image_id)


def _test(ctx: _Context, detail: dict[str, Any]) -> None:
    assert ctx.version is not None and ctx.image is not None  # set by a build that ran
    file_sha = sha256_file(ctx.model)
    detail.update(ctx.steps.probe(ctx.image, ctx.model), sha256_file=file_sha, budget=ctx.budget)
    wrong_model = model_problems(detail, file_sha)
    problems = [*wrong_model, *parity_problems(detail, ctx.version, ctx.budget)]
    if wrong_model:  # the image does not hold the model given: an integrity failure
        raise IntegrityError("; ".join(problems))
    if problems:
        raise StageFailed("; ".join(problems))


def _tag(ctx: _Context, detail: dict[str, Any]) -> None:
    assert ctx.version is not None and ctx.image is not None
    ctx.address = ctx.resources.enter_context(ctx.steps.registry(ctx.registry))
    detail.update(registry=ctx.address)
    detail.update(reference_by_tag=ctx.steps.tag(ctx.image, ctx.version, ctx.address))


def _push(ctx: _Context, detail: dict[str, Any]) -> None:
    assert ctx.version is not None and ctx.image is not None and ctx.address is not None
    pushed = ctx.steps.push(ctx.image, ctx.version, ctx.address)
    run = ctx.run
    run.digest, run.reference = pushed.digest, pushed.by_digest
    detail.update(
        digest=pushed.digest,
        reference=pushed.by_digest,
        uploaded=pushed.uploaded,
        pushed_image_id=pushed.image_id,
    )
    if pushed.image_id != run.image_id:
        raise IntegrityError(
            f"the registry got image {pushed.image_id}, not the tested {run.image_id}"
        )
    run.labels = ctx.steps.labels(pushed)
    if problems := label_problems(run.labels, ctx.version):
        raise IntegrityError("; ".join(problems))


def _deploy(ctx: _Context, detail: dict[str, Any]) -> None:
    assert ctx.version is not None and ctx.run.reference is not None
    ctx.run.url = ctx.steps.deploy(ctx.run.reference, ctx.replicas)
    answers = ctx.steps.ask(ctx.run.url, ctx.replicas)
    shas = sorted({str(a.get("sha256")) for a in answers})
    versions = sorted({str(a.get("model_version")) for a in answers})
    ctx.run.deployed_sha256 = shas[0] if len(shas) == 1 else ",".join(shas)
    detail.update(url=ctx.run.url, replicas=ctx.replicas, reference=ctx.run.reference)
    detail.update(answers=len(answers), sha256_deployed=shas, model_versions_deployed=versions)
    if problems := deploy_problems(answers, ctx.version):
        raise IntegrityError("; ".join(problems))


_STAGE_FNS: dict[str, Callable[[_Context, dict[str, Any]], None]] = {
    "build": _build,
    "test": _test,
    "tag": _tag,
    "push": _push,
    "deploy": _deploy,
}


def _run_stage(name: str, ctx: _Context) -> StageResult:
    """Run one stage, timed; a kit error (or an HTTP or file error) makes it failed."""
    detail: dict[str, Any] = {}
    start = time.perf_counter()
    try:
        _STAGE_FNS[name](ctx, detail)
        outcome = Outcome.ran()
    except EXPECTED as error:
        outcome = Outcome.failed(error)
    return StageResult(name, outcome, round(time.perf_counter() - start, 3), detail)


def check_inputs(release: str, to: str, replicas: int) -> None:
    """:class:`InputError` for a release that is not MAJOR.MINOR.PATCH, an unknown stage or
    fewer than one replica (nothing has run yet: bad input changes nothing)."""
    check_release(release)
    if to not in STAGES:
        raise InputError(f"--to must be one of {', '.join(STAGES)}, not {to!r}")
    if replicas < 1:
        raise InputError(f"replicas must be >= 1, not {replicas}")


def run_pipeline(
    release: str = "1.0.0",
    model: str | Path | None = None,
    to: str = "deploy",
    registry: str | None = None,
    replicas: int = 2,
    deploy: Callable[[str, int], str] | None = None,
    *,
    steps: Steps | None = None,
    budget: float = DELTA_BUDGET,
) -> PipelineRun:
    """Build → Test → Tag → Push → Deploy ``model`` (default: the kit's exported ResNet-50) as
    ``release``, up to stage ``to``; every stage's outcome, seconds and detail in the returned
    :class:`PipelineRun` (a failing stage does not raise: it blocks the stages after it).

    ``registry``: ``host:port`` to push to (default: ``REGISTRY``, else the kit's registry,
    started for Tag/Push and stopped afterwards if this call started it). ``deploy``: a
    ``(reference, replicas) -> url`` to use instead of the swarm stack. The deployment is left
    running: ``mllab deploy down`` (or :func:`~mllab.experiments.delivery.swarm.deploy_down`)
    removes it.
    """
    check_inputs(release, to, replicas)
    steps = steps or real_steps()
    if deploy is not None:
        steps = replace(steps, deploy=deploy)
    path = Path(model) if model is not None else _default_model()
    if not path.is_file():
        raise InputError(f"no model file at {path}")
    run = PipelineRun(release)
    wanted = STAGES[: STAGES.index(to) + 1]
    with contextlib.ExitStack() as resources:
        ctx = _Context(path, budget, replicas, registry, steps, run, resources)
        for name in STAGES:
            if name not in wanted:
                result = StageResult(name, Outcome.not_run(f"not asked: the run stops after {to}"))
            elif run.blocked_by:
                reason = f"{run.blocked_by} failed: {run.stage(run.blocked_by).outcome.reason}"
                result = StageResult(name, Outcome.not_run(f"blocked: {reason}"))
            else:
                result = _run_stage(name, ctx)
                if result.outcome.status == "failed":
                    run.blocked_by = name
            run.stages.append(result)
    return run


def next_patch(release: str) -> str:
    """``1.0.0`` → ``1.0.1``."""
    major, minor, patch = check_release(release).split(".")
    return f"{major}.{minor}.{int(patch) + 1}"


def refused_tag(run: PipelineRun) -> bool:
    """True when the run stopped because its version tag holds another image."""
    return run.blocked_by == "tag" and run.stage("tag").outcome.failed_with(ImmutableTagError)


def release_run(
    release: str, tries: int = TRIES, **settings: Any
) -> tuple[PipelineRun, list[PipelineRun]]:
    """:func:`run_pipeline` of ``release`` (``settings`` as there); while the Tag stage refuses
    an existing version tag, again with the next patch release, ``tries`` releases at most.
    Returns the last run and the refused ones (each keeps its stage table)."""
    refused: list[PipelineRun] = []
    run = run_pipeline(release, **settings)
    while refused_tag(run) and len(refused) + 1 < tries:
        refused.append(run)
        run = run_pipeline(next_patch(run.release), **settings)
    return run, refused


def _default_model() -> Path:
    """The kit's exported ResNet-50 (exported on first use)."""
    from mllab.model.artifacts import default_model  # deferred: exporting imports torch

    return default_model()


# --- showing a run ------------------------------------------------------------------------------

_SUMMARY_KEYS = {
    "build": ("tag", "image_id"),
    "test": ("delta_l2", "top1_agreement", "sha256_in_image"),
    "tag": ("reference_by_tag",),
    "push": ("digest",),
    "deploy": ("url", "replicas", "sha256_deployed"),
}


def _summary(result: StageResult) -> str:
    """The few facts of a stage worth a table cell (hashes shortened)."""
    parts = []
    for key in _SUMMARY_KEYS[result.name]:
        value = result.detail.get(key)
        if value is None:
            continue
        if isinstance(value, float):
            value = f"{value:.3g}"
        elif isinstance(value, list):
            value = ",".join(short_hash(str(v)) for v in value)
        elif isinstance(value, str) and re.fullmatch(r"(sha256:)?[0-9a-f]{64}", value):
            value = short_hash(value)
        parts.append(f"{key}={value}")
    return " ".join(parts)


def stage_rows(run: PipelineRun) -> list[dict[str, Any]]:
    """One row per stage: stage, outcome, seconds, detail (a short summary)."""
    return [
        {"stage": s.name, "outcome": s.outcome, "seconds": s.seconds, "detail": _summary(s)}
        for s in run.stages
    ]


def stage_table(run: PipelineRun) -> str:
    """The pipeline's stage table (one formatter: :func:`mllab.core.tables.format_table`)."""
    head = f"release {run.release}: {run.model_version or '(no version: build did not run)'}"
    return head + "\n" + format_table(stage_rows(run))
