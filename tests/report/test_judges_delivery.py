"""Lab 07's claims (C14–C16): for each, records that make it hold, records that make it not
hold, and a missing record or a measurement that did not run (-> "not measured here").

The records are small dataclasses named and shaped as their producers name theirs
(``mllab.containers.distribution``, ``mllab.experiments.delivery``); a test below checks that
the producers still have every field read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import pytest

from mllab.core.outcome import Outcome
from mllab.report.claims import CLAIMS, claims_table, judge

RAN = Outcome.ran()
NO_BUILDAH = Outcome.not_run("buildah is not installed")
COMMIT = "8a9c794d1e2f" + "0" * 28
MODEL = "3f1c0a9b7d22" + "1" * 52
D1, D2 = "sha256:" + "a" * 64, "sha256:" + "b" * 64
ID1, ID2 = "sha256:" + "c" * 64, "sha256:" + "d" * 64


@dataclass
class Pushed:
    repository: str = "mllab/demo"
    tag: str = "demo"
    digest: str = D1
    image_id: str = ID1


@dataclass
class MovingTag:
    repository: str = "mllab/demo"
    tag: str = "demo"
    first: Pushed = field(default_factory=Pushed)
    second: Pushed = field(default_factory=lambda: Pushed(digest=D2, image_id=ID2))
    tag_digest_now: str = D2
    by_tag_id: str = ID2
    by_digest_id: str = ID1


@dataclass
class PullBack:
    reference: str = f"127.0.0.1:5000/mllab/serve@{D1}"
    built_id: str = ID1
    pulled_id: str = ID1
    same_id: bool = True
    absent_before_pull: bool = True
    layers_downloaded: int = 1
    layers_present: int = 6


@dataclass
class RegistryRebuild:
    outcome: Outcome = RAN
    digests: list[str] = field(default_factory=lambda: [D1, D1])
    same_digest: bool | None = True


@dataclass
class RegistryRebuilds:
    docker: RegistryRebuild = field(default_factory=RegistryRebuild)
    buildah: RegistryRebuild = field(default_factory=RegistryRebuild)


@dataclass
class StageResult:
    name: str
    outcome: Outcome = RAN
    seconds: float = 1.0
    detail: dict[str, Any] = field(default_factory=dict)


LABELS = {"org.opencontainers.image.revision": COMMIT, "org.mllab.model.sha256": MODEL}
STAGES = ["build", "test", "tag", "push", "deploy"]


@dataclass
class PipelineRun:
    release: str = "1.0.0"
    tag: str | None = "1.0.0-build.28"
    model_version: str | None = f"1.0.0-build.28+g{COMMIT[:12]}.m{MODEL[:12]}"
    git_commit: str | None = COMMIT
    dirty: bool | None = False
    model_sha256: str | None = MODEL
    digest: str | None = D1
    labels: dict[str, str] = field(default_factory=lambda: dict(LABELS))
    deployed_sha256: str | None = MODEL
    stages: list[StageResult] = field(default_factory=lambda: [StageResult(s) for s in STAGES])

    SCHEMA_VERSION: ClassVar[int] = 1


def _blocked(at: str) -> list[StageResult]:
    """Stages of a run whose ``at`` stage failed: the ones after it blocked."""
    i = STAGES.index(at)
    blocked = Outcome.not_run(f"blocked: {at} failed: Δ = 0.2 > the budget 0.001")
    return (
        [StageResult(s) for s in STAGES[:i]]
        + [StageResult(at, Outcome.failed("Δ = 0.2"))]
        + [StageResult(s, blocked) for s in STAGES[i + 1 :]]
    )


NOT_DEPLOYED = [StageResult(s) for s in STAGES[:4]] + [
    StageResult("deploy", Outcome.not_run("not asked: the run stops after push"))
]
UNMOVED = MovingTag(second=Pushed(), tag_digest_now=D1, by_tag_id=ID1)  # the same image twice
DIFFERENT = RegistryRebuild(digests=[D1, D2], same_digest=False)

# claim, records, verdict kind, a fragment of the verdict text
CASES = [
    ("C14", [("07", MovingTag()), ("07", PullBack())], "holds", "the tag moved"),
    ("C14", [("07", UNMOVED), ("07", PullBack())], "holds", "not seen to move"),
    ("C14", [("07", MovingTag()), ("07", PullBack(pulled_id=ID2, same_id=False))],
     "does not hold", "pull by digest gave another image ID"),
    ("C14", [("07", MovingTag(by_digest_id=ID2)), ("07", PullBack())], "does not hold",
     "no longer gave the first image"),
    ("C14", [("07", MovingTag(tag_digest_now=D1, by_tag_id=ID1)), ("07", PullBack())],
     "does not hold", "did not name the digest pushed last"),
    ("C14", [("07", MovingTag())], "not measured here", "PullBack not recorded: run lab 07"),
    ("C14", [("07", PullBack())], "not measured here", "MovingTag not recorded: run lab 07"),
    ("C15", [("07", RegistryRebuilds())], "holds", "gave the same digest"),
    ("C15", [("07", RegistryRebuilds(docker=DIFFERENT))], "does not hold",
     "held for the build made reproducible (buildah --timestamp)"),
    ("C15", [("07", RegistryRebuilds(DIFFERENT, RegistryRebuild(NO_BUILDAH, [], None)))],
     "does not hold", "pushed another digest"),
    ("C15", [("07", RegistryRebuilds(docker=RegistryRebuild(Outcome.failed("push: 500"), [])))],
     "not measured here", "RegistryRebuilds.docker failed: push: 500"),
    ("C16", [("07", PipelineRun())], "holds", "the deployed service answered the same"),
    ("C16", [("07", PipelineRun(stages=NOT_DEPLOYED, deployed_sha256=None))], "holds",
     "(deploy not run)"),
    ("C16", [("07", PipelineRun(labels={}))], "does not hold", "revision label is None"),
    ("C16", [("07", PipelineRun(deployed_sha256="9" * 64))], "does not hold",
     "answered another model sha256"),
    ("C16", [("07", PipelineRun(dirty=True))], "does not hold", "uncommitted changes"),
    ("C16", [("07", PipelineRun(model_version="1.0.0-build.28"))], "does not hold",
     "does not name the commit"),
    ("C16", [("07", PipelineRun(stages=_blocked("test")))], "not measured here",
     "07:PipelineRun stage push not run: blocked: test failed"),
    ("C16", [], "not measured here", "PipelineRun not recorded: run lab 07"),
]  # fmt: skip


def _case_id(case: tuple) -> str:
    return f"{case[0]}-{case[2].replace(' ', '_')}-{case[3][:24]}"


@pytest.mark.parametrize(("claim", "records", "kind", "text"), CASES, ids=map(_case_id, CASES))
def test_judge(assert_judged, claim: str, records: list, kind: str, text: str):
    assert_judged(claim, records, kind, text)


@pytest.mark.parametrize("claim", ["C14", "C15", "C16"])
def test_every_delivery_claim_is_covered_by_all_three_kinds(claim: str):
    kinds = {kind for c, _, kind, _ in CASES if c == claim}
    assert kinds == {"holds", "does not hold", "not measured here"}


def test_the_delivery_claims_are_lab_07s_with_their_lecture_lines():
    rows = {c.id: c for c in CLAIMS if c.lab == "07"}
    assert list(rows) == ["C14", "C15", "C16"]
    assert (rows["C14"].lines, rows["C15"].lines, rows["C16"].lines) == ("646", "654", "719, 792")
    assert "one SHA256" in rows["C14"].claim and "git commit" in rows["C16"].claim


def test_lab_07_alone_judges_its_three_claims(results_of):
    results = results_of(
        ("07", MovingTag()), ("07", PullBack()), ("07", RegistryRebuilds()), ("07", PipelineRun())
    )
    rows = claims_table(results)
    judged = [r.id for r in rows if r.verdict.kind != "not measured here"]
    assert judged == ["C14", "C15", "C16"]


def test_the_measured_text_shortens_digests_and_names_the_commit(results_of):
    row = judge("C16", results_of(("07", PipelineRun())))
    assert COMMIT[:12] in row.measured and MODEL[:12] in row.measured
    assert D1[:19] in row.measured and D1 not in row.measured
    moved = judge(
        "C14", results_of(("07", MovingTag()), ("07", PullBack(absent_before_pull=False)))
    )
    assert "no download" in moved.measured and D2[:19] in moved.measured
    pulled = judge("C14", results_of(("07", MovingTag()), ("07", PullBack())))
    assert "(1 layer(s) downloaded, 6 already here)" in pulled.measured


def test_labels_that_are_no_mapping_are_not_measured(results_of):
    broken = replace(PipelineRun(), labels="not a dict")  # type: ignore[arg-type]
    row = judge("C16", results_of(("07", broken)))
    assert row.verdict.kind == "not measured here" and "has no labels" in row.verdict.text


#: where each record type is defined; the judges read these names and fields
PRODUCERS = {
    Pushed: "mllab.containers.distribution",
    MovingTag: "mllab.containers.distribution",
    PullBack: "mllab.containers.distribution",
    RegistryRebuilds: "mllab.experiments.delivery.digests",
    RegistryRebuild: "mllab.experiments.delivery.digests",
    PipelineRun: "mllab.experiments.delivery.pipeline",
    StageResult: "mllab.experiments.delivery.pipeline",
}


@pytest.mark.parametrize("kind", PRODUCERS, ids=lambda k: k.__name__)
def test_the_producers_record_what_the_judges_read(kind: type, assert_producer_records):
    assert_producer_records(kind, PRODUCERS[kind])
