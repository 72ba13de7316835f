"""Build versions: tag, model_version = f(git_commit, docker_tag, hash), labels, git facts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mllab.core.errors import InputError
from mllab.core.hashing import sha256_file
from mllab.experiments.delivery.versions import (
    LABEL_MODEL_SHA256,
    LABEL_MODEL_VERSION,
    LABEL_REVISION,
    LABEL_VERSION,
    BuildVersion,
    NotAGitTree,
    build_number,
    git_commit,
    parse_model_version,
    version_of_labels,
)

COMMIT = "8a9c794d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b"
SHA = "3f1c0a9b7d22" + "0" * 52


def _version(**changes) -> BuildVersion:
    fields = {"release": "1.0.3", "build": 472, "git_commit": COMMIT, "dirty": False}
    return BuildVersion(**{**fields, "model_sha256": SHA, **changes})


def test_tag_is_the_lectures_scheme():
    assert _version().tag == "1.0.3-build.472"


def test_model_version_binds_tag_commit_and_model():
    assert _version().model_version == "1.0.3-build.472+g8a9c794d1e2f.m3f1c0a9b7d22"
    assert _version(dirty=True).model_version == "1.0.3-build.472+g8a9c794d1e2f.dirty.m3f1c0a9b7d22"


def test_model_version_changes_with_each_input():
    base = _version().model_version
    others = [
        _version(build=473),
        _version(git_commit="1" + COMMIT[1:]),
        _version(model_sha256="4" + SHA[1:]),
        _version(release="1.1.0"),
    ]
    assert all(other.model_version != base for other in others)


def test_labels_carry_revision_version_and_model():
    labels = _version().labels()
    assert labels == {
        LABEL_REVISION: COMMIT,
        LABEL_VERSION: "1.0.3-build.472",
        LABEL_MODEL_SHA256: SHA,
        LABEL_MODEL_VERSION: "1.0.3-build.472+g8a9c794d1e2f.m3f1c0a9b7d22",
    }


@pytest.mark.parametrize("dirty", [False, True])
def test_labels_read_back_into_the_same_version(dirty):
    version = _version(dirty=dirty)
    assert version_of_labels(version.labels()) == version


def test_labels_that_disagree_are_refused():
    labels = {**_version().labels(), LABEL_MODEL_SHA256: "5" * 64}
    with pytest.raises(InputError, match="does not match"):
        version_of_labels(labels)
    with pytest.raises(InputError, match="no version labels"):
        version_of_labels({"org.opencontainers.image.title": "mllab-serve"})


def test_parse_model_version():
    assert parse_model_version(_version(dirty=True).model_version) == {
        "tag": "1.0.3-build.472",
        "commit12": COMMIT[:12],
        "dirty": True,
        "sha12": SHA[:12],
    }
    with pytest.raises(InputError):
        parse_model_version("1.0.3")


@pytest.mark.parametrize(
    "changes",
    [
        {"release": "1.0"},
        {"release": "v1.0.0"},
        {"build": -1},
        {"git_commit": "xyz"},
        {"model_sha256": "abc"},
    ],
)
def test_bad_fields_are_refused(changes):
    with pytest.raises(InputError):
        _version(**changes)


def _git(root: Path, *args: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "-C", str(root), *identity, *args], check=True, capture_output=True)


def test_git_facts_of_a_fresh_repository(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    first, dirty = git_commit(tmp_path)
    assert len(first) == 40 and not dirty and build_number(tmp_path) == 1
    (tmp_path / "a.txt").write_text("two\n")
    assert git_commit(tmp_path) == (first, True)
    _git(tmp_path, "commit", "-q", "-am", "two")
    second, dirty = git_commit(tmp_path)
    assert second != first and not dirty and build_number(tmp_path) == 2


def test_version_of_a_model_in_a_repository(tmp_path):
    _git(tmp_path, "init", "-q")
    model = tmp_path / "m.onnx"
    model.write_bytes(b"not really a model")
    _git(tmp_path, "add", "m.onnx")
    _git(tmp_path, "commit", "-q", "-m", "model")
    version = BuildVersion.of("2.0.1", model, root=tmp_path)
    assert version.tag == "2.0.1-build.1" and version.model_sha256 == sha256_file(model)
    assert version.git_commit == git_commit(tmp_path)[0] and not version.dirty
    with pytest.raises(InputError, match="no model file"):
        BuildVersion.of("2.0.1", tmp_path / "missing.onnx", root=tmp_path)


def test_a_tree_that_is_not_git_is_a_clear_error(tmp_path):
    with pytest.raises(NotAGitTree, match="not a git working tree"):
        git_commit(tmp_path)
    with pytest.raises(NotAGitTree, match="clone"):
        build_number(tmp_path)


def test_the_kits_own_tree_has_a_version():
    sha, _ = git_commit()
    assert len(sha) == 40 and build_number() >= 1
