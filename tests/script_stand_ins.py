"""Stand-in programs for the tests of the kit's shell scripts (docker/base/build-base,
docker/prebuild-bases): small shell scripts put first on the PATH."""

from __future__ import annotations

import os
from pathlib import Path

#: a stand-in mmdebstrap: writes a partial tar where it was told to, then fails
FAILING_MMDEBSTRAP = """#!/bin/sh
for arg; do case "$arg" in *.tar) echo partial > "$arg";; esac; done
echo "mmdebstrap: the mirror did not answer" >&2
exit 1
"""


def with_tools(tmp_path: Path, tools: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``tools`` (name -> script text) first on the PATH."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for name, text in tools.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}
