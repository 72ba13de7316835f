"""Memory: the server under a ``--memory`` limit below its need, and how it ended, in words.

``--memory`` is a hard limit of the memory cgroup. Below the model's need the container does
not slow down: with ``--memory-swap`` = ``--memory`` (the kit's setting) there is no swap to
push the model's memory to, and the kernel's OOM killer ends it (exit 137,
``State.OOMKilled``), which :func:`mllab.experiments.resources.container_limits.explain_exit`
turns into a sentence. (With swap allowed the same limit slows the server instead, the
lecture's case: :mod:`mllab.experiments.resources.memory_limits`.) The need itself is measured
first (:func:`memory_needed`): the memory cgroup's high-water mark of an unlimited container
once the model is loaded and warmed up, read with ``sh`` inside it (a Python process started
there to read it would add its own memory to what it reads).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import ClassVar

from mllab.containers.docker_cli import ContainerFailed
from mllab.containers.run import RunningContainer, run
from mllab.experiments.resources.container_limits import (
    MIB,
    PREFIX,
    container_limits,
    explain_exit,
    slim_image,
)

LABELS = {"mllab.lab": "07"}
#: what a container's memory cgroup says, read by ``sh`` (v2 files first, then v1's)
MEMORY_SCRIPT = """cd /sys/fs/cgroup || exit 0
for f in memory.stat memory/memory.stat; do [ -r "$f" ] && cat "$f"; done
for f in memory.peak memory/memory.max_usage_in_bytes; do [ -r "$f" ] && echo peak $(cat "$f"); done
[ -r memory.swap.current ] && echo swap_current $(cat memory.swap.current)
true"""


@dataclass
class OomResult:
    """The server under a memory limit below its need (``exit_code`` None: it came up)."""

    exit_code: int | None
    oom_killed: bool
    limit_bytes: int
    needed_bytes: int | None
    message: str
    seconds_to_exit: float | None
    log_tail: str

    SCHEMA_VERSION: ClassVar[int] = 1


def parse_memory(text: str) -> dict[str, int]:
    """``peak``, ``anon``, ``file`` and ``swap`` bytes from :data:`MEMORY_SCRIPT`'s output
    (cgroup v2 names first, then v1's hierarchical totals, then v1's own); a key is absent
    where the cgroup did not say."""
    raw: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            raw.setdefault(parts[0], int(parts[1]))
    names = {
        "peak": ("peak",),
        "anon": ("anon", "total_rss", "rss"),
        "file": ("file", "total_cache", "cache"),
        "swap": ("swap_current", "total_swap", "swap"),
    }
    found = {}
    for key, candidates in names.items():
        value = next((raw[name] for name in candidates if name in raw), None)
        if value is not None:
            found[key] = value
    return found


def container_memory(server: RunningContainer) -> dict[str, int]:
    """The memory cgroup of a running container, read from inside (:func:`parse_memory`);
    empty when it cannot be read (a container that has just stopped cannot run ``sh``)."""
    import docker.errors  # deferred: the docker SDK is slow to import

    try:
        code, output = server.exec(["sh", "-c", MEMORY_SCRIPT])
    except docker.errors.APIError:
        return {}
    return parse_memory(output) if code == 0 else {}


def memory_needed(tag: str | None = None, timeout: float = 120.0) -> int | None:
    """Peak memory of the server of ``tag`` once its model is loaded and warmed up, in bytes
    (None where the memory cgroup cannot be read)."""
    tag = tag or slim_image()
    name = f"{PREFIX}-memory-{os.getpid()}"
    with run(tag, name=name, read_only=True, timeout=timeout, labels=LABELS) as server:
        return container_memory(server).get("peak")


def oom_demo(
    tag: str | None = None,
    memory: str | int = "150m",
    needed_bytes: int | None = None,
    timeout: float = 120.0,
) -> OomResult:
    """Start the server of ``tag`` with ``--memory=memory`` and report how it ended.

    ``needed_bytes`` defaults to :func:`memory_needed` (one unlimited container). If the
    server comes up anyway the limit was not below the need: the result says so.
    """
    limits = container_limits(None, memory)
    tag = tag or slim_image()
    if needed_bytes is None:
        needed_bytes = memory_needed(tag)
    name = f"{PREFIX}-oom-{os.getpid()}"
    with run(tag, name=name, read_only=True, wait=None, labels=LABELS, **limits) as server:
        container = server.container
        start = time.monotonic()
        try:  # ready means the model loaded under the limit; an exit raises with its code
            server.wait_ready("/ready", timeout)
            code = None
        except ContainerFailed as error:
            code = error.exit_code
        seconds = time.monotonic() - start if code is not None else None
        message = explain_exit(container, needed_bytes)
        if code is None:
            message = (
                f"the server loaded its model under --memory={limits['mem_limit'] / MIB:.0f}m: "
                "the limit is not below what it needs"
            )
        log = container.logs().decode(errors="replace")
        return OomResult(
            exit_code=code,
            oom_killed=bool(container.attrs["State"].get("OOMKilled")),
            limit_bytes=limits["mem_limit"],
            needed_bytes=needed_bytes,
            message=message,
            seconds_to_exit=seconds,
            log_tail="\n".join(log.strip().splitlines()[-5:]),
        )
