"""Judges of the claims about delivering an image: tags and digests in a registry, rebuilds
compared by their registry digest, and builds bound to a git commit and a model (C14–C16,
lab 08).

Each judge takes a run's :class:`~mllab.core.records.Results`, reads the exact record fields
named in its docstring, and returns a :class:`~mllab.report.verdict.Judgement`. A missing
record, field or run raises :class:`~mllab.report.verdict.NotMeasured`. Each docstring gives
the claim's falsifiable design in three sentences: "Fails when", "Control" and "No difference".
"""

from __future__ import annotations

from typing import Any

from mllab.core.records import Results
from mllab.report.verdict import Evidence, Judgement, NotMeasured, Verdict, evidence, outcome_text

#: the OCI label that names the git commit an image was built from
REVISION_LABEL = "org.opencontainers.image.revision"
#: the kit's label with the sha256 of the model file inside the image
MODEL_LABEL = "org.mllab.model.sha256"


def short(digest: Any) -> str:
    """``sha256:ab94f3b…`` cut to 19 characters for the measured text; ``?`` when missing."""
    return str(digest)[:19] if digest else "?"


def judge_c14(results: Results) -> Judgement:
    """08 ``MovingTag``: tag, first and second (each a ``Pushed``: digest, image_id),
    tag_digest_now (the registry's answer for the tag after both pushes), by_tag_id,
    by_digest_id (pulled by the tag, by the first digest); 08 ``PullBack``: reference,
    built_id, pulled_id, same_id, absent_before_pull, layers_downloaded, layers_present.
    Each resolution of the tag gives one digest, pull by digest gives the image that was
    built; the verdict says whether the tag moved (``first`` and ``second`` digests differ).

    Fails when: the registry's tag does not name the digest pushed last, pull by tag gives
    another image, pull by the first digest no longer gives the first image, or an image
    removed and pulled back by digest has another ID. Control: the second push under the same
    tag: a tag that held one image only could not be seen to move (then the verdict says so).
    No difference: digests and image IDs are equal strings or not (no spread)."""
    moving = evidence(results, "08", "MovingTag", outcome=None)
    back = evidence(results, "08", "PullBack", outcome=None)
    first = moving.part("first", outcome=None)
    second = moving.part("second", outcome=None)
    one, two, now = first.need("digest"), second.need("digest"), moving.need("tag_digest_now")
    tag_one_digest = now == two
    tag_newest = moving.need("by_tag_id") == second.need("image_id")
    digest_kept = moving.need("by_digest_id") == first.need("image_id")
    pulled_same = bool(back.need("same_id"))
    downloaded = " (the ID was still local: no download)"
    if back.get("absent_before_pull"):
        got, had = back.get("layers_downloaded"), back.get("layers_present")
        downloaded = "" if got is None else f" ({got} layer(s) downloaded, {had} already here)"
    measured = (
        f"{moving.get('tag') or 'the tag'}: first push {short(one)}, second push {short(two)}, "
        f"the registry's tag now {short(now)}; pull by tag got the "
        f"{'second' if tag_newest else 'wrong'} image, pull by the first digest "
        f"{'the first' if digest_kept else 'another'} image {moving.source}; removed and pulled "
        f"back by digest: {'same' if pulled_same else 'different'} image ID{downloaded} "
        f"{back.source}"
    )
    wrong = [
        what
        for what, ok in (
            ("pull by digest gave another image ID than the one built", pulled_same),
            ("the registry's tag did not name the digest pushed last", tag_one_digest),
            ("pull by the first digest no longer gave the first image", digest_kept),
            ("pull by tag did not give the image pushed last", tag_newest),
        )
        if not ok
    ]
    if wrong:
        return Judgement(measured, Verdict.does_not_hold("; ".join(wrong)))
    if one == two:
        return Judgement(
            measured,
            Verdict.holds(
                "each resolution of the tag gave one digest, and pull by digest the built image; "
                "the two pushes had the same digest, so the tag was not seen to move"
            ),
        )
    return Judgement(
        measured,
        Verdict.holds(
            "each resolution of the tag gave one digest, and pull by digest the built image — but "
            "the tag moved to another SHA256 when a second image was pushed under it, the digest "
            "did not: deploy by digest, not by tag"
        ),
    )


def _builder(r: Evidence, name: str, label: str) -> tuple[str, bool | None]:
    """One builder's ``RegistryRebuild`` in words, and its ``same`` (None: not measured)."""
    problem = r.part_problem(name)
    if problem is not None:
        return f"{label}: {problem}", None
    part = r.part(name)
    same = bool(part.need("same_digest"))
    digests = sorted({short(d) for d in part.get("digests") or []})
    return f"{label}: {'same' if same else 'different'} digest ({', '.join(digests)})", same


def judge_c15(results: Results) -> Judgement:
    """08 ``RegistryRebuilds``: docker and buildah, each a ``RegistryRebuild`` (outcome,
    digests, same_digest): the same Dockerfile and files built twice and pushed, their registry
    digests compared. The verdict is docker's plain ``--no-cache`` rebuild; buildah's
    ``--timestamp`` build is said beside it.

    Fails when: the two pushes of docker's ``--no-cache`` builds have different digests.
    Control: buildah with ``--timestamp`` on the same inputs, which pins the build times: a
    difference it removes comes from time stamps, not from the files. No difference: the
    digests are equal strings (no spread: a digest is a hash)."""
    r = evidence(results, "08", "RegistryRebuilds", outcome=None)
    docker_text, docker_same = _builder(r, "docker", "docker build --no-cache twice")
    buildah_text, buildah_same = _builder(r, "buildah", "buildah --timestamp twice")
    measured = f"{docker_text}; {buildah_text} {r.source}"
    if docker_same is None:
        raise NotMeasured(f"{r.where}.docker {docker_text.split(': ', 1)[1]}", measured)
    if docker_same:
        text = "the same Dockerfile and files, rebuilt without cache, gave the same digest"
        return Judgement(measured, Verdict.holds(text))
    if buildah_same:
        return Judgement(
            measured,
            Verdict.does_not_hold(
                "as stated: docker build --no-cache of the same Dockerfile and files pushed "
                "another digest (build times are inside the image); it held for the build made "
                "reproducible (buildah --timestamp)"
            ),
        )
    text = "rebuilding the same Dockerfile and files pushed another digest"
    return Judgement(measured, Verdict.does_not_hold(text))


def _stage(r: Evidence, name: str) -> dict[str, Any] | None:
    """The stored ``StageResult`` called ``name`` of a ``PipelineRun``, if any."""
    for stage in r.get("stages") or []:
        if isinstance(stage, dict) and stage.get("name") == name:
            return stage
    return None


def _require_stage(r: Evidence, name: str) -> None:
    """Not measured unless the pipeline's stage ``name`` ran (a blocked one says why)."""
    stage = _stage(r, name)
    problem = outcome_text(stage.get("outcome")) if stage else "not recorded"
    if problem is not None:
        raise NotMeasured(f"{r.where} stage {name} {problem}")


def judge_c16(results: Results) -> Judgement:
    """08 ``PipelineRun``: git_commit, dirty, model_sha256, model_version, tag, digest,
    stages (the push stage must have run), labels (the pushed image's, read back from the
    registry by digest: :data:`REVISION_LABEL`, :data:`MODEL_LABEL`) and deployed_sha256 (what
    the deployed service answered; None when the deploy stage did not run).

    Fails when: the revision label is not git HEAD, the model label is not the model file's
    sha256, ``model_version`` does not name both, the tree was dirty, or the deployed service
    answers another model sha256. Control: none in this run: the labels were written by this
    run's own build and read back, so they show the kit is consistent with itself, not that
    the commit rebuilds the image. That needs a rebuild from a clean checkout of the labelled
    commit giving the same digest, and no record of the kit holds one: this judge therefore
    never says "holds"; "holds in part" is its best. No difference: hashes and commits are
    equal strings or not."""
    r = evidence(results, "08", "PipelineRun", outcome=None)
    _require_stage(r, "push")
    commit, model = str(r.need("git_commit")), str(r.need("model_sha256"))
    labels = r.part("labels", outcome=None)  # not a mapping: not measured
    revision, labelled = labels.get(REVISION_LABEL), labels.get(MODEL_LABEL)
    version = str(r.need("model_version"))
    deployed = r.get("deployed_sha256")
    measured = (
        f"{r.get('tag')} @ {short(r.get('digest'))}: label revision {str(revision)[:12]} "
        f"(git HEAD {commit[:12]}{', dirty tree' if r.get('dirty') else ''}), label model "
        f"sha256 {str(labelled)[:12]} (file {model[:12]}), model_version {version}, deployed "
        f"service answered sha256 {str(deployed)[:12] if deployed else '— (not deployed)'} "
        f"{r.source}"
    )
    wrong = [
        what
        for what, ok in (
            (f"the image's revision label is {revision!r}, not git HEAD", revision == commit),
            (f"the image's model label is {labelled!r}, not the model's sha256", labelled == model),
            (
                "model_version does not name the commit and the model hash",
                commit[:7] in version and model[:7] in version,
            ),
            (
                "the deployed service answered another model sha256 than the build's",
                deployed is None or deployed == model,
            ),
        )
        if not ok
    ]
    if r.get("dirty"):
        wrong.append(
            "built from a working tree with uncommitted changes: that commit alone "
            "does not rebuild this image"
        )
    if wrong:
        return Judgement(measured, Verdict.does_not_hold("; ".join(wrong)))
    where = "the deployed service answered the same" if deployed else "deploy not run"
    return Judgement(
        measured,
        Verdict.holds_in_part(
            f"the image under its digest carries git HEAD and the model's sha256 as labels that "
            f"this run wrote, its version names both ({where}); not established: that a clean "
            f"checkout of {commit[:12]} rebuilds this digest (no such rebuild was recorded)"
        ),
    )
