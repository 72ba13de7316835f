"""Measuring on a shared machine: CPU cgroups of our own for the measured processes.

The CFS scheduler shares the CPU between *groups*: every container is one group (under
``/docker``, itself one group of default weight), while a native process's threads compete one
by one with every other task of the host's group. On a machine busy with other work a
container's two threads thus get the share of one task and a native probe's get two:
"overhead" that is the scheduler's fairness, not the container. In two sibling groups of equal
weight both sides compete alike, and a weight above the default keeps other work from blurring
the measurement (a weight only matters under contention; a ``--cpus`` quota being measured is a
ceiling and applies unchanged).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mllab.containers.engine import client
from mllab.experiments.resources.container_limits import PREFIX
from mllab.runtime.cgroup import CGROUP


@dataclass(frozen=True)
class Groups:
    """Where the measured processes run: docker's ``cgroup_parent`` for containers and a CPU
    cgroup folder for native processes (both None: the defaults), and a note saying which."""

    container_parent: str | None
    native: Path | None
    note: str


#: what is used when own groups are not wanted
DEFAULT_GROUPS = Groups(None, None, "default cgroups (as asked)")


def cpu_cgroup_root() -> Path | None:
    """The folder where CPU cgroups are made: ``/sys/fs/cgroup/cpu`` (v1) or ``/sys/fs/cgroup``
    (v2 with the cpu controller delegated), if this process may write there; else None."""
    v1, v2 = CGROUP / "cpu", CGROUP
    if (v1 / "cgroup.procs").exists():
        root = v1
    elif "cpu" in _read(v2 / "cgroup.subtree_control").split():
        root = v2
    else:
        return None
    return root if os.access(root, os.W_OK) else None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@contextmanager
def measurement_groups(weight: int = 8) -> Iterator[Groups]:
    """Sibling CPU cgroups for the measured container(s) and native process, ``weight`` times
    the default CPU weight each; yields :class:`Groups`, removes the folders afterwards.

    Needs root and docker's cgroupfs driver; otherwise the defaults are yielded with a note
    saying why.
    """
    root = cpu_cgroup_root()
    driver = client().info().get("CgroupDriver")
    if root is None or driver != "cgroupfs":
        why = "not root?" if root is None else f"docker's cgroup driver is {driver}"
        yield Groups(None, None, f"default cgroups (own groups not possible here: {why})")
        return
    names = (f"{PREFIX}-container", f"{PREFIX}-native")
    v1 = root.name == "cpu"
    for name in names:
        (root / name).mkdir(exist_ok=True)
        if v1:  # cpu.shares: default 1024; v2's cpu.weight: default 100
            (root / name / "cpu.shares").write_text(str(1024 * weight))
        else:
            (root / name / "cpu.weight").write_text(str(min(10000, 100 * weight)))
    try:
        note = f"own sibling CPU cgroups ({weight}x the default weight) under {root}"
        yield Groups(f"/{names[0]}", root / names[1], note)
    finally:  # empty folders only: docker removed each container's own group with it
        for folder in sorted(root.parent.glob(f"*/{PREFIX}-*")) + [root / n for n in names]:
            try:
                folder.rmdir()
            except OSError:
                pass
