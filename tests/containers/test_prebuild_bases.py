"""docker/prebuild-bases (run by `make setup` while pip installs): it builds the two Debian images
the labs need first only when an engine answers and the image is missing (the base only when
this machine has not recorded one), reports a failure without failing, and names what the kit
names. The engine and mmdebstrap are stand-ins here: the script's real builds are the kit's
own scripts, run by the labs and their tests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from script_stand_ins import FAILING_MMDEBSTRAP, with_tools

from mllab.containers.base import LOCAL_BASE, record_path
from mllab.containers.nginx import NGINX_IMAGE
from mllab.core.paths import DOCKER

SCRIPT = DOCKER / "prebuild-bases"

#: a stand-in docker CLI: `info` answers as $INFO says, `image inspect` finds the tags in $HAVE
FAKE_DOCKER = """#!/bin/sh
echo "docker $*" >> "$CALLS"
case "$1" in
  info) exit "${INFO:-0}";;
  image) for tag in $HAVE; do [ "$tag" = "$3" ] && exit 0; done; exit 1;;
esac
exit 0
"""


def run_script(tmp_path: Path, **settings: str) -> tuple[subprocess.CompletedProcess, str]:
    """The script with the stand-ins first on the PATH; its result and the calls they saw."""
    calls = tmp_path / "calls"
    calls.write_text("")
    env = {
        **with_tools(tmp_path, {"docker": FAKE_DOCKER, "mmdebstrap": FAILING_MMDEBSTRAP}),
        "CALLS": str(calls),
        "MLLAB_ARTIFACTS": str(tmp_path / "artifacts"),
        "TMPDIR": str(tmp_path),
        **settings,
    }
    if "MLLAB_BASE" not in settings:
        env.pop("MLLAB_BASE", None)
    log = tmp_path / "prebuild.log"
    done = subprocess.run([str(SCRIPT), str(log)], env=env, capture_output=True, text=True)
    return done, calls.read_text()


def test_the_script_names_what_the_kit_names():
    text = SCRIPT.read_text()
    assert f"BASE={LOCAL_BASE}\n" in text and f"NGINX={NGINX_IMAGE}\n" in text
    record = record_path(LOCAL_BASE, Path("ARTIFACTS") / "base")
    assert re.search(r"BASE_RECORD=\$\{MLLAB_ARTIFACTS:-artifacts\}/base/" + record.name, text)


def test_without_an_engine_nothing_is_built(tmp_path: Path):
    done, calls = run_script(tmp_path, INFO="1")
    assert done.returncode == 0 and "no Docker engine answers" in done.stdout
    assert calls.splitlines() == ["docker info"]


def test_missing_images_are_built_and_a_failure_is_only_reported(tmp_path: Path):
    done, calls = run_script(tmp_path, HAVE="")
    assert done.returncode == 0, done.stderr
    for tag in (LOCAL_BASE, NGINX_IMAGE):  # both scripts ran, and mmdebstrap failed in each
        assert f"building {tag} failed (the labs build it themselves)" in done.stdout
    assert (tmp_path / "prebuild.log").read_text().count("the mirror did not answer") == 2


@pytest.mark.parametrize(
    ("have", "record", "base_setting", "built"),
    [
        (f"{LOCAL_BASE} {NGINX_IMAGE}", False, None, []),  # both there: nothing to do
        (NGINX_IMAGE, True, None, []),  # a recorded base that went missing: the kit rebuilds it
        (NGINX_IMAGE, False, "public", []),  # the public base: the local one is not needed
        (NGINX_IMAGE, False, None, [LOCAL_BASE]),
        (LOCAL_BASE, False, None, [NGINX_IMAGE]),
    ],
)
def test_only_a_missing_image_is_built(tmp_path, have, record, base_setting, built):
    if record:
        path = record_path(LOCAL_BASE, tmp_path / "artifacts" / "base")
        path.parent.mkdir(parents=True)
        path.write_text("{}")
    settings = {"HAVE": have, **({"MLLAB_BASE": base_setting} if base_setting else {})}
    done, _ = run_script(tmp_path, **settings)
    tried = re.findall(r"building (\S+) failed", done.stdout)
    assert done.returncode == 0 and tried == built
