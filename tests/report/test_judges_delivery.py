"""Lab 08's claims (C14–C16): for each, records for every verdict kind its judge can give:
where it holds (C16: holds in part at best), does not hold, and a missing record or a
measurement that did not run (-> "not measured here").

The records are the producers' own dataclasses (``mllab.experiments.delivery``:
``distribution``, ``digests``, ``pipeline``; a field renamed there breaks these tests), written
with ``mllab.core.records.record`` and read back, as a lab run does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mllab.core.outcome import Outcome
from mllab.experiments.delivery.digests import RegistryRebuild, RegistryRebuilds
from mllab.experiments.delivery.distribution import MovingTag, PullBack, Pushed
from mllab.experiments.delivery.pipeline import PipelineRun, StageResult
from mllab.report.claims import CLAIMS, claims_table, judge

RAN = Outcome.ran()
NO_BUILDAH = Outcome.not_run("buildah is not installed")
COMMIT = "8a9c794d1e2f" + "0" * 28
MODEL = "3f1c0a9b7d22" + "1" * 52
D1, D2 = "sha256:" + "a" * 64, "sha256:" + "b" * 64
ID1, ID2 = "sha256:" + "c" * 64, "sha256:" + "d" * 64
REGISTRY = "127.0.0.1:5000"


# --- the records, the producers' own types (defaults: a measurement where the claim holds) ---


def pushed(**changed: Any) -> Pushed:
    """The first image pushed as ``mllab/demo:demo``."""
    push = Pushed(repository="mllab/demo", tag="demo", digest=D1, image_id=ID1, registry=REGISTRY)
    return replace(push, **changed)


def moving_tag(**changed: Any) -> MovingTag:
    """Two images pushed under one tag: the tag moved to the second, the first digest still
    gives the first image (C14 holds)."""
    moved = MovingTag(
        repository="mllab/demo",
        tag="demo",
        registry=REGISTRY,
        first=pushed(),
        second=pushed(digest=D2, image_id=ID2),
        tag_digest_now=D2,
        by_tag_id=ID2,
        by_digest_id=ID1,
        tag_moved=True,
        digest_pinned=True,
    )
    return replace(moved, **changed)


def pull_back(**changed: Any) -> PullBack:
    """The image removed and pulled back by digest: the same image ID, one layer downloaded."""
    reference = f"{REGISTRY}/mllab/serve@{D1}"
    back = PullBack(
        reference=reference,
        built_id=ID1,
        pulled_id=ID1,
        same_id=True,
        removed=[reference],
        absent_before_pull=True,
        seconds=1.0,
        layers_downloaded=1,
        layers_present=6,
    )
    return replace(back, **changed)


def registry_rebuild(**changed: Any) -> RegistryRebuild:
    """One builder's two builds of the same inputs, pushed: the same digest."""
    rebuild = RegistryRebuild(
        builder="docker --no-cache",
        outcome=RAN,
        command="docker build --no-cache .",
        digests=[D1, D1],
        same_digest=True,
    )
    return replace(rebuild, **changed)


def registry_rebuilds(**changed: Any) -> RegistryRebuilds:
    """Both builders gave the same digest twice (C15 holds)."""
    both = RegistryRebuilds(
        docker=registry_rebuild(),
        buildah=registry_rebuild(builder="buildah --timestamp", command="buildah build ."),
        registry=REGISTRY,
        dockerfile="FROM python:3.11-slim\n",
        files=["data/app.py"],
        base_image="python:3.11-slim",
    )
    return replace(both, **changed)


def stage(name: str, outcome: Outcome = RAN) -> StageResult:
    """One stage of the pipeline, one second long."""
    return StageResult(name, outcome, seconds=1.0)


LABELS = {"org.opencontainers.image.revision": COMMIT, "org.mllab.model.sha256": MODEL}
STAGES = ["build", "test", "tag", "push", "deploy"]


def pipeline_run(**changed: Any) -> PipelineRun:
    """A pipeline run bound to its commit and model by its own labels, deployed (C16 holds in
    part: no rebuild from a clean checkout of the commit is recorded)."""
    run = PipelineRun(
        release="1.0.0",
        tag="1.0.0-build.28",
        model_version=f"1.0.0-build.28+g{COMMIT[:12]}.m{MODEL[:12]}",
        git_commit=COMMIT,
        dirty=False,
        model_sha256=MODEL,
        digest=D1,
        labels=dict(LABELS),
        deployed_sha256=MODEL,
        stages=[stage(s) for s in STAGES],
    )
    return replace(run, **changed)


def _blocked(at: str) -> list[StageResult]:
    """Stages of a run whose ``at`` stage failed: the ones after it blocked."""
    i = STAGES.index(at)
    blocked = Outcome.not_run(f"blocked: {at} failed: Δ = 0.2 > the budget 0.001")
    return (
        [stage(s) for s in STAGES[:i]]
        + [stage(at, Outcome.failed("Δ = 0.2"))]
        + [stage(s, blocked) for s in STAGES[i + 1 :]]
    )


NOT_DEPLOYED = [stage(s) for s in STAGES[:4]] + [
    stage("deploy", Outcome.not_run("not asked: the run stops after push"))
]
#: the same image pushed twice: the tag cannot be seen to move
UNMOVED = moving_tag(second=pushed(), tag_digest_now=D1, by_tag_id=ID1, digest_pinned=False)
DIFFERENT = registry_rebuild(digests=[D1, D2], same_digest=False)

# claim, records, verdict kind, a fragment of the verdict text
CASES = [
    ("C14", [("08", moving_tag()), ("08", pull_back())], "holds", "the tag moved"),
    ("C14", [("08", UNMOVED), ("08", pull_back())], "holds", "not seen to move"),
    (
        "C14",
        [("08", moving_tag()), ("08", pull_back(pulled_id=ID2, same_id=False))],
        "does not hold",
        "pull by digest gave another image ID",
    ),
    (
        "C14",
        [("08", moving_tag(by_digest_id=ID2, digest_pinned=False)), ("08", pull_back())],
        "does not hold",
        "no longer gave the first image",
    ),
    (
        "C14",
        [
            ("08", moving_tag(tag_digest_now=D1, by_tag_id=ID1, tag_moved=False)),
            ("08", pull_back()),
        ],
        "does not hold",
        "did not name the digest pushed last",
    ),
    ("C14", [("08", moving_tag())], "not measured here", "PullBack not recorded: run lab 08"),
    ("C14", [("08", pull_back())], "not measured here", "MovingTag not recorded: run lab 08"),
    ("C15", [("08", registry_rebuilds())], "holds", "gave the same digest"),
    (
        "C15",
        [("08", registry_rebuilds(docker=DIFFERENT))],
        "does not hold",
        "held for the build made reproducible (buildah --timestamp)",
    ),
    (
        "C15",
        [
            (
                "08",
                registry_rebuilds(
                    docker=DIFFERENT,
                    buildah=registry_rebuild(outcome=NO_BUILDAH, digests=[], same_digest=None),
                ),
            )
        ],
        "does not hold",
        "pushed another digest",
    ),
    (
        "C15",
        [
            (
                "08",
                registry_rebuilds(
                    docker=registry_rebuild(
                        outcome=Outcome.failed("push: 500"), digests=[], same_digest=None
                    )
                ),
            )
        ],
        "not measured here",
        "RegistryRebuilds.docker failed: push: 500",
    ),
    ("C16", [("08", pipeline_run())], "holds in part", "the deployed service answered the same"),
    # the case: labels the run wrote itself, read back; nothing rebuilt the commit
    (
        "C16",
        [("08", pipeline_run())],
        "holds in part",
        f"not established: that a clean checkout of {COMMIT[:12]} rebuilds this digest",
    ),
    (
        "C16",
        [("08", pipeline_run(stages=NOT_DEPLOYED, deployed_sha256=None))],
        "holds in part",
        "(deploy not run)",
    ),
    ("C16", [("08", pipeline_run(labels={}))], "does not hold", "revision label is None"),
    (
        "C16",
        [("08", pipeline_run(deployed_sha256="9" * 64))],
        "does not hold",
        "answered another model sha256",
    ),
    ("C16", [("08", pipeline_run(dirty=True))], "does not hold", "uncommitted changes"),
    (
        "C16",
        [("08", pipeline_run(model_version="1.0.0-build.28"))],
        "does not hold",
        "does not name the commit",
    ),
    (
        "C16",
        [("08", pipeline_run(stages=_blocked("test")))],
        "not measured here",
        "08:PipelineRun stage push not run: blocked: test failed",
    ),
    ("C16", [], "not measured here", "PipelineRun not recorded: run lab 08"),
]


def _case_id(case: tuple) -> str:
    return f"{case[0]}-{case[2].replace(' ', '_')}-{case[3][:24]}"


@pytest.mark.parametrize(("claim", "records", "kind", "text"), CASES, ids=map(_case_id, CASES))
def test_judge(assert_judged, claim: str, records: list, kind: str, text: str):
    assert_judged(claim, records, kind, text)


#: every verdict kind each judge can give; C16 never holds: no record shows the commit rebuilt
KINDS_OF = {
    "C14": {"holds", "does not hold", "not measured here"},
    "C15": {"holds", "does not hold", "not measured here"},
    "C16": {"holds in part", "does not hold", "not measured here"},
}


@pytest.mark.parametrize("claim", sorted(KINDS_OF))
def test_every_delivery_claim_is_covered_by_every_kind_its_judge_gives(claim: str):
    assert {kind for c, _, kind, _ in CASES if c == claim} == KINDS_OF[claim]


def test_the_delivery_claims_are_lab_07s_with_their_lecture_lines():
    rows = {c.id: c for c in CLAIMS if c.lab == "08"}
    assert list(rows) == ["C14", "C15", "C16"]
    assert (rows["C14"].lines, rows["C15"].lines, rows["C16"].lines) == ("646", "654", "719, 792")
    assert "one SHA256" in rows["C14"].claim and "git commit" in rows["C16"].claim


def test_lab_07_alone_judges_its_three_claims(results_of):
    results = results_of(
        ("08", moving_tag()),
        ("08", pull_back()),
        ("08", registry_rebuilds()),
        ("08", pipeline_run()),
    )
    rows = claims_table(results)
    judged = [r.id for r in rows if r.verdict.kind != "not measured here"]
    assert judged == ["C14", "C15", "C16"]


def test_the_measured_text_shortens_digests_and_names_the_commit(results_of):
    row = judge("C16", results_of(("08", pipeline_run())))
    assert COMMIT[:12] in row.measured and MODEL[:12] in row.measured
    assert D1[:19] in row.measured and D1 not in row.measured
    moved = judge(
        "C14", results_of(("08", moving_tag()), ("08", pull_back(absent_before_pull=False)))
    )
    assert "no download" in moved.measured and D2[:19] in moved.measured
    pulled = judge("C14", results_of(("08", moving_tag()), ("08", pull_back())))
    assert "(1 layer(s) downloaded, 6 already here)" in pulled.measured


def test_labels_that_are_no_mapping_are_not_measured(results_of):
    broken = replace(pipeline_run(), labels="not a dict")  # type: ignore[arg-type]
    row = judge("C16", results_of(("08", broken)))
    assert row.verdict.kind == "not measured here" and "has no labels" in row.verdict.text
