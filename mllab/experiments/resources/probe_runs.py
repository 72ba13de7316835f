"""The host's side of the probe (:mod:`mllab.experiments.resources.probe`, which runs inside):
start it in a container under ``--cpus`` / ``--memory``, natively, or by exec in a running
server, and read what it printed into a :class:`ProbeRun`.

A call that fits in what is left of a CFS period's budget is as fast as without a limit; one
that straddles an exhausted budget waits for the next period. So p50 can stay put while p99 and
max jump: every run reports p50, p99, max, the mean (the lecture's L, 1/throughput) and the
container's throttling counters (``cpu.stat``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mllab.containers import docker_cli
from mllab.containers.engine import client
from mllab.core.errors import MllabError
from mllab.experiments.resources.container_limits import PREFIX, limit_options, slim_image
from mllab.experiments.resources.probe import COMMAND, probe_args
from mllab.measure.stats import summarize
from mllab.model.artifacts import default_model

PROBE_MODULE = COMMAND[1]


@dataclass
class ProbeRun:
    """One probe: latencies of ``session.run`` under a limit, with the cgroup's counters."""

    where: str  # "container" or "native"
    cpus: float | None  # the --cpus quota (None: unlimited)
    policy: str | int  # "host", "quota" or a fixed thread count
    threads: int  # the intra-op threads the session really used
    repeats: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    throughput: float  # inferences/s over the timed loop (the lecture's T = N / wall)
    nr_periods: int | None = None
    nr_throttled: int | None = None
    throttled_ms: float | None = None
    memory_peak_bytes: int | None = None
    maxrss_bytes: int | None = None
    cpu_count: int | None = None  # what os.cpu_count() said where the probe ran
    quota_seen: float | None = None  # what mllab.runtime.cgroup.cpu_quota() read there
    round_means_ms: list[float] = field(default_factory=list)  # cpu_sweep: every round's mean
    samples_ms: list[float] = field(default_factory=list, repr=False)

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def throttled_fraction(self) -> float | None:
        """Share of CFS periods in which the quota ran out."""
        if not self.nr_periods:
            return None if self.nr_periods is None else 0.0
        return (self.nr_throttled or 0) / self.nr_periods


def probe_result(
    raw: dict[str, Any], where: str, cpus: float | None, policy: str | int, batch: int
) -> ProbeRun:
    """A :class:`ProbeRun` from the probe's JSON line."""
    stats = summarize([v / 1000.0 for v in raw["samples_ms"]], batch, wall_s=raw["wall_s"])
    throttle = raw.get("throttle") or {}
    return ProbeRun(
        where=where,
        cpus=cpus,
        policy=policy,
        threads=raw["threads"],
        repeats=stats.repeats,
        p50_ms=stats.p50_ms,
        p99_ms=stats.p99_ms,
        max_ms=max(stats.samples_ms),
        mean_ms=stats.mean_ms,
        throughput=stats.throughput,
        nr_periods=throttle.get("nr_periods"),
        nr_throttled=throttle.get("nr_throttled"),
        throttled_ms=throttle.get("throttled_ms"),
        memory_peak_bytes=raw.get("memory_peak"),
        maxrss_bytes=raw.get("maxrss_bytes"),
        cpu_count=raw.get("cpu_count"),
        quota_seen=raw.get("quota"),
        samples_ms=list(stats.samples_ms),
    )


def run_probe(
    tag: str | None = None,
    cpus: float | None = None,
    threads: str | int = "quota",
    repeats: int = 30,
    warmup: int = 3,
    batch: int = 1,
    memory: str | int | None = None,
    timeout: float = 600.0,
    cgroup_parent: str | None = None,
) -> ProbeRun:
    """The probe in a fresh container of ``tag`` (default: the slim image) under ``--cpus``.

    ``threads``: ``"host"`` (``os.cpu_count()``, the host's cores), ``"quota"`` (the server's
    default, :func:`mllab.runtime.cgroup.usable_cpus`) or a fixed count. The container runs
    read-only, without network, and is removed afterwards. ``cgroup_parent``: docker's
    ``--cgroup-parent`` (see :mod:`mllab.experiments.resources.cpu_groups`).
    """
    args = probe_args(threads, repeats, warmup, batch, cgroup=True)
    options = limit_options(cpus, memory)
    tag = tag or slim_image()
    name = f"{PREFIX}-probe-{os.getpid()}-{time.monotonic_ns()}"
    options += ["--read-only", "--label", "mllab.lab=07", "--name", name]
    if cgroup_parent:
        options.append(f"--cgroup-parent={cgroup_parent}")
    try:
        raw = docker_cli.run_module_json(
            tag, PROBE_MODULE, ["time", args], options=options, timeout=timeout
        )
    finally:  # after a timeout the container outlives the docker CLI: remove it by name
        _remove_quietly(name)
    return probe_result(raw, "container", cpus, threads, batch)


def _remove_quietly(name: str) -> None:
    import docker.errors  # deferred: the docker SDK is slow to import

    try:
        client().containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass


def native_probe(
    model: str | Path | None = None,
    threads: str | int = "quota",
    repeats: int = 30,
    warmup: int = 3,
    batch: int = 1,
    timeout: float = 600.0,
    cgroup: Path | None = None,
) -> ProbeRun:
    """The probe on this host, in a fresh Python process (as the container runs it); moved
    into the CPU cgroup folder ``cgroup`` first when one is given."""
    model = model or default_model()
    args = probe_args(threads, repeats, warmup, batch, cgroup=False)
    command = [sys.executable, *COMMAND, "time", args]
    if cgroup is not None:  # the shell joins the group, then becomes the probe (exec)
        join = f'echo $$ > "{cgroup}/cgroup.procs" && exec "$@"'
        command = ["sh", "-c", join, "probe", *command]
    done = subprocess.run(
        command,
        env={**os.environ, "MODEL_PATH": str(model)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise MllabError(
            f"the native probe failed (exit {done.returncode}):\n{done.stderr[-2000:]}"
        )
    raw = docker_cli.last_json_line(done.stdout)
    return probe_result(raw, "native", None, threads, batch)


def exec_probe(server: Any, action: str) -> Any:
    """``python -m mllab.experiments.resources.probe ACTION`` inside a running container (an
    ``images.RunningContainer``): what it printed, parsed; None when it failed."""
    code, output = server.exec(["python", *COMMAND, action])
    if code != 0:
        return None
    try:
        return docker_cli.last_json_line(output)
    except MllabError:
        return None
