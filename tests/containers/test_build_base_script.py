"""docker/base/build-base leaves nothing behind: the ~130 MB tar of a run without an explicit
TARBALL lives in a scratch folder of its own, removed when the script ends (failed or not)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from script_stand_ins import FAILING_MMDEBSTRAP, with_tools

from mllab.containers.base import BUILD_BASE_SCRIPT


def with_failing_mmdebstrap(tmp_path: Path) -> dict[str, str]:
    """This process's environment with a failing stand-in mmdebstrap first on the PATH."""
    return with_tools(tmp_path, {"mmdebstrap": FAILING_MMDEBSTRAP})


def test_a_run_without_a_tarball_removes_its_scratch_folder(tmp_path: Path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**with_failing_mmdebstrap(tmp_path), "TMPDIR": str(scratch)}
    done = subprocess.run(
        [str(BUILD_BASE_SCRIPT), "mllab-test/base:never"], env=env, capture_output=True, text=True
    )
    assert done.returncode != 0 and "mmdebstrap failed" in done.stderr
    assert "the mirror did not answer" in done.stderr  # the log's end was shown first
    assert list(scratch.iterdir()) == []  # the partial tar and its log are gone


def test_an_explicit_tarball_is_kept_where_the_caller_asked(tmp_path: Path):
    env = with_failing_mmdebstrap(tmp_path)
    tarball = tmp_path / "mine" / "base.tar"
    tarball.parent.mkdir()
    subprocess.run(
        [str(BUILD_BASE_SCRIPT), "mllab-test/base:never", str(tarball)], env=env, check=False
    )
    assert tarball.read_text() == "partial\n" and tarball.with_suffix(".tar.log").exists()
