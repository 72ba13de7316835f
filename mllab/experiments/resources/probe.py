"""The probe, the part of lab 07 that runs *inside* the measured place: ``session.run`` timed
call by call, with the cgroup's counters. The host's side (starting it in a container or
natively, reading its line into a record) is :mod:`mllab.experiments.resources.probe_runs`.

Run as a module, in a container of the slim image or natively, it prints one JSON line::

    python -m mllab.experiments.resources.probe time '{"threads": "quota", "repeats": 30,
                                                      "warmup": 3, "batch": 1, "cgroup": true}'
    python -m mllab.experiments.resources.probe cpu-stat      # the cgroup's CFS counters
    python -m mllab.experiments.resources.probe memory-peak   # the memory cgroup's high-water mark

It runs in the slim image, where neither torch nor docker is installed: it imports only numpy,
ONNX Runtime (through :mod:`mllab.runtime.sessions`, which also gives it the session options
every other session of the kit gets) and :mod:`mllab.runtime.cgroup`. No HTTP: a load
generator on a small host would compete with the model for the very cores being measured.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mllab.core.errors import InputError
from mllab.runtime.cgroup import CGROUP, cpu_quota, memory_limit, usable_cpus
from mllab.runtime.sessions import SessionConfig, create_session

#: how to run this module: ``[*COMMAND, action, json args]``
COMMAND = ("-m", "mllab.experiments.resources.probe")
ACTIONS = ("time", "cpu-stat", "memory-peak")
#: how the probe sizes ONNX Runtime's intra-op pool: the host's cores, or the cgroup quota
THREAD_POLICIES = ("host", "quota")


def probe_args(policy: str | int, repeats: int, warmup: int, batch: int, cgroup: bool) -> str:
    """The JSON argument of ``time`` (what :func:`main` reads), after checking every value: the
    caller learns of a bad value before a container starts."""
    if policy not in THREAD_POLICIES and not (isinstance(policy, int) and policy >= 1):
        raise InputError(
            f"threads must be one of {THREAD_POLICIES} or a count >= 1, not {policy!r}"
        )
    if repeats < 1 or warmup < 0 or batch < 1:
        raise InputError(
            f"need repeats >= 1, warmup >= 0, batch >= 1 (got {repeats}, {warmup}, {batch})"
        )
    return json.dumps(
        {"threads": policy, "repeats": repeats, "warmup": warmup, "batch": batch, "cgroup": cgroup}
    )


def cpu_stat(root: Path = CGROUP) -> dict[str, float] | None:
    """CFS counters of the cgroup this process runs in (v2 first, then v1): periods, throttled
    periods and throttled milliseconds; None where no ``cpu.stat`` is readable."""
    for path, unit in ((root / "cpu.stat", 1e-3), (root / "cpu" / "cpu.stat", 1e-6)):
        if path.exists():
            lines = path.read_text().splitlines()
            fields = dict(line.split()[:2] for line in lines if len(line.split()) >= 2)
            throttled = fields.get("throttled_usec", fields.get("throttled_time", 0))
            return {
                "nr_periods": int(fields.get("nr_periods", 0)),
                "nr_throttled": int(fields.get("nr_throttled", 0)),
                "throttled_ms": int(throttled) * unit,  # v2 counts µs, v1 ns
            }
    return None


def memory_peak(root: Path = CGROUP) -> int | None:
    """The memory cgroup's high-water mark in bytes (v2, then v1), or None."""
    for path in (root / "memory.peak", root / "memory" / "memory.max_usage_in_bytes"):
        if path.exists():
            return int(path.read_text())
    return None


def pool_size(policy: str | int) -> int | None:
    """ONNX Runtime's intra-op threads for a policy: ``host`` = ``os.cpu_count()`` (inside a
    container: the host's cores), ``quota`` = None (the session sizes it from the quota)."""
    return {"host": os.cpu_count(), "quota": None}.get(policy, policy)  # type: ignore[arg-type]


def time_session(
    model: str | Path, threads: str | int, repeats: int, warmup: int, batch: int, cgroup: bool
) -> dict[str, Any]:
    """Load ``model``, warm it up, time ``repeats`` calls; the raw figures as a dict.

    ``cgroup``: read this cgroup's counters before and after the timed loop (a container's
    own; natively they would be the host session's, so they are not read there).
    """
    pool = pool_size(threads)
    start = time.perf_counter()
    session = create_session(model, SessionConfig(threads=pool))
    load_s = time.perf_counter() - start
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    for _ in range(warmup):
        session.run(None, {name: x})
    before, samples = cpu_stat(), []
    wall = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        session.run(None, {name: x})
        samples.append((time.perf_counter() - t0) * 1000.0)
    wall = time.perf_counter() - wall
    after = cpu_stat()
    throttle = None
    if cgroup and before is not None and after is not None:
        throttle = {key: after[key] - before[key] for key in before}
    return {
        "samples_ms": samples,
        "wall_s": wall,
        "load_s": load_s,
        "threads": pool or usable_cpus(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "quota": cpu_quota(),
        "memory_limit": memory_limit(),
        "throttle": throttle,
        "memory_peak": memory_peak() if cgroup else None,
        "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m mllab.experiments.resources.probe ACTION [JSON]``: one JSON line on stdout."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ACTIONS:
        print(f"usage: python -m mllab.experiments.resources.probe {{{','.join(ACTIONS)}}} [JSON]")
        return 2
    if argv[0] == "cpu-stat":
        print(json.dumps(cpu_stat()))
    elif argv[0] == "memory-peak":
        print(json.dumps(memory_peak()))
    else:
        args = json.loads(argv[1])
        model = os.environ.get("MODEL_PATH", "model.onnx")
        keys = ("threads", "repeats", "warmup", "batch", "cgroup")
        print(json.dumps(time_session(model, *(args[key] for key in keys))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
