"""The base image every Dockerfile builds ``FROM``: which one (a setting), pinned, and checked.

The lecture pins the base image ("Контроль зависимостей и версий", 2): a tag such as
``python:3.11-slim-bookworm`` moves whenever upstream rebuilds it, so one Dockerfile would give
two engineers two environments. The kit has two bases, both pinned in ``docker/base.lock``:

- **public**: ``python:3.11-slim-bookworm`` from Docker Hub, by the digest of its image index.
  The engine checks a digest reference itself when it pulls, so nothing more is checked here.
  The same reference is the default of every Dockerfile's ``ARG BASE_IMAGE``: a plain
  ``docker build`` without the kit is pinned too.
- **local**: ``mllab/base:bookworm-py311``, Debian bookworm made offline by
  ``docker/base/build-base`` (mmdebstrap + ``docker import``) where images cannot be pulled. It
  has no registry digest; its identity is its root filesystem tar's sha256 (the image's only
  layer diff_id) and, on one machine, the image ID that ``docker import`` gave it.

Which one a build uses is the setting ``MLLAB_BASE`` (:func:`base_choice`), never what the
engine happens to hold: the two bases differ (Debian's Python 3.11.2, python.org's later 3.11.x),
and choosing by presence is what let two checkouts of one Dockerfile build on different bases.
The default is ``local``: it needs no registry, only a Debian mirror, which is what the kit's
offline machines have; ``MLLAB_BASE=public`` where Docker Hub answers.

What is committed and what a machine records. The tar's sha256 depends on the Debian mirror's
state (a point release changes packages), so a committed sha256 cannot be a hard pin: a fresh
clone on a machine whose mirror moved would never build. ``docker/base.lock`` commits the
reference tar sha256; a machine's first local base (built by :func:`build_base`, or found under
the tag) is recorded in ``artifacts/base/`` (git-ignored), with a notice that says whether it
is the reference. From then on every build checks that the engine's image under the tag is the
recorded one (:func:`local_base`); a base rebuilt or re-tagged underneath the kit raises
:class:`~mllab.core.errors.BaseImageMismatch`, which says what differs and how to fix it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from mllab.containers.engine import client
from mllab.core.errors import BaseImageMismatch, BuildError, ConfigError
from mllab.core.paths import ARTIFACTS, DOCKER, exclusive
from mllab.core.tables import fold

#: the public base's name; what a build uses is the lock's pinned ``name@sha256:`` reference
PUBLIC_BASE = "python:3.11-slim-bookworm"
LOCAL_BASE = "mllab/base:bookworm-py311"
BUILD_BASE_SCRIPT = DOCKER / "base" / "build-base"
BASE_LOCK = DOCKER / "base.lock"
#: this machine's records of its local base (git-ignored: they hold this engine's image IDs)
RECORDS = ARTIFACTS / "base"
#: the setting that chooses the base, its values and its default
SETTING = "MLLAB_BASE"
CHOICES = ("local", "public")
DEFAULT_CHOICE = "local"
FIX = (
    "either rebuild the base and record it (`mllab images base --rebuild`), or accept the image "
    "the engine has now as this machine's base (`mllab images base --record`)"
)


def image_id(tag: str) -> str | None:
    """The ID of the image under ``tag``, or None when the engine has none."""
    import docker.errors  # deferred: the SDK is heavy at start-up and absent from the slim image

    try:
        return client().images.get(tag).id
    except docker.errors.ImageNotFound:
        return None


def has_image(tag: str) -> bool:
    """True when the engine has an image under ``tag``."""
    return image_id(tag) is not None


def image_size_mb(tag: str) -> float:
    """An image's size in MB (10^6 bytes, as ``docker images`` shows)."""
    return client().images.get(tag).attrs["Size"] / 1e6


# --- which base: the setting and the lock ---------------------------------------------------


def base_choice(env: Mapping[str, str] = os.environ) -> str:
    """``local`` or ``public``: the ``MLLAB_BASE`` setting (``local`` when unset)."""
    value = env.get(SETTING, "").strip().lower() or DEFAULT_CHOICE
    if value not in CHOICES:
        raise ConfigError(
            f"{SETTING}={value!r}: the base is 'local' (Debian bookworm built offline by "
            f"docker/base/build-base, the default) or 'public' (the pinned {PUBLIC_BASE} from "
            "Docker Hub)"
        )
    return value


@dataclass(frozen=True)
class BaseLock:
    """``docker/base.lock``: the public base's pinned reference and the local base's reference
    tar sha256 (with the SOURCE_DATE_EPOCH and the day it was made from Debian's mirror)."""

    public: str
    local_tar_sha256: str
    source_date_epoch: str
    recorded: str


def read_lock(path: Path = BASE_LOCK) -> BaseLock:
    """The lock, checked: the public base a ``name@sha256:<64 hex>`` digest reference (a tag
    alone would float again), the local tar sha256 64 hex digits."""
    try:
        data = tomllib.loads(path.read_text())
        local = data["local"]
        lock = BaseLock(
            data["public"]["ref"],
            local["tar_sha256"],
            str(local["source_date_epoch"]),
            str(local["recorded"]),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as error:
        raise ConfigError(f"{path} is not a base lock the kit can read: {error!r}") from error
    if not re.fullmatch(r"[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}", lock.public):
        raise ConfigError(
            f"{path}: [public] ref = {lock.public!r} is not pinned; write it as "
            "name:tag@sha256:<64 hex digits> (`docker buildx imagetools inspect name:tag`)"
        )
    if not re.fullmatch(r"[0-9a-f]{64}", lock.local_tar_sha256):
        raise ConfigError(f"{path}: [local] tar_sha256 must be 64 hex digits")
    return lock


# --- the local base: what the engine holds, what this machine recorded ------------------------


@dataclass(frozen=True)
class EngineImage:
    """What the engine holds under a tag: the image ID and its layers' diff_ids."""

    id: str
    layers: tuple[str, ...]

    @property
    def tar_sha256(self) -> str | None:
        """The root filesystem tar's sha256 of a one-layer ``docker import`` (its diff_id is the
        uncompressed tar's sha256), None for any other image."""
        return self.layers[0].removeprefix("sha256:") if len(self.layers) == 1 else None


#: how the kit looks an image up: a seam, so that the decisions below are tested without Docker
Lookup = Callable[[str], EngineImage | None]


def engine_image(tag: str) -> EngineImage | None:
    """The engine's image under ``tag``, or None."""
    import docker.errors  # deferred: the SDK is heavy at start-up and absent from the slim image

    try:
        attrs = client().images.get(tag).attrs
    except docker.errors.ImageNotFound:
        return None
    return EngineImage(attrs["Id"], tuple(attrs.get("RootFS", {}).get("Layers") or ()))


@dataclass
class BaseRecord:
    """This machine's local base, which every build is checked against. ``how``: ``built`` (by
    the kit), ``found`` (under the tag before this machine had a record), ``re-recorded``
    (``mllab images base --record``). ``matches_lock``: its tar sha256 is the committed
    reference of ``docker/base.lock``."""

    SCHEMA_VERSION: ClassVar[int] = 1

    tag: str
    image_id: str
    tar_sha256: str | None
    matches_lock: bool
    how: str
    recorded_at: str


def record_path(tag: str, records: Path = RECORDS) -> Path:
    """Where this machine's record of ``tag`` lives: one JSON file per tag."""
    return records / (re.sub(r"[^A-Za-z0-9._-]", "_", tag) + ".json")


def read_record(tag: str, records: Path = RECORDS) -> BaseRecord | None:
    """This machine's record of ``tag``, or None when it has none yet."""
    path = record_path(tag, records)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    version = data.pop("schema_version", None)
    if version != BaseRecord.SCHEMA_VERSION:
        raise ConfigError(
            f"{path} has schema version {version}, the kit reads "
            f"{BaseRecord.SCHEMA_VERSION}: record the base again (`mllab images base --record`)"
        )
    return BaseRecord(**data)


def record_base(
    tag: str = LOCAL_BASE,
    how: str = "re-recorded",
    *,
    lookup: Lookup = engine_image,
    records: Path = RECORDS,
    lock: Path = BASE_LOCK,
    say: Callable[[str], object] | None = None,
) -> BaseRecord:
    """Record the engine's image under ``tag`` as this machine's base and say whether it is the
    committed reference (a fresh machine whose Debian mirror moved is told so, not refused)."""
    image = lookup(tag)
    if image is None:
        raise BaseImageMismatch(f"the engine has no image {tag} to record: `mllab images base`")
    reference = read_lock(lock)
    record = BaseRecord(
        tag,
        image.id,
        image.tar_sha256,
        image.tar_sha256 == reference.local_tar_sha256,
        how,
        datetime.now(UTC).isoformat(timespec="seconds"),
    )
    path = record_path(tag, records)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"schema_version": BaseRecord.SCHEMA_VERSION, **asdict(record)}, indent=1)
    )
    (say or _say)(recorded_notice(record, reference))
    return record


def recorded_notice(record: BaseRecord, reference: BaseLock) -> str:
    """One sentence on a new record: which image, and whether it is the committed reference."""
    head = f"{record.tag}: recorded {record.image_id[:19]} as this machine's base ({record.how})"
    if record.tar_sha256 is None:
        return (
            f"{head}; it is not a one-layer import made by docker/base/build-base, so its "
            "content cannot be compared with docker/base.lock"
        )
    if record.matches_lock:
        return f"{head}; its root filesystem is the reference of docker/base.lock"
    return (
        f"{head}; its root filesystem (tar sha256 {record.tar_sha256[:12]}) is not the "
        f"reference of docker/base.lock ({reference.local_tar_sha256[:12]}, made from Debian's "
        f"mirror on {reference.recorded}): the mirror has moved since (or MLLAB_DEBIAN_MIRROR "
        "names another), so this machine builds on other Debian packages. Builds here are "
        "checked against this record from now on; "
        "to make it the kit's reference, put its tar sha256 in docker/base.lock"
    )


def mismatch_message(
    record: BaseRecord, image: EngineImage, records: Path = RECORDS, why: str = ""
) -> str:
    """What differs between the recorded base and the engine's image, and the two fixes."""
    if record.tar_sha256 is not None and record.tar_sha256 == image.tar_sha256:
        what = (
            f"the same root filesystem (tar sha256 {record.tar_sha256[:12]}) imported again: "
            "`docker import` stamps the time into the image, so the ID moved though no file did"
        )
    else:
        now = image.tar_sha256 or "none: not a one-layer import"
        what = (
            f"another root filesystem: tar sha256 {record.tar_sha256 or 'unknown'} recorded, "
            f"{now} now"
        )
    return (
        f"{why}the base image {record.tag} is not the one this machine recorded: "
        f"{record.image_id} was recorded ({record.how}, {record.recorded_at}), the engine has "
        f"{image.id}; {what}. Images built on it would not match those built before; {FIX}. "
        f"The record: {record_path(record.tag, records)}"
    )


def local_base(
    tag: str = LOCAL_BASE,
    *,
    lookup: Lookup = engine_image,
    build: Callable[[str], None] | None = None,
    records: Path = RECORDS,
    lock: Path = BASE_LOCK,
    say: Callable[[str], object] | None = None,
) -> BaseRecord:
    """This machine's local base, checked: the engine's image under ``tag`` must be the recorded
    one, else :class:`BaseImageMismatch`. With no image, the base is built (``build``, by default
    ``docker/base/build-base``) and recorded, unless a record names another root filesystem; with
    an image but no record yet, that image is recorded. Processes take turns (a file lock)."""

    def remember(how: str) -> BaseRecord:
        return record_base(tag, how, lookup=lookup, records=records, lock=lock, say=say)

    with exclusive(records / ".lock"):
        record, image = read_record(tag, records), lookup(tag)
        if image is None:
            (build or run_build_base)(tag)
            built = lookup(tag)
            if built is None:
                raise BuildError(f"building the base left no image {tag}")
            if record is not None and record.tar_sha256 != built.tar_sha256:
                why = f"the engine had no {tag}, so it was rebuilt, and "
                raise BaseImageMismatch(mismatch_message(record, built, records, why))
            return remember("built")
        if record is None:
            return remember("found")
        if image.id != record.image_id:
            raise BaseImageMismatch(mismatch_message(record, image, records))
        return record


def run_build_base(tag: str, tarball: str | None = None) -> None:
    """Run ``docker/base/build-base`` (mmdebstrap, then ``docker import`` under ``tag``)."""
    command = [str(BUILD_BASE_SCRIPT), tag] + ([tarball] if tarball else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(
            f"building the base image failed:\n{done.stderr.strip()}\n"
            f"(where Docker Hub answers, {SETTING}=public builds on the pinned {PUBLIC_BASE})"
        )


def build_base(tag: str = LOCAL_BASE, tarball: str | None = None) -> str:
    """Build the local base with mmdebstrap, import it and record it as this machine's base (an
    explicit rebuild is an explicit choice); returns the image ID."""
    run_build_base(tag, tarball)
    return record_base(tag, "built").image_id


# --- the base a build uses -------------------------------------------------------------------


def base_image(
    choice: str | None = None,
    *,
    lookup: Lookup = engine_image,
    build: Callable[[str], None] | None = None,
    records: Path = RECORDS,
    lock: Path = BASE_LOCK,
) -> str:
    """The reference to pass as ``BASE_IMAGE``, by ``choice`` or the ``MLLAB_BASE`` setting:
    the public base's pinned digest reference, or the local base's tag once :func:`local_base`
    has checked that the engine's image under it is this machine's recorded base (built and
    recorded on first use). What the engine holds never changes which of the two it is."""
    chosen = base_choice({SETTING: choice} if choice else os.environ)
    if chosen == "public":
        return read_lock(lock).public
    return local_base(LOCAL_BASE, lookup=lookup, build=build, records=records, lock=lock).tag


def _say(message: str) -> None:
    """A notice for the person at the terminal or the notebook (stderr: not a result)."""
    print(fold(message), file=sys.stderr)
