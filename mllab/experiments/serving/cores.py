"""The load generator off the server's cores, where the machine has cores to spare.

A client in the same machine competes with the server for its cores: on 2 cores, a load
generator's CPU is the server's loss. When this process may use more cores than the server's
ONNX Runtime threads, :func:`split_cores` gives the server the first ``threads`` of them and the
client the rest; :func:`pin_process` moves every thread of a running process onto its share
(``sched_setaffinity`` per thread: the threads it starts later inherit it), and
:func:`pinned_here` does the same for this thread and the threads it starts, restored on exit.
Where there are not enough cores (:func:`split_cores` answers None), both share them and the
client's CPU is measured instead. Linux only (``/proc``, ``os.sched_setaffinity``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mllab.runtime.cgroup import usable_cpus


def split_cores(server_threads: int) -> tuple[list[int], list[int]] | None:
    """(the server's cores, the client's) from this process's affinity, or None when it may
    use no more cores than ``server_threads`` (a CPU quota counts: :func:`usable_cpus`)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if min(len(cores), usable_cpus()) <= server_threads:
        return None
    return cores[:server_threads], cores[server_threads:]


def pin_process(pid: int, cores: list[int]) -> None:
    """Every thread of process ``pid`` onto ``cores`` (a thread that ended meanwhile is
    skipped)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cores)
        except ProcessLookupError:
            continue


@contextmanager
def pinned_here(cores: list[int] | None) -> Iterator[None]:
    """This thread, and the threads it starts meanwhile, on ``cores`` (None: unchanged);
    its affinity restored on exit."""
    if cores is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
