"""Reproducible builds: the buildah Dockerfile change, and the BuildKit path (no engine)."""

from __future__ import annotations

from mllab.experiments.reproducibility import buildah


def test_reproducible_dockerfile_only_declares_source_date_epoch():
    from mllab.core.paths import DOCKER

    original = (DOCKER / "Dockerfile").read_text().splitlines()
    repro = buildah.reproducible_dockerfile().splitlines()
    stages = sum(line.startswith("FROM ") for line in original)
    assert stages >= 2  # multi-stage: both stages need the ARG
    assert [line for line in repro if line != "ARG SOURCE_DATE_EPOCH"] == original
    for i, line in enumerate(repro):
        if line.startswith("FROM "):
            assert repro[i + 1] == "ARG SOURCE_DATE_EPOCH"


def test_buildah_refuses_with_the_reason_where_it_cannot_build(monkeypatch, tmp_path):
    monkeypatch.setattr(buildah, "buildah_status", lambda: "buildah is not installed")
    try:
        buildah.buildah_build(tmp_path, "x:1", buildargs={"BASE_IMAGE": "b"})
    except buildah.BuildahUnavailable as error:
        assert "not installed" in str(error)
    else:
        raise AssertionError("buildah_build ran without buildah")
