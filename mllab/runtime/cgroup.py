"""What the kernel's cgroups allow this process: CPU quota and memory limit.

Containers see the host's cores in ``os.cpu_count()``; the quota set by ``docker run --cpus``
lives in ``/sys/fs/cgroup``. Thread pools must be sized from the quota (lecture: cgroups).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def cpu_quota(root: Path = CGROUP) -> float | None:
    """CPUs allowed by the CFS quota (``--cpus``), or None when unlimited."""
    v2 = root / "cpu.max"
    if v2.exists():
        quota, period = v2.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    v1_quota, v1_period = root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us"
    if v1_quota.exists() and v1_period.exists():
        v1 = int(v1_quota.read_text())
        return None if v1 < 0 else v1 / int(v1_period.read_text())
    return None


def memory_limit(root: Path = CGROUP) -> int | None:
    """Bytes allowed by the memory cgroup (``--memory``), or None when unlimited."""
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        if path.exists():
            text = path.read_text().strip()
            if text == "max" or int(text) >= 2**60:
                return None
            return int(text)
    return None


def usable_cpus() -> int:
    """Cores this process may really use: affinity mask and CFS quota, whichever is smaller."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = cpu_quota()
    if quota is not None:
        cores = min(cores or 1, max(1, math.ceil(quota)))
    return max(1, cores or 1)
