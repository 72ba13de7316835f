"""Runs inside the copy-up image (:mod:`mllab.experiments.architecture.copy_up`): one round of
first writes and sequential writes, printed as one JSON line.

Standard library only: the image is the kit's bare Debian base with this file copied in, so
it runs as ``python3 /opt/mllab-probe/write_probe.py '<json>'`` (the kit itself is not there).

The first write is ``open(O_RDWR)``, a write of ``write_kb`` KiB at offset 0, ``fsync``,
``close``. On a file of a lower layer, the open for writing makes overlayfs copy the whole file
up into the container's upper directory first (and fsync it): that is the cost measured.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

#: the first-write targets (the order within a group is fixed: the second write needs the first)
GROUPS: dict[str, tuple[str, ...]] = {
    "lower": ("lower_big_first", "lower_big_second"),
    "small": ("lower_small_first",),
    "volume": ("volume_first",),
    "tmpfs": ("tmpfs_first",),
    "layer": (),  # a sequential write only: a new file in the writable layer
}


def first_write_ms(path: str, write_kb: int) -> float:
    """Open ``path`` for writing, write ``write_kb`` KiB at offset 0, fsync, close: ms."""
    data = b"w" * (write_kb * 1024)
    start = time.perf_counter()
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, data, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    return (time.perf_counter() - start) * 1000.0


def sequential_write_mbps(path: str, size_mb: int, chunk: bytes) -> float:
    """Write a new ``size_mb`` MiB file at ``path`` in ``chunk``s, fsync: MB/s (10^6 B/s)."""
    if os.path.exists(path):
        os.unlink(path)
    start = time.perf_counter()
    with open(path, "wb") as out:
        for _ in range(size_mb * 1024 * 1024 // len(chunk)):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    seconds = time.perf_counter() - start
    return size_mb * 1024 * 1024 / 1e6 / seconds


def one_round(spec: dict[str, Any]) -> dict[str, Any]:
    """One round over the groups in ``spec["order"]``: first-write ms per target, sequential
    MB/s per place. ``spec``: paths (big, small, volume, tmpfs, layer), big_mb, write_kb."""
    paths, big_mb, write_kb = spec["paths"], int(spec["big_mb"]), int(spec["write_kb"])
    chunk = os.urandom(1024 * 1024)
    first: dict[str, float] = {}
    sequential: dict[str, float] = {}
    for group in spec["order"]:
        if group == "lower":
            first["lower_big_first"] = first_write_ms(paths["big"], write_kb)
            first["lower_big_second"] = first_write_ms(paths["big"], write_kb)
        elif group == "small":
            first["lower_small_first"] = first_write_ms(paths["small"], write_kb)
        elif group in ("volume", "tmpfs"):
            # the same-size file, written here (its MB/s), then its first small write
            sequential[group] = sequential_write_mbps(paths[group], big_mb, chunk)
            first[f"{group}_first"] = first_write_ms(paths[group], write_kb)
        elif group == "layer":
            sequential[group] = sequential_write_mbps(paths["layer"], big_mb, chunk)
    return {"first_ms": first, "sequential_mbps": sequential}


def main(argv: list[str]) -> int:
    print(json.dumps(one_round(json.loads(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
