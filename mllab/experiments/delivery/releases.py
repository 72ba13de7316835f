"""A release the registry does not hold yet: the pipeline run again on the next patch release
when its Tag stage refuses to overwrite a version tag (immutable builds).

A version tag is ``<release>-build.N`` with N the commit count, so a second lab run from a tree
with uncommitted changes (or after the build cache was pruned) builds another image under the
same tag; the pipeline's Tag stage then refuses, as it must. Lab 07 shows the refusal and goes on
with the next patch release (``1.0.0`` → ``1.0.1``): a new build gets a new tag, the old one
stays in the registry untouched.
"""

from __future__ import annotations

from typing import Any

from mllab.containers.versions import check_release
from mllab.experiments.delivery.pipeline import PipelineRun, run_pipeline

#: how many patch releases are tried before giving up
TRIES = 10


def next_patch(release: str) -> str:
    """``1.0.0`` → ``1.0.1``."""
    major, minor, patch = check_release(release).split(".")
    return f"{major}.{minor}.{int(patch) + 1}"


def refused_tag(run: PipelineRun) -> bool:
    """True when the run stopped because its version tag holds another image."""
    if run.blocked_by != "tag":
        return False
    return run.stage("tag").outcome.reason.startswith("ImmutableTagError")


def release_run(
    release: str, tries: int = TRIES, **settings: Any
) -> tuple[PipelineRun, list[PipelineRun]]:
    """:func:`~mllab.experiments.delivery.pipeline.run_pipeline` of ``release`` (``settings``
    as there); while the Tag stage refuses an existing version tag, again with the next patch
    release. Returns the last run and the refused ones (each keeps its stage table)."""
    refused = []
    run = run_pipeline(release, **settings)
    while refused_tag(run) and len(refused) + 1 < tries:
        refused.append(run)
        run = run_pipeline(next_patch(run.release), **settings)
    return run, refused
