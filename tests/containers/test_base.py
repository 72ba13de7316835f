"""The base image: chosen by a setting, pinned by the lock, checked against this machine's record.

The decisions are tested through the lookup seam of :mod:`mllab.containers.base` with fake
image IDs (a dict of what the "engine" holds); one Docker test shows the mismatch error against
the real engine with images this test makes and removes."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest

from mllab.containers import base
from mllab.containers.base import (
    LOCAL_BASE,
    PUBLIC_BASE,
    SETTING,
    EngineImage,
    base_choice,
    base_image,
    local_base,
    read_lock,
    read_record,
    record_base,
)
from mllab.core.errors import BaseImageMismatch, ConfigError
from mllab.core.paths import DOCKER

LOCK = read_lock()
REFERENCE = LOCK.local_tar_sha256  # the committed tar sha256
MOVED = "ab" * 32  # a root filesystem from a mirror that has moved since


def image(n: int, tar: str | None = REFERENCE) -> EngineImage:
    """A fake engine image: ID ``sha256:<n repeated>``, one layer whose diff_id is ``tar``."""
    layers = (f"sha256:{tar}",) if tar else ("sha256:" + "1" * 64, "sha256:" + "2" * 64)
    return EngineImage(f"sha256:{n:064d}", layers)


class Engine:
    """What a fake engine holds under each tag, and a build that puts a new image there."""

    def __init__(self, held: dict[str, EngineImage], rebuilt: EngineImage | None = None) -> None:
        self.held, self.rebuilt, self.builds = held, rebuilt, 0

    def lookup(self, tag: str) -> EngineImage | None:
        return self.held.get(tag)

    def build(self, tag: str) -> None:
        assert self.rebuilt is not None, "this test expects no build"
        self.builds += 1
        self.held[tag] = self.rebuilt


def check(engine: Engine, records: Path, said: list[str] | None = None) -> base.BaseRecord:
    """:func:`local_base` of the kit's tag against the fake engine and ``records``."""
    return local_base(
        LOCAL_BASE,
        lookup=engine.lookup,
        build=engine.build,
        records=records,
        say=(said if said is not None else []).append,
    )


# --- which base: a setting, not what the engine holds -------------------------------------------


def test_the_setting_chooses_the_base_and_local_is_the_default():
    assert base_choice({}) == "local"
    assert base_choice({SETTING: ""}) == "local"
    assert base_choice({SETTING: " Public "}) == "public"
    with pytest.raises(ConfigError, match=f"{SETTING}='docker'.*'local'.*'public'"):
        base_choice({SETTING: "docker"})


def test_what_the_engine_holds_does_not_choose_the_base(tmp_path, monkeypatch):
    """The review's case: an engine that holds the public image still builds on the local base
    when the setting says local (the old code took the public one because it was there), and
    the public choice is the pinned digest whatever the engine holds."""
    monkeypatch.delenv(SETTING, raising=False)
    engine = Engine({PUBLIC_BASE: image(9, tar=None)}, rebuilt=image(1))
    assert base_image(lookup=engine.lookup, build=engine.build, records=tmp_path) == LOCAL_BASE
    assert engine.builds == 1  # the local base was built, not replaced by the public one
    monkeypatch.setenv(SETTING, "public")
    pinned = base_image(lookup=engine.lookup, build=engine.build, records=tmp_path)
    assert pinned == LOCK.public and engine.builds == 1
    assert base_image("public", lookup=Engine({}).lookup, records=tmp_path) == pinned


# --- the lock and the Dockerfiles ---------------------------------------------------------------


def test_the_public_base_is_pinned_by_digest():
    assert re.fullmatch(re.escape(PUBLIC_BASE) + r"@sha256:[0-9a-f]{64}", LOCK.public)
    assert re.fullmatch(r"[0-9a-f]{64}", REFERENCE)


def test_every_dockerfile_defaults_to_the_locked_public_base():
    defaults = {}
    for path in sorted(DOCKER.rglob("Dockerfile*")):
        for match in re.finditer(r"^ARG BASE_IMAGE=(\S+)$", path.read_text(), re.M):
            defaults[path.name] = match.group(1)
    assert {"Dockerfile", "Dockerfile.naive", "Dockerfile.cuda"} <= set(defaults)
    assert set(defaults.values()) == {LOCK.public}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (LOCK.public, PUBLIC_BASE, "is not pinned"),  # a tag alone floats again
        (REFERENCE, "not-a-sha", "64 hex digits"),
        ("[local]", "[somewhere]", "not a base lock"),
    ],
)
def test_a_lock_that_does_not_pin_is_refused(tmp_path, old, new, message):
    lock = tmp_path / "base.lock"
    lock.write_text((DOCKER / "base.lock").read_text().replace(old, new))
    with pytest.raises(ConfigError, match=message):
        read_lock(lock)


# --- the local base: recorded once, then checked --------------------------------------------------


def test_a_first_base_that_is_the_reference_is_recorded(tmp_path):
    said: list[str] = []
    record = check(Engine({LOCAL_BASE: image(1)}), tmp_path, said)
    assert (record.image_id, record.how, record.matches_lock) == (image(1).id, "found", True)
    assert read_record(LOCAL_BASE, tmp_path) == record
    assert said and "is the reference of docker/base.lock" in said[0]


def test_a_fresh_machine_whose_mirror_moved_builds_and_is_told_so(tmp_path):
    said: list[str] = []
    engine = Engine({}, rebuilt=image(2, tar=MOVED))
    record = check(engine, tmp_path, said)
    assert engine.builds == 1 and record.how == "built" and not record.matches_lock
    assert MOVED[:12] in said[0] and REFERENCE[:12] in said[0] and "mirror has moved" in said[0]
    assert check(engine, tmp_path) == record  # from now on this record is the pin


def test_the_recorded_base_passes_silently(tmp_path):
    engine = Engine({LOCAL_BASE: image(1)})
    first = check(engine, tmp_path)
    said: list[str] = []
    assert check(engine, tmp_path, said) == first and said == []


def test_a_base_imported_again_is_a_mismatch_that_says_no_file_changed(tmp_path):
    engine = Engine({LOCAL_BASE: image(1)})
    check(engine, tmp_path)
    engine.held[LOCAL_BASE] = image(3)  # same tar, new ID: build-base run again outside the kit
    with pytest.raises(BaseImageMismatch) as caught:
        check(engine, tmp_path)
    text = str(caught.value)
    assert image(1).id in text and image(3).id in text
    assert "same root filesystem" in text
    assert "mllab images base --rebuild" in text and "mllab images base --record" in text


def test_another_root_filesystem_is_a_mismatch_naming_both(tmp_path):
    engine = Engine({LOCAL_BASE: image(1)})
    check(engine, tmp_path)
    engine.held[LOCAL_BASE] = image(4, tar=None)  # something else tagged as the base
    with pytest.raises(BaseImageMismatch, match="another root filesystem") as caught:
        check(engine, tmp_path)
    assert REFERENCE in str(caught.value) and "not a one-layer import" in str(caught.value)


def test_re_recording_is_the_explicit_fix(tmp_path):
    engine = Engine({LOCAL_BASE: image(1)})
    check(engine, tmp_path)
    engine.held[LOCAL_BASE] = image(5, tar=MOVED)
    with pytest.raises(BaseImageMismatch):
        check(engine, tmp_path)
    record_base(LOCAL_BASE, lookup=engine.lookup, records=tmp_path, say=[].append)
    record = check(engine, tmp_path)
    assert (record.image_id, record.how, record.matches_lock) == (image(5).id, "re-recorded", False)


def test_a_missing_base_is_rebuilt_and_must_be_the_recorded_filesystem(tmp_path):
    engine = Engine({LOCAL_BASE: image(1)})
    check(engine, tmp_path)
    del engine.held[LOCAL_BASE]  # removed: rebuilt from the same mirror state
    engine.rebuilt = image(6)
    assert check(engine, tmp_path).image_id == image(6).id and engine.builds == 1
    del engine.held[LOCAL_BASE]  # removed again: this time the mirror has moved
    engine.rebuilt = image(7, tar=MOVED)
    with pytest.raises(BaseImageMismatch, match="was rebuilt.*another root filesystem"):
        check(engine, tmp_path)
    assert read_record(LOCAL_BASE, tmp_path).image_id == image(6).id  # the record stands


def test_a_record_of_another_schema_is_refused(tmp_path):
    check(Engine({LOCAL_BASE: image(1)}), tmp_path)
    path = base.record_path(LOCAL_BASE, tmp_path)
    path.write_text(path.read_text().replace('"schema_version": 1', '"schema_version": 0'))
    with pytest.raises(ConfigError, match="schema version 0"):
        read_record(LOCAL_BASE, tmp_path)


def test_only_a_one_layer_import_has_a_tar_sha256():
    assert image(1).tar_sha256 == REFERENCE
    assert image(1, tar=None).tar_sha256 is None


# --- the real engine ------------------------------------------------------------------------------


def _import(docker_client, tag: str, content: bytes) -> str:
    """A one-file image imported under ``tag`` (as build-base imports its tar); its ID."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("base.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    repository, name = tag.split(":")
    docker_client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=name)
    return str(docker_client.images.get(tag).attrs["Id"])


@pytest.mark.docker
def test_a_replaced_base_is_a_mismatch_against_the_real_engine(docker_client, tmp_path):
    tag = "mllab-h2-base:check"
    made: list[str] = []
    try:
        made.append(_import(docker_client, tag, b"first\n"))
        recorded = record_base(tag, records=tmp_path, say=[].append)
        assert recorded.image_id == made[0] and recorded.tar_sha256 is not None
        assert local_base(tag, records=tmp_path) == recorded  # unchanged: passes
        made.append(_import(docker_client, tag, b"second\n"))  # the tag now names another image
        with pytest.raises(BaseImageMismatch, match="another root filesystem") as caught:
            local_base(tag, records=tmp_path, build=lambda t: pytest.fail("no build expected"))
        assert made[0] in str(caught.value) and made[1] in str(caught.value)
    finally:
        for image_id in made:
            docker_client.images.remove(image_id, force=True)
