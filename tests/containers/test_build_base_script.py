"""docker/base/build-base leaves nothing behind: the ~130 MB tar of a run without an explicit
TARBALL lives in a scratch folder of its own, removed when the script ends (failed or not)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mllab.containers.base import BUILD_BASE_SCRIPT

#: a stand-in mmdebstrap: writes a partial tar where it was told to, then fails
FAILING_MMDEBSTRAP = """#!/bin/sh
for arg; do case "$arg" in *.tar) echo partial > "$arg";; esac; done
echo "mmdebstrap: the mirror did not answer" >&2
exit 1
"""


def with_failing_mmdebstrap(tmp_path: Path) -> dict[str, str]:
    """This process's environment with :data:`FAILING_MMDEBSTRAP` first on the PATH."""
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "mmdebstrap").write_text(FAILING_MMDEBSTRAP)
    (tools / "mmdebstrap").chmod(0o755)
    return {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}


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
