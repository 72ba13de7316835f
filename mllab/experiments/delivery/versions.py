"""Build versions: ``MAJOR.MINOR.PATCH-build.N``; model_version = f(git_commit, docker_tag, hash).

The lecture's CI/CD section tags each build like ``1.0.3-build.472`` and binds the container's
version to the commit and the model: model_version = f(git_commit, docker_tag, hash). Here::

    tag            = "1.0.0-build.28"                       (release + git rev-list --count HEAD)
    model_version  = "1.0.0-build.28+g8a9c794d1e2f.m3f1c0a9b7d22"
                      └ docker tag ┘ └ git commit ┘ └ model sha256 ┘   (12 hex digits each)

A working tree with uncommitted changes is not the commit it names: its model_version says so
(``+g<commit>.dirty.m<sha>``). :meth:`BuildVersion.labels` gives the OCI labels that carry the
same facts inside the image, so that an image pulled anywhere says which commit and which model
it was built from. The labels carry no build time on purpose: a time would make two builds of the
same inputs differ (claim C15).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mllab.core.errors import InputError, MllabError
from mllab.core.hashing import sha256_file
from mllab.core.paths import ROOT

#: a release as the lecture writes it: MAJOR.MINOR.PATCH
RELEASE = re.compile(r"^\d+\.\d+\.\d+$")
#: how many hex digits of the commit and of the model's sha256 go into model_version
SHORT = 12

LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_VERSION = "org.opencontainers.image.version"
LABEL_MODEL_SHA256 = "org.mllab.model.sha256"
LABEL_MODEL_VERSION = "org.mllab.model.version"


class NotAGitTree(MllabError):
    """The kit's folder is not a git working tree, so a build cannot be bound to a commit."""


def _git(root: Path, *args: str) -> str:
    """``git -C root args`` (read-only queries only); its stdout, stripped."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise NotAGitTree(
            "git is not installed, so the build cannot be bound to a commit: install git "
            "(apt-get install git) and build from a clone of the kit"
        ) from None
    if done.returncode != 0:
        raise NotAGitTree(
            f"{root} is not a git working tree with a commit ({done.stderr.strip()}): a build "
            "version names a commit, so build from a clone of the kit (git clone ...), not from "
            "a copy of its files"
        )
    return done.stdout.strip()


def git_commit(root: str | Path = ROOT) -> tuple[str, bool]:
    """The commit checked out at ``root`` (40 hex digits) and whether the tree is dirty:
    tracked files changed or untracked files present (ignored files such as artifacts/ do not
    count). :class:`NotAGitTree` when ``root`` is no git tree."""
    root = Path(root)
    sha = _git(root, "rev-parse", "--verify", "HEAD")
    dirty = bool(_git(root, "status", "--porcelain"))
    return sha, dirty


def build_number(root: str | Path = ROOT) -> int:
    """The build number N of ``-build.N``: the commits reachable from HEAD
    (``git rev-list --count HEAD``), so that it grows with every commit and is the same on
    every machine that has the same history."""
    return int(_git(Path(root), "rev-list", "--count", "HEAD"))


def check_release(release: str) -> str:
    """``release`` when it is MAJOR.MINOR.PATCH; :class:`InputError` otherwise."""
    if not RELEASE.match(release):
        raise InputError(f"a release is MAJOR.MINOR.PATCH such as 1.0.0, not {release!r}")
    return release


@dataclass(frozen=True)
class BuildVersion:
    """The version of one build: the release, the build number, the commit and the model.

    ``tag`` is the Docker tag (``1.0.0-build.28``); ``model_version`` binds the tag to the
    commit and to the model's sha256; ``labels()`` puts all of it into the image."""

    release: str
    build: int
    git_commit: str
    dirty: bool
    model_sha256: str

    SCHEMA_VERSION: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_release(self.release)
        if self.build < 0:
            raise InputError(f"a build number is >= 0, not {self.build}")
        if not re.fullmatch(r"[0-9a-f]{7,64}", self.git_commit):
            raise InputError(f"a git commit is hex digits, not {self.git_commit!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", self.model_sha256):
            raise InputError(f"a model sha256 is 64 hex digits, not {self.model_sha256!r}")

    @classmethod
    def of(cls, release: str, model_path: str | Path, root: str | Path = ROOT) -> BuildVersion:
        """The version of a build of ``model_path`` from the tree at ``root`` now."""
        model_path = Path(model_path)
        if not model_path.is_file():
            raise InputError(f"no model file at {model_path}")
        sha, dirty = git_commit(root)
        return cls(check_release(release), build_number(root), sha, dirty, sha256_file(model_path))

    @property
    def tag(self) -> str:
        """The Docker tag: ``MAJOR.MINOR.PATCH-build.N`` (the lecture's ``1.0.3-build.472``)."""
        return f"{self.release}-build.{self.build}"

    @property
    def model_version(self) -> str:
        """f(git_commit, docker_tag, hash): ``<tag>+g<commit12>[.dirty].m<sha12>`` (semver
        build metadata: the tag, then which commit and which model)."""
        dirty = ".dirty" if self.dirty else ""
        return f"{self.tag}+g{self.git_commit[:SHORT]}{dirty}.m{self.model_sha256[:SHORT]}"

    def labels(self) -> dict[str, str]:
        """The image labels that carry this version (OCI annotation keys where one exists)."""
        return {
            LABEL_REVISION: self.git_commit,
            LABEL_VERSION: self.tag,
            LABEL_MODEL_SHA256: self.model_sha256,
            LABEL_MODEL_VERSION: self.model_version,
        }

    def summary(self) -> dict[str, object]:
        """The fields and the derived tag / model_version, for a record or ``--json``."""
        return {
            "release": self.release,
            "build": self.build,
            "git_commit": self.git_commit,
            "dirty": self.dirty,
            "model_sha256": self.model_sha256,
            "tag": self.tag,
            "model_version": self.model_version,
        }


def parse_model_version(text: str) -> dict[str, str | bool]:
    """The parts of a model_version: ``tag``, ``commit12``, ``dirty``, ``sha12``
    (:class:`InputError` when ``text`` is not one)."""
    match = re.fullmatch(
        r"(?P<tag>\d+\.\d+\.\d+-build\.\d+)\+g(?P<commit12>[0-9a-f]+)(?P<dirty>\.dirty)?"
        r"\.m(?P<sha12>[0-9a-f]+)",
        text,
    )
    if not match:
        raise InputError(f"{text!r} is not a model_version (<tag>+g<commit>.m<sha256>)")
    parts: dict[str, str | bool] = dict(match.groupdict(default=""))
    parts["dirty"] = bool(parts["dirty"])
    return parts


def version_of_labels(labels: dict[str, str]) -> BuildVersion:
    """The :class:`BuildVersion` an image's labels describe (:class:`InputError` when a label
    is missing or they do not agree with each other)."""
    missing = [k for k in (LABEL_REVISION, LABEL_VERSION, LABEL_MODEL_SHA256) if k not in labels]
    missing += [LABEL_MODEL_VERSION] if LABEL_MODEL_VERSION not in labels else []
    if missing:
        raise InputError(f"the image has no version labels {missing}: build it with labels()")
    match = re.fullmatch(r"(\d+\.\d+\.\d+)-build\.(\d+)", labels[LABEL_VERSION])
    if not match:
        raise InputError(f"label {LABEL_VERSION}={labels[LABEL_VERSION]!r} is no build tag")
    dirty = bool(parse_model_version(labels[LABEL_MODEL_VERSION])["dirty"])
    version = BuildVersion(
        match[1], int(match[2]), labels[LABEL_REVISION], dirty, labels[LABEL_MODEL_SHA256]
    )
    if version.model_version != labels[LABEL_MODEL_VERSION]:
        raise InputError(
            f"label {LABEL_MODEL_VERSION}={labels[LABEL_MODEL_VERSION]!r} does not match the "
            f"other labels (expected {version.model_version!r})"
        )
    return version
