"""C15's measurement: the same Dockerfile and files built twice per builder, registry digests."""

from __future__ import annotations

import pytest

from mllab.core.errors import BuildError
from mllab.core.outcome import Outcome
from mllab.experiments.delivery import digests
from mllab.experiments.delivery.digests import (
    DOCKERFILE,
    FILES,
    RegistryRebuild,
    digest_rows,
)
from mllab.experiments.reproducibility.buildah import buildah_status


def test_context_holds_the_dockerfile_and_the_kits_files(tmp_path):
    context = digests._context(tmp_path)
    assert (context / "Dockerfile").read_text() == DOCKERFILE
    for path in FILES:
        assert (context / path.name).read_bytes() == path.read_bytes()
    assert "RUN useradd" in DOCKERFILE and "ARG SOURCE_DATE_EPOCH" in DOCKERFILE


def test_a_failing_builder_is_a_failed_outcome_and_missing_buildah_is_not_run(
    monkeypatch, tmp_path
):
    def broken(*args):
        raise BuildError("step 2/4 returned 1")

    monkeypatch.setattr(digests, "buildah_status", lambda: "buildah is not installed")
    monkeypatch.setattr(digests, "docker_twice", broken)
    result = digests._both(tmp_path, "base:tag", "127.0.0.1:1")
    assert result.docker.outcome == Outcome.failed("BuildError: step 2/4 returned 1")
    assert result.docker.outcome.failed_with(BuildError)  # the type, not only its name in text
    assert result.buildah.outcome == Outcome.not_run("buildah is not installed")
    assert result.files == ["docker/requirements.lock", "data/imagenet_classes.txt"]
    rows = digest_rows(result)
    assert [r["same digest"] for r in rows] == [None, None]


def test_rows_show_digests_and_agreement():
    same = RegistryRebuild("b", Outcome.ran(), "cmd", ["sha256:" + "a" * 64] * 2, same_digest=True)
    result = digests.RegistryRebuilds(same, same, "r", DOCKERFILE, [], "base")
    row = digest_rows(result)[0]
    assert row["digest 1"] == row["digest 2"] == "sha256:aaaaaaaaaaaa" and row["same digest"]


@pytest.mark.docker
@pytest.mark.slow
def test_registry_digests_per_builder(executed_lab):
    """C15 under Docker is lab 08's run (issue 17: not repeated here)."""
    result = executed_lab("08").record("RegistryRebuilds")
    docker = result["docker"]
    assert docker["outcome"]["status"] == "ran", docker["outcome"]
    assert all(d.startswith("sha256:") for d in docker["digests"]) and len(docker["digests"]) == 2
    # the legacy builder stamps the build time into the config and the RUN layer's files
    assert docker["image_ids"][0] != docker["image_ids"][1] and docker["same_digest"] is False
    assert docker["differing_layers"] and 0 not in docker["differing_layers"]  # the base agrees
    buildah = result["buildah"]
    if why := buildah_status():
        assert buildah["outcome"]["status"] == "not run" and buildah["outcome"]["reason"] == why
    else:
        assert buildah["outcome"]["status"] == "ran", buildah["outcome"]
        assert buildah["same_digest"] and buildah["same_layers"]
        assert buildah["digests"][0] == buildah["digests"][1]
