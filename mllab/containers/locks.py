"""Locks: every wheel an image installs, pinned to its version and the sha256 of its file
(``pip install --no-index --require-hashes``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from mllab.core.errors import InputError


@dataclass(frozen=True)
class Pin:
    """One line of a lock: ``name==version`` and the sha256 of its wheel(s)."""

    name: str
    version: str
    hashes: tuple[str, ...]


def wheel_name_version(path: str | Path) -> tuple[str, str]:
    """(PEP 503 name, version) from a wheel's file name (PEP 427): ``Pillow_SIMD-9.0-...whl``
    -> ``("pillow-simd", "9.0")``."""
    parts = Path(path).name.split("-")
    if not Path(path).name.endswith(".whl") or len(parts) < 5:
        raise InputError(f"{Path(path).name} is not a wheel file name (name-version-...-tag.whl)")
    return canonicalize_name(parts[0]), parts[1]


def parse_lock(path: str | Path) -> list[Pin]:
    """The pins of a ``--require-hashes`` lock; an unpinned or unhashed line is an error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no lock file at {path}: write it with `mllab images lock`")
    text = re.sub(r"\\\n", " ", path.read_text())  # join continuation lines
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)", requirement)
        if not match:
            raise InputError(f"{path.name}: line {number}: {requirement!r} is not pinned (==)")
        hashes = tuple(o.split(":", 1)[1] for o in options if o.startswith("--hash=sha256:"))
        if not hashes or any(not re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes):
            raise InputError(f"{path.name}: line {number}: {requirement} has no valid sha256 hash")
        pins.append(Pin(canonicalize_name(match.group(1)), match.group(3), hashes))
    if not pins:
        raise InputError(f"{path} pins nothing")
    return pins


def format_lock(pins: Iterable[Pin], header: str) -> str:
    """The text of a lock, ``pip-compile --generate-hashes`` style, sorted by name."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for pin in sorted(pins, key=lambda p: p.name):
        hashes = " \\\n".join(f"    --hash=sha256:{h}" for h in sorted(pin.hashes))
        lines.append(f"{pin.name}=={pin.version} \\\n{hashes}")
    return "\n".join(lines) + "\n"
