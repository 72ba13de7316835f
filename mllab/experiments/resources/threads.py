"""The real server under ``--cpus``: ONNX Runtime's pool sized from the host's cores against
the server's default (threads from the quota).

Both containers run at once, each under its own quota, and get the same binary-tensor requests
in alternating blocks of back-to-back requests (one kept-alive connection each): within a block
the server is saturated, so its quota runs out as under real load, and a slow moment of the
machine hits both. (Alternating single requests would not do: each server would idle while the
other computes, and its quota would refill.)
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import ClassVar

import httpx
import numpy as np

from mllab.containers.run import run
from mllab.core.errors import InputError
from mllab.experiments.resources.container_limits import PREFIX, parse_cpus, slim_image
from mllab.experiments.resources.cpu_groups import measurement_groups
from mllab.experiments.resources.probe_runs import exec_probe
from mllab.measure.stats import summarize
from mllab.serve.client import predict_tensor


@dataclass
class ThreadsRow:
    """One server: latency as the client sees it, requests/s over the time spent on its own
    requests, and the container's CFS counters over the timed requests (None: unreadable)."""

    server: str
    cpus: float
    threads: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    rps: float
    nr_periods: int | None = None
    nr_throttled: int | None = None
    throttled_ms: float | None = None


@dataclass
class ThreadsVsQuota:
    """``THREADS=os.cpu_count()`` against the default, under the same ``--cpus``."""

    cpus: float
    requests: int
    rows: list[ThreadsRow] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1


def variants() -> dict[str, dict[str, str]]:
    """Server label -> the environment it runs with."""
    cores = os.cpu_count()
    return {
        f"THREADS={cores} (host cores)": {"THREADS": str(cores)},
        "default (from the quota)": {},
    }


def threads_vs_quota(
    tag: str | None = None, cpus: float = 1.0, requests: int = 30, warmup: int = 3, block: int = 10
) -> ThreadsVsQuota:
    """Both servers under ``--cpus=cpus``, ``requests`` timed requests each (see the module)."""
    quota = parse_cpus(cpus)
    if quota is None or requests < 1 or warmup < 0:
        raise InputError(
            f"need a --cpus quota, requests >= 1 and warmup >= 0, not {cpus}, {requests}, {warmup}"
        )
    tag = tag or slim_image()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    block = max(1, block)
    with contextlib.ExitStack() as stack:
        groups = stack.enter_context(measurement_groups())
        parent = {"cgroup_parent": groups.container_parent} if groups.container_parent else {}
        servers, clients = {}, {}
        for i, (label, env) in enumerate(variants().items()):
            name = f"{PREFIX}-threads-{i}-{os.getpid()}"
            servers[label] = stack.enter_context(
                run(tag, name=name, read_only=True, cpus=quota, env=env, **parent)
            )
            clients[label] = stack.enter_context(httpx.Client(timeout=120.0))
        for label, server in servers.items():
            for _ in range(warmup):
                predict_tensor(server.url, x, client=clients[label])
        before = {label: exec_probe(server, "cpu-stat") for label, server in servers.items()}
        samples: dict[str, list[float]] = {label: [] for label in servers}
        for first in range(0, requests, block):
            for label, server in servers.items():
                for _ in range(min(block, requests - first)):
                    start = time.perf_counter()
                    predict_tensor(server.url, x, client=clients[label])
                    samples[label].append((time.perf_counter() - start) * 1000.0)
        after = {label: exec_probe(server, "cpu-stat") for label, server in servers.items()}
        threads = {
            label: clients[label].get(f"{server.url}/metadata").json()["threads"]
            for label, server in servers.items()
        }
    result = ThreadsVsQuota(quota, requests)
    for label in servers:
        stats, old, new = (
            summarize([v / 1000.0 for v in samples[label]]),
            before[label],
            after[label],
        )
        throttle = {k: new[k] - old[k] for k in old} if old and new else {}
        result.rows.append(
            ThreadsRow(
                server=label,
                cpus=quota,
                threads=threads[label],
                p50_ms=stats.p50_ms,
                p99_ms=stats.p99_ms,
                max_ms=max(stats.samples_ms),
                rps=stats.throughput,  # over the time spent on its own requests
                **throttle,
            )
        )
    return result
