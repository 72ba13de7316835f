"""Rebuilds of the slim image with the engine: the cache gives the same ID, --no-cache a new
one (and why); buildah twice; the mmdebstrap base twice."""

from __future__ import annotations

import pytest

from mllab.core.outcome import Outcome
from mllab.experiments.reproducibility import buildah, identity, rebuilds
from mllab.experiments.reproducibility.saved_images import compare_images

PREFIX = "mllab-repro-test"


def test_base_tar_comparison_names_what_differs():
    run = rebuilds.BaseRun("t:1", "aa", 1.0, "sha256:1", "sha256:d", 1.0)
    other = rebuilds.BaseRun("t:2", "aa", 1.0, "sha256:2", "sha256:d", 1.0)
    same_tar = rebuilds.BaseTarTwice([run, other], "0").comparison()
    assert same_tar.same is True and same_tar.identity == "tar sha256"
    assert same_tar.differing_fields == ["image ID"]
    changed = rebuilds.BaseRun("t:2", "bb", 1.0, "sha256:2", "sha256:e", 1.0)
    different = rebuilds.BaseTarTwice([run, changed], "0").comparison()
    assert different.same is False
    assert different.differing_fields == ["tar sha256", "diff_id", "image ID"]


def test_a_comparison_that_did_not_run_says_why():
    skipped = rebuilds.not_run("BUILDAH is False")
    assert skipped.outcome == Outcome.not_run("BUILDAH is False") and skipped.same is None


@pytest.fixture(scope="module")
def cleanup():
    yield
    try:
        rebuilds.remove_images(PREFIX)
        buildah.buildah_remove(
            [f"localhost/{PREFIX}/slim-buildah:run1", f"localhost/{PREFIX}/slim-buildah:run2"]
        )
    except Exception:  # noqa: BLE001 - cleanup must not hide the test's result
        pass


@pytest.mark.docker
@pytest.mark.slow
def test_docker_rebuild_same_id_with_cache_new_id_without(cleanup):
    runs = rebuilds.docker_rebuilds(PREFIX)
    assert runs.cached().same is True
    assert all(s.cached for s in runs.builds["cached"].steps
               if not s.instruction.startswith(rebuilds.NO_CACHE_LINE))  # fmt: skip
    comparison = compare_images(runs.tags["first"], runs.tags["nocache"])
    record = rebuilds.compared(comparison)
    assert record.same is False and record.outcome.ok
    assert "created" in record.differing_fields
    assert any(f.startswith("history[].created") for f in record.differing_fields)
    assert comparison.changed_layers and 0 not in comparison.changed_layers  # base is shared
    assert all(d.metadata_fields.get("mtime") for d in comparison.layers)  # timestamps differ


@pytest.mark.docker
@pytest.mark.slow
def test_buildah_gives_the_same_id_twice_and_runs_in_docker(cleanup):
    if status := buildah.buildah_status():
        pytest.skip(status)
    result = buildah.buildah_twice(PREFIX)
    assert result.same_id, result.ids
    docker_id = buildah.buildah_to_docker(result.tags[0], f"{PREFIX}/slim-buildah:docker")
    image = identity.image_identity(f"{PREFIX}/slim-buildah:docker")
    assert image.id_is_config_sha256 and docker_id == image.id
    smoke = rebuilds.smoke_test(f"{PREFIX}/slim-buildah:docker", f"{PREFIX}-buildah")
    assert smoke.exec_exit_code == 0


@pytest.mark.docker
@pytest.mark.slow
def test_mmdebstrap_base_tar_is_the_same_twice(cleanup):
    result = rebuilds.base_tar_twice(PREFIX)
    assert result.comparison().same, result.runs
