"""Resource limits and what they do to inference: ``--cpus``, ``--memory``, overhead η, scale-out.

Lecture, "Управление ресурсами CPU/GPU внутри контейнера" and "Влияние ограничений ресурсов":
``docker run --cpus=c --memory=m`` becomes a cgroup CFS quota and a memory limit, and latency
grows like L(c) ~ 1/min(c, c_opt).

How the CPU effect is isolated. Each point of :func:`cpu_sweep` runs :data:`PROBE` *inside* a
fresh container of the slim image (its command overridden): the model is loaded, warmed up,
then ``session.run`` is timed call by call with ``perf_counter``. No HTTP: a load generator on
the same 2-core host would compete with the server for the very cores being measured, and the
client's own CPU is outside the container's quota, so request timings would mix the quota's
effect with the client's. The probe also reads the container's ``cpu.stat`` before and after
the timed loop: ``nr_throttled``/``throttled_time`` count the CFS periods in which the quota ran
out. That is what a median hides: with ``--cpus=1`` and two ONNX Runtime threads, the pool uses
a period's 100 ms of CPU in 50 ms of wall time and then waits; a call that fits in what is left
of the budget is as fast as without a limit, one that straddles the gap waits for the next
period, so p50 can stay put while p99 and max jump. Hence every point reports p50, p99, max,
the mean (the lecture's L, 1/throughput) and the throttling counters. Repeated rounds keep each
point's least disturbed one, and the containers run in a CPU cgroup of raised weight
(:func:`measurement_groups`): other work on a shared machine only ever adds time.

Threads: ``os.cpu_count()`` inside a container is the *host's* core count; sizing ONNX
Runtime's pool from it (``threads="host"``) oversubscribes a small quota. The fix, the server's
default, is ``threads=None``: :func:`mllab.runtime.cgroup.usable_cpus` reads the quota.

Memory: :func:`oom_demo` runs the server under a limit below its peak (measured by
:func:`memory_needed`); the kernel's OOM killer ends it with exit 137 and ``State.OOMKilled``,
which :func:`explain_exit` turns into a sentence.

Overhead η = T_container / T_native (:func:`overhead`): the same probe, the same model file, the
same threads, natively and in a container, interleaved A B A B so that drift of this shared
machine hits both sides, and (where root may) in sibling CPU cgroups of equal, raised weight
(:func:`measurement_groups`): the scheduler shares CPU between cgroups, so a container and a
native process are otherwise not scheduled alike on a busy machine.

Scale-out (:func:`scale_out`): ``docker/compose.yml``, N replicas behind nginx, loaded by
:mod:`mllab.experiments.load`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mllab.core.errors import InputError, MllabError
from mllab.core.paths import DOCKER

#: the prefix of every container, compose project and image this module creates
PREFIX = "mllab06"
#: default CPU quotas of the sweep (``--cpus``); the host must have at least max(CPUS) cores
CPUS = (0.5, 1.0, 2.0)
#: how the probe sizes ONNX Runtime's intra-op pool: the host's cores, or the cgroup quota
THREAD_POLICIES = ("host", "quota")
COMPOSE_FILE = DOCKER / "compose.yml"
COMPOSE_PROJECT = PREFIX
NGINX_IMAGE = "mllab/nginx:bookworm"
NGINX_BUILD_SCRIPT = DOCKER / "nginx" / "build-nginx-base"
MIB = 1024 * 1024

# --- measuring on a shared machine: CPU cgroups of our own -------------------------------------


@dataclass(frozen=True)
class Groups:
    """Where the measured processes run: docker's ``cgroup_parent`` for containers and a CPU
    cgroup folder for native processes (both None: the defaults), and a note saying which."""

    container_parent: str | None
    native: Path | None
    note: str


def cpu_cgroup_root() -> Path | None:
    """The folder where CPU cgroups are made: ``/sys/fs/cgroup/cpu`` (v1) or ``/sys/fs/cgroup``
    (v2 with the cpu controller delegated), if this process may write there; else None."""
    from mllab.runtime.cgroup import CGROUP

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
def measurement_groups(weight: int = 8):
    """Sibling CPU cgroups for the measured container(s) and native process, ``weight`` times
    the default CPU weight each; yields :class:`Groups`, removes the folders afterwards.

    Why. The CFS scheduler shares the CPU between *groups*: every container is one group
    (under ``/docker``, itself one group of default weight), while a native process's threads
    compete one by one with every other task of the host's group. On a machine busy with other
    work a container's two threads thus get the share of one task and a native probe's get
    two: "overhead" that is the scheduler's fairness, not the container. In two sibling groups
    of equal weight both sides compete alike, and a weight above the default keeps other work
    from blurring the measurement (a weight only matters under contention; the ``--cpus`` quota
    being measured is a ceiling and applies unchanged). Needs root and docker's cgroupfs
    driver; otherwise the defaults are yielded with a note saying so.
    """
    from mllab.containers.engine import client

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


# --- the probe: session.run timed where it runs (container or host) ---------------------------

#: Source of two functions reading the cgroup where they run (v2 first, then v1): ``cpu_stat()``
#: (CFS periods, throttled periods, throttled ms) and ``memory_peak()`` (high-water mark, bytes).
CGROUP_READERS = r"""
import json, os

def cpu_stat():
    for path, unit in (("/sys/fs/cgroup/cpu.stat", 1e-3), ("/sys/fs/cgroup/cpu/cpu.stat", 1e-6)):
        if os.path.exists(path):
            fields = dict(line.split() for line in open(path) if line.strip())
            throttled = fields.get("throttled_usec", fields.get("throttled_time", 0))
            return {"nr_periods": int(fields.get("nr_periods", 0)),
                    "nr_throttled": int(fields.get("nr_throttled", 0)),
                    "throttled_ms": int(throttled) * unit}
    return None

def memory_peak():
    for path in ("/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"):
        if os.path.exists(path):
            return int(open(path).read())
    return None
"""

#: Run as ``python -c PROBE '<json args>'``, in the slim image or natively; prints one JSON line.
#: It uses only what the slim image has: numpy, onnxruntime and mllab's light modules.
PROBE = (
    CGROUP_READERS
    + r"""
import resource, sys, time
import numpy as np
from mllab.runtime.cgroup import cpu_quota, memory_limit, usable_cpus
from mllab.runtime.sessions import create_session

args = json.loads(sys.argv[1])
threads = args["threads"]
threads = {"host": os.cpu_count(), "quota": None}.get(threads, threads)
start = time.perf_counter()
session = create_session(os.environ.get("MODEL_PATH", "model.onnx"), threads=threads)
load_s = time.perf_counter() - start
name = session.get_inputs()[0].name
x = np.random.default_rng(0).standard_normal((args["batch"], 3, 224, 224), dtype=np.float32)
for _ in range(args["warmup"]):
    session.run(None, {name: x})
before, samples = cpu_stat(), []
wall = time.perf_counter()
for _ in range(args["repeats"]):
    t0 = time.perf_counter()
    session.run(None, {name: x})
    samples.append((time.perf_counter() - t0) * 1000.0)
wall = time.perf_counter() - wall
after = cpu_stat()
throttle = None if before is None or not args["cgroup"] else {
    key: after[key] - before[key] for key in before}
print(json.dumps({
    "samples_ms": samples, "wall_s": wall, "load_s": load_s,
    "threads": threads or usable_cpus(), "cpu_count": os.cpu_count(),
    "usable_cpus": usable_cpus(), "quota": cpu_quota(), "memory_limit": memory_limit(),
    "throttle": throttle, "memory_peak": memory_peak() if args["cgroup"] else None,
    "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
}))
"""
)


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

    @property
    def throttled_fraction(self) -> float | None:
        """Share of CFS periods in which the quota ran out."""
        if not self.nr_periods:
            return None if self.nr_periods is None else 0.0
        return self.nr_throttled / self.nr_periods

    def to_dict(self, samples: bool = False) -> dict[str, Any]:
        data = asdict(self)
        data["throttled_fraction"] = self.throttled_fraction
        if not samples:
            data.pop("samples_ms")
        return data


def _probe_args(policy: str | int, repeats: int, warmup: int, batch: int, cgroup: bool) -> str:
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


def _probe_result(raw: dict, where: str, cpus: float | None, policy: str | int, batch: int):
    ms = np.asarray(raw["samples_ms"], dtype=np.float64)
    throttle = raw.get("throttle") or {}
    return ProbeRun(
        where=where,
        cpus=cpus,
        policy=policy,
        threads=raw["threads"],
        repeats=len(ms),
        p50_ms=float(np.percentile(ms, 50)),
        p99_ms=float(np.percentile(ms, 99)),
        max_ms=float(ms.max()),
        mean_ms=float(ms.mean()),
        throughput=batch * len(ms) / raw["wall_s"],
        nr_periods=throttle.get("nr_periods"),
        nr_throttled=throttle.get("nr_throttled"),
        throttled_ms=throttle.get("throttled_ms"),
        memory_peak_bytes=raw.get("memory_peak"),
        maxrss_bytes=raw.get("maxrss_bytes"),
        cpu_count=raw.get("cpu_count"),
        quota_seen=raw.get("quota"),
        samples_ms=[float(v) for v in ms],
    )


def _last_json_line(text: str, what: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise MllabError(
        f"{what} printed no result; its last lines:\n" + "\n".join(text.splitlines()[-8:])
    )


def parse_cpus(value: float | str | None) -> float | None:
    """``--cpus`` as a float (None: unlimited); a clear error outside (0, host cores]."""
    if value is None:
        return None
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        raise InputError(f"--cpus must be a number such as 0.5 or 2, not {value!r}") from None
    cores = os.cpu_count() or 1
    if not 0.01 <= cpus <= cores:
        raise InputError(f"--cpus must be between 0.01 and this host's {cores} cores, not {value}")
    return cpus


def parse_memory(value: str | int) -> int:
    """``"150m"``, ``"1g"``, ``"512k"`` or bytes -> bytes (docker's units: powers of 1024)."""
    if isinstance(value, int):
        number, unit = value, ""
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?\s*", str(value).lower())
        if not match:
            raise InputError(f"a memory limit looks like 150m, 2g or 512k, not {value!r}")
        number, unit = float(match.group(1)), match.group(2)
    scale = {"": 1, "b": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}[unit]
    size = int(number * scale)
    if size < 6 * MIB:  # docker's own minimum
        raise InputError(f"docker accepts memory limits of at least 6 MiB, not {value!r}")
    return size


def _container_limits(cpus: float | None, memory: str | int | None) -> dict[str, Any]:
    """docker SDK keyword arguments for ``--cpus`` / ``--memory`` (no swap beyond the limit)."""
    limits: dict[str, Any] = {}
    cpus = parse_cpus(cpus)
    if cpus is not None:
        limits["nano_cpus"] = int(round(cpus * 1e9))
    if memory is not None:
        limits["mem_limit"] = parse_memory(memory)
        # without this, docker allows as much swap again and a host with swap pages instead of
        # killing: the limit would show as slowness, not as an OOM kill
        limits["memswap_limit"] = limits["mem_limit"]
    return limits


def slim_image(on_log=None) -> str:
    """The slim serving image (``mllab.containers.images.build_slim``: built when its inputs changed,
    else reused as it is); ``on_log`` gets the build's lines (``print`` to see them)."""
    from mllab.containers import images

    return images.build_slim(on_log=on_log)


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
    """:data:`PROBE` in a fresh container of ``tag`` (default: the slim image) under ``--cpus``.

    ``threads``: ``"host"`` (``os.cpu_count()``, the host's cores), ``"quota"`` (the server's
    default, :func:`mllab.runtime.cgroup.usable_cpus`) or a fixed count. The container runs read-only,
    without network, and is removed afterwards. ``cgroup_parent``: docker's ``--cgroup-parent``
    (see :func:`overhead`).
    """
    from mllab.containers.engine import client

    args = _probe_args(threads, repeats, warmup, batch, cgroup=True)
    tag = tag or slim_image()
    container = client().containers.run(
        tag,
        ["python", "-c", PROBE, args],
        detach=True,
        read_only=True,
        network_disabled=True,
        labels={"mllab.lab": "06"},
        name=f"{PREFIX}-probe-{os.getpid()}-{time.monotonic_ns()}",
        **_container_limits(cpus, memory),
        **({"cgroup_parent": cgroup_parent} if cgroup_parent else {}),
    )
    try:
        status = container.wait(timeout=timeout)
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        if status.get("StatusCode") != 0:
            container.reload()
            raise MllabError(explain_exit(container) + "\n" + "\n".join(output.splitlines()[-5:]))
    finally:
        container.remove(force=True)
    return _probe_result(_last_json_line(output, "the probe"), "container", cpus, threads, batch)


def native_probe(
    model: str | Path | None = None,
    threads: str | int = "quota",
    repeats: int = 30,
    warmup: int = 3,
    batch: int = 1,
    timeout: float = 600.0,
    cgroup: Path | None = None,
) -> ProbeRun:
    """:data:`PROBE` on this host, in a fresh Python process (as the container runs it);
    moved into the CPU cgroup folder ``cgroup`` first when one is given (see :func:`overhead`)."""
    if model is None:
        from mllab.model.export import default_model

        model = default_model()
    args = _probe_args(threads, repeats, warmup, batch, cgroup=False)
    command = [sys.executable, "-c", PROBE, args]
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
    return _probe_result(
        _last_json_line(done.stdout, "the native probe"), "native", None, threads, batch
    )


def cpu_sweep(
    tag: str | None = None,
    cpus: Sequence[float | None] = CPUS,
    policies: Sequence[str | int] = THREAD_POLICIES,
    repeats: int = 30,
    warmup: int = 3,
    rounds: int = 1,
    progress: bool = True,
    own_groups: bool = True,
) -> list[ProbeRun]:
    """One :func:`run_probe` per (``--cpus``, thread policy); ``None`` in ``cpus`` = unlimited.

    ``own_groups``: the containers run in a CPU cgroup of raised weight where possible
    (:func:`measurement_groups`), so that other work on the machine blurs the quota less.

    With ``rounds`` > 1 the whole sweep is repeated (in reverse order every other round) and
    each point keeps its least disturbed round, the one of lowest mean: other work on a shared
    machine only ever adds time, while the quota's effect is there in every round.
    ``round_means_ms`` of each point lists all rounds.
    """
    for value in cpus:
        parse_cpus(value)  # every bad value is refused before anything is built or started
    for policy in policies:
        _probe_args(policy, repeats, warmup, 1, cgroup=True)
    if rounds < 1:
        raise InputError(f"rounds must be >= 1, not {rounds}")
    tag = tag or slim_image()
    points = [(value, policy) for value in cpus for policy in policies]
    best: dict[tuple, ProbeRun] = {}
    means: dict[tuple, list[float]] = {point: [] for point in points}
    with contextlib.ExitStack() as stack:
        groups = Groups(None, None, "default cgroups (as asked)")
        if own_groups:
            groups = stack.enter_context(measurement_groups())
        if progress:
            print(f"containers in {groups.note}", flush=True)
        for i in range(rounds):
            for point in points if i % 2 == 0 else points[::-1]:
                run = run_probe(
                    tag,
                    point[0],
                    point[1],
                    repeats,
                    warmup,
                    cgroup_parent=groups.container_parent,
                )
                means[point].append(run.mean_ms)
                if point not in best or run.mean_ms < best[point].mean_ms:
                    best[point] = run
                if progress:
                    print(
                        f"round {i + 1}: --cpus={point[0] or 'unlimited'} threads={point[1]}"
                        f"({run.threads}): p50 {run.p50_ms:.1f} ms p99 {run.p99_ms:.1f} ms "
                        f"throttled {run.nr_throttled}/{run.nr_periods}",
                        flush=True,
                    )
    for point in points:
        best[point].round_means_ms = means[point]
    return [best[point] for point in points]


def sweep_rows(runs: Sequence[ProbeRun]) -> list[dict[str, Any]]:
    """Table rows of a sweep (for ``mllab.measure.bench.format_table`` and the results file)."""
    rows = []
    for run in runs:
        rows.append(
            {
                "cpus": run.cpus if run.cpus is not None else "unlimited",
                "policy": run.policy,
                "threads": run.threads,
                "p50_ms": run.p50_ms,
                "p99_ms": run.p99_ms,
                "max_ms": run.max_ms,
                "mean_ms": run.mean_ms,
                "throughput": run.throughput,
                "nr_throttled": run.nr_throttled,
                "nr_periods": run.nr_periods,
                "throttled_ms": run.throttled_ms,
            }
        )
    return rows


#: printed inside a container: its cpu.stat as JSON
_CPU_STAT = CGROUP_READERS + "print(json.dumps(cpu_stat()))"


def cpu_stat_of(server) -> dict[str, float] | None:
    """The CFS counters of a running container (``images.RunningContainer``), or None."""
    code, output = server.exec(["python", "-c", _CPU_STAT])
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if code == 0 and lines else None


def threads_vs_quota(
    tag: str | None = None, cpus: float = 1.0, requests: int = 30, warmup: int = 3, block: int = 10
) -> list[dict[str, Any]]:
    """The real server under ``--cpus``: ``THREADS=os.cpu_count()`` (the host's cores) against
    the default (threads from the quota).

    Both containers run at once, each under its own quota, and get the same binary-tensor
    requests in alternating blocks of ``block`` back-to-back requests (one kept-alive
    connection each): within a block the server is saturated, so its quota runs out as under
    real load, and a slow moment of the machine hits both. (Alternating single requests would
    not do: each server would idle while the other computes, and its quota would refill.) Per
    server: latency p50/p99/max as the client sees it, requests/s over the time spent on its
    own requests, and the container's CFS counters (``cpu.stat``) over the timed requests.
    """
    import httpx

    from mllab.containers import images
    from mllab.serve.client import predict_tensor

    cpus = parse_cpus(cpus)
    if requests < 1 or warmup < 0:
        raise InputError(f"need requests >= 1 and warmup >= 0, not {requests} and {warmup}")
    tag = tag or slim_image()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    variants = {
        f"THREADS={os.cpu_count()} (host cores)": {"THREADS": str(os.cpu_count())},
        "default (from the quota)": {},
    }
    with contextlib.ExitStack() as stack:
        groups = stack.enter_context(measurement_groups())
        parent = {"cgroup_parent": groups.container_parent} if groups.container_parent else {}
        servers, clients = {}, {}
        for i, (label, env) in enumerate(variants.items()):
            name = f"{PREFIX}-threads-{i}-{os.getpid()}"
            servers[label] = stack.enter_context(
                images.run(tag, name=name, read_only=True, cpus=cpus, env=env, **parent)
            )
            clients[label] = stack.enter_context(httpx.Client(timeout=120.0))
        for label, server in servers.items():
            for _ in range(warmup):
                predict_tensor(server.url, x, client=clients[label])
        before = {label: cpu_stat_of(server) for label, server in servers.items()}
        samples: dict[str, list[float]] = {label: [] for label in servers}
        for first in range(0, requests, max(1, block)):
            for label, server in servers.items():
                for _ in range(min(max(1, block), requests - first)):
                    start = time.perf_counter()
                    predict_tensor(server.url, x, client=clients[label])
                    samples[label].append((time.perf_counter() - start) * 1000.0)
        after = {label: cpu_stat_of(server) for label, server in servers.items()}
        threads = {
            label: clients[label].get(f"{server.url}/metadata").json()["threads"]
            for label, server in servers.items()
        }
    rows = []
    for label in servers:
        ms, old, new = np.asarray(samples[label]), before[label], after[label]
        throttle = {k: new[k] - old[k] for k in old} if old and new else {}
        rows.append(
            {
                "server": label,
                "cpus": cpus,
                "threads": threads[label],
                "p50_ms": float(np.percentile(ms, 50)),
                "p99_ms": float(np.percentile(ms, 99)),
                "max_ms": float(ms.max()),
                "rps": float(1000.0 * len(ms) / ms.sum()),
                **throttle,
            }
        )
    return rows


# --- L(c) ~ 1/min(c, c_opt) ----------------------------------------------------------------------


@dataclass(frozen=True)
class LcFit:
    """The lecture's L(c) = scale / min(c, c_opt), fitted by least squares.

    ``identified`` is False when the best c_opt sits at the largest c measured: latency still
    fell all the way, so c_opt is only known to be at least that (on a 2-core host the quota
    cannot go higher).
    """

    c_opt: float
    scale_ms: float  # latency at one full CPU below the knee: L(1) = scale when c_opt >= 1
    r2: float
    identified: bool
    c: tuple[float, ...]
    latency_ms: tuple[float, ...]

    def predict(self, c: float | np.ndarray) -> float | np.ndarray:
        return self.scale_ms / np.minimum(c, self.c_opt)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_lc(cpus: Sequence[float], latency_ms: Sequence[float], grid: int = 2001) -> LcFit:
    """Fit L(c) = s / min(c, c_opt) over the measured (c, L) points.

    For a fixed c_opt the model is linear in s, so s has a closed form (s = Σ g·L / Σ g² with
    g = 1/min(c, c_opt)); c_opt is found by scanning a fine grid between the smallest and the
    largest c (below the smallest c, or above the largest, the data cannot tell c_opt apart).
    """
    c = np.asarray(cpus, dtype=np.float64)
    latency = np.asarray(latency_ms, dtype=np.float64)
    if c.shape != latency.shape or c.size < 2:
        raise InputError("fit_lc needs at least two (cpus, latency) pairs of equal length")
    if np.any(c <= 0) or not np.all(np.isfinite(latency)) or np.any(latency <= 0):
        raise InputError("fit_lc needs positive CPU counts and positive, finite latencies")
    if np.unique(c).size < 2:
        raise InputError("fit_lc needs at least two different CPU counts")
    candidates = np.unique(np.concatenate([np.linspace(c.min(), c.max(), grid), c]))
    best = None
    for c_opt in candidates:
        g = 1.0 / np.minimum(c, c_opt)
        scale = float(g @ latency / (g @ g))
        sse = float(np.sum((latency - scale * g) ** 2))
        if best is None or sse < best[0] - 1e-12:
            best = (sse, float(c_opt), scale)
    sse, c_opt, scale = best
    sst = float(np.sum((latency - latency.mean()) ** 2))
    r2 = 1.0 - sse / sst if sst > 0 else 1.0
    identified = bool(c_opt < c.max() - 1e-9 * c.max())
    return LcFit(c_opt, scale, r2, identified, tuple(c.tolist()), tuple(latency.tolist()))


def fit_sweep(
    runs: Sequence[ProbeRun], policy: str | int = "quota", stat: str = "mean_ms"
) -> LcFit:
    """:func:`fit_lc` on the limited points of one thread policy.

    The mean (= 1/throughput) is fitted, not the median: throttling shows in the mean and the
    tail, and the lecture's L is the mean, (T_end − T_start)/N.
    """
    points = [r for r in runs if r.policy == policy and r.cpus is not None]
    return fit_lc([r.cpus for r in points], [getattr(r, stat) for r in points])


def _policy_label(policy: str | int) -> str:
    return f"{policy} thread{'s' if policy != 1 else ''}" if isinstance(policy, int) else policy


def plot_sweep(runs: Sequence[ProbeRun], fits: dict[Any, LcFit] | None = None):
    """Three panels against ``--cpus``, one colour per thread policy: the mean latency with
    its L(c) fit; p50 against p99 and max; the share of throttled CFS periods."""
    import matplotlib.pyplot as plt

    fig, (law, tail, thr) = plt.subplots(1, 3, figsize=(15, 4))
    policies = list(dict.fromkeys(r.policy for r in runs))
    width = 0.8 / max(1, len(policies))
    for i, policy in enumerate(policies):
        points = sorted((r for r in runs if r.policy == policy and r.cpus), key=lambda r: r.cpus)
        c, color, name = [r.cpus for r in points], f"C{i}", _policy_label(policy)
        law.plot(c, [r.mean_ms for r in points], "o", color=color, label=f"{name}: mean")
        if fits and policy in fits:
            fit, grid = fits[policy], np.linspace(min(c), max(c), 200)
            label = f"fit c_opt={fit.c_opt:.2f}, R²={fit.r2:.2f}"
            law.plot(grid, fit.predict(grid), "-", color=color, alpha=0.6, label=label)
        tail.plot(c, [r.p50_ms for r in points], "o-", color=color, label=f"{name}: p50")
        tail.plot(c, [r.p99_ms for r in points], "s--", color=color, label=f"{name}: p99")
        tail.plot(c, [r.max_ms for r in points], "x:", color=color, label=f"{name}: max")
        share = [r.throttled_fraction or 0 for r in points]
        thr.bar(np.arange(len(points)) + width * i, share, width, color=color, label=name)
        thr.set_xticks(np.arange(len(points)) + width * (len(policies) - 1) / 2, map(str, c))
    law.set(xlabel="--cpus", ylabel="mean latency, ms", title="L(c) ~ 1/min(c, c_opt)")
    tail.set(xlabel="--cpus", ylabel="ms", yscale="log", title="p50 hides what p99/max show")
    thr.set(xlabel="--cpus", ylabel="throttled / all CFS periods", title="throttling (cpu.stat)")
    for ax in (law, tail, thr):
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# --- memory: the OOM kill in words -------------------------------------------------------------


#: printed inside a container: the memory cgroup's high-water mark in bytes
_PEAK = CGROUP_READERS + "print(memory_peak() or '')"


def memory_needed(tag: str | None = None, timeout: float = 120.0) -> int | None:
    """Peak memory of the server of ``tag`` once its model is loaded and warmed up, in bytes:
    the memory cgroup's high-water mark of an unlimited container (None where unreadable)."""
    from mllab.containers import images

    tag = tag or slim_image()
    name = f"{PREFIX}-memory-{os.getpid()}"
    with images.run(
        tag, name=name, read_only=True, timeout=timeout, labels={"mllab.lab": "06"}
    ) as server:
        code, output = server.exec(["python", "-c", _PEAK])
    text = output.strip().splitlines()[-1] if output.strip() else ""
    return int(text) if code == 0 and text.isdigit() else None


def explain_exit(container, needed_bytes: int | None = None) -> str:
    """Why a container stopped, in one sentence (an OOM kill names the limit and the need)."""
    container.reload()
    state = container.attrs.get("State", {})
    code = state.get("ExitCode")
    limit = container.attrs.get("HostConfig", {}).get("Memory") or 0
    if state.get("Running"):
        return f"the container {container.name} is still running"
    if state.get("OOMKilled"):
        need = f" (~{needed_bytes / MIB:.0f} MiB measured)" if needed_bytes else ""
        if limit:
            return (
                f"the container was killed by the kernel's OOM killer (exit code {code}): its "
                f"memory limit {limit / MIB:.0f} MiB is below what the model needs{need}; "
                "raise --memory or serve a smaller model"
            )
        return f"the container was killed by the kernel's OOM killer (exit code {code}){need}"
    if code == 137:
        return (
            "the container was killed with SIGKILL (exit code 137) but not by the OOM killer "
            "(docker kill, or docker stop after its timeout)"
        )
    if code == 0:
        return "the container exited normally (exit code 0)"
    error = state.get("Error") or ""
    return f"the container exited with code {code}" + (f": {error}" if error else "")


@dataclass
class OomResult:
    """The server under a memory limit below its need."""

    exit_code: int | None
    oom_killed: bool
    limit_bytes: int
    needed_bytes: int | None
    message: str
    seconds_to_exit: float | None
    log_tail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def oom_demo(
    tag: str | None = None,
    memory: str | int = "150m",
    needed_bytes: int | None = None,
    timeout: float = 120.0,
) -> OomResult:
    """Start the server of ``tag`` with ``--memory=memory`` and report how it ended.

    ``needed_bytes`` defaults to :func:`memory_needed` (one unlimited probe). If the server
    comes up anyway the limit was not below the need: the result says so (exit_code None).
    """
    from mllab.containers import images

    limits = _container_limits(None, memory)
    tag = tag or slim_image()
    if needed_bytes is None:
        needed_bytes = memory_needed(tag)
    server = images.run(
        tag,
        name=f"{PREFIX}-oom-{os.getpid()}",
        read_only=True,
        wait=None,
        labels={"mllab.lab": "06"},
        **limits,
    )
    container = server.container
    start = time.monotonic()
    try:
        try:  # ready means the model loaded under the limit; an exit raises with its code
            server.wait_ready("/ready", timeout)
            code = None
        except images.ContainerFailed as error:
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
    finally:
        server.stop(timeout=1)


# --- overhead: η = T_container / T_native --------------------------------------------------------


@dataclass
class Overhead:
    """Throughput of the same probe in a container and natively, round by round."""

    eta: float  # median over rounds of T_container / T_native (same round)
    eta_pooled: float  # all container inferences / all native ones, per second
    eta_median: float  # median native call / median container call, over all calls
    eta_best: float  # fastest native call / fastest container call: the least disturbed pair
    threads: int
    rounds: int
    repeats: int
    cgroups: str  # where both sides ran (measurement_groups' note)
    container: list[ProbeRun] = field(repr=False)
    native: list[ProbeRun] = field(repr=False)

    @property
    def ratios(self) -> list[float]:
        return [
            c.throughput / n.throughput for c, n in zip(self.container, self.native, strict=True)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "eta": self.eta,
            "eta_pooled": self.eta_pooled,
            "eta_median": self.eta_median,
            "eta_best": self.eta_best,
            "ratios": self.ratios,
            "threads": self.threads,
            "rounds": self.rounds,
            "repeats": self.repeats,
            "cgroups": self.cgroups,
            "container_throughput": [r.throughput for r in self.container],
            "native_throughput": [r.throughput for r in self.native],
            "container_p50_ms": [r.p50_ms for r in self.container],
            "native_p50_ms": [r.p50_ms for r in self.native],
        }


def image_model_sha256(tag: str) -> str | None:
    """The model digest the image's label records (``org.mllab.model.sha256``), if any."""
    from mllab.containers.engine import client

    labels = client().images.get(tag).attrs.get("Config", {}).get("Labels") or {}
    value = labels.get("org.mllab.model.sha256")
    return value if value and value != "unset" else None


def overhead(
    tag: str | None = None,
    model: str | Path | None = None,
    threads: int | None = None,
    rounds: int = 4,
    repeats: int = 20,
    warmup: int = 3,
    progress: bool = True,
    match_cgroups: bool = True,
) -> Overhead:
    """η: the probe natively and in a container (no limits), alternating A B A B … ``rounds``
    times; same model file (checked by sha256), same ``threads`` (default: this host's usable
    CPUs), same input. The container's number comes first in odd rounds and second in even
    ones, so neither side always runs on a machine the other has just warmed or loaded.
    ``match_cgroups``: both sides in sibling CPU cgroups of equal weight where possible
    (:func:`measurement_groups`), so that other work on the machine weighs on both alike."""
    from mllab.model.integrity import sha256_file

    if rounds < 1:
        raise InputError(f"rounds must be >= 1, not {rounds}")
    if threads is not None and threads < 1:
        raise InputError(f"threads must be >= 1 (or None: this host's usable CPUs), not {threads}")
    if model is None:
        from mllab.model.export import default_model

        model = default_model()
    tag = tag or slim_image()
    in_image = image_model_sha256(tag)
    if in_image and in_image != sha256_file(model):
        raise MllabError(
            f"the image {tag} serves a model with sha256 {in_image[:12]}…, not "
            f"{Path(model).name}: η would compare two different models"
        )
    from mllab.runtime.cgroup import usable_cpus

    threads = threads or usable_cpus()
    container, native = [], []
    with contextlib.ExitStack() as stack:
        groups = Groups(None, None, "default cgroups (as asked)")
        if match_cgroups:
            groups = stack.enter_context(measurement_groups())
        parent, group, note = groups.container_parent, groups.native, groups.note
        for i in range(rounds):
            order = ("container", "native") if i % 2 == 0 else ("native", "container")
            for side in order:
                if side == "container":
                    run = run_probe(tag, None, threads, repeats, warmup, cgroup_parent=parent)
                    container.append(run)
                else:
                    native.append(native_probe(model, threads, repeats, warmup, cgroup=group))
            if progress:
                print(
                    f"round {i + 1}/{rounds}: container {container[-1].throughput:.2f}/s, "
                    f"native {native[-1].throughput:.2f}/s",
                    flush=True,
                )
    ratios = [c.throughput / n.throughput for c, n in zip(container, native, strict=True)]
    pooled = sum(r.repeats for r in container) / sum(r.repeats / r.throughput for r in container)
    pooled /= sum(r.repeats for r in native) / sum(r.repeats / r.throughput for r in native)
    median = float(
        np.median([v for r in native for v in r.samples_ms])
        / np.median([v for r in container for v in r.samples_ms])
    )
    best = min(v for r in native for v in r.samples_ms) / min(
        v for r in container for v in r.samples_ms
    )
    return Overhead(
        float(np.median(ratios)),
        float(pooled),
        median,
        float(best),
        threads,
        rounds,
        repeats,
        note,
        container,
        native,
    )


# --- scale-out: N replicas behind nginx --------------------------------------------------------


def build_nginx(tag: str = NGINX_IMAGE, rebuild: bool = False) -> str:
    """The offline nginx image (``docker/nginx/build-nginx-base``: mmdebstrap + Debian's nginx)."""
    from mllab.core.errors import BuildError
    from mllab.containers.images import has_image

    if has_image(tag) and not rebuild:
        return tag
    done = subprocess.run(
        [str(NGINX_BUILD_SCRIPT), tag], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BuildError(f"building the nginx image failed:\n{done.stderr.strip()}")
    return tag


def compose_command() -> list[str]:
    """``docker-compose`` (v1, Debian's package), or ``docker compose`` when that plugin answers."""
    import shutil

    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return ["docker", "compose"]
    raise MllabError(
        "neither docker-compose nor the docker compose plugin is installed "
        "(apt-get install docker-compose, or docker/engine/ensure-engine as root)"
    )


def _compose(args: list[str], env: dict[str, str], timeout: float = 300.0) -> str:
    command = [*compose_command(), "-f", str(COMPOSE_FILE), "-p", COMPOSE_PROJECT, *args]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise MllabError(
            f"{' '.join(command[:1] + args)} failed:\n{(done.stderr or done.stdout)[-2000:]}"
        )
    return done.stdout


def compose_env(
    tag: str, port: int, threads: int | None = None, cpus: float | None = None
) -> dict[str, str]:
    """The variables ``docker/compose.yml`` reads."""
    return {
        "MLLAB_SERVE_IMAGE": tag,
        "MLLAB_NGINX_IMAGE": NGINX_IMAGE,
        "MLLAB06_PORT": str(port),
        "MLLAB06_THREADS": "" if threads is None else str(threads),
        "MLLAB06_CPUS": f"{parse_cpus(cpus) or float(os.cpu_count() or 1):g}",
    }


@contextmanager
def replicas_up(
    replicas: int,
    tag: str | None = None,
    port: int | None = None,
    threads: int | None = None,
    cpus: float | None = None,
    timeout: float = 180.0,
):
    """``docker-compose -p mllab06 up -d --scale server=N`` and nginx in front; yields the URL
    (``http://127.0.0.1:port``) once every replica answers through nginx; ``down`` on exit."""
    from mllab.serve.client import free_port

    if replicas < 1:
        raise InputError(f"replicas must be >= 1, not {replicas}")
    if threads is not None and threads < 1:
        raise InputError(f"threads must be >= 1 (or None: from the quota), not {threads}")
    parse_cpus(cpus)
    tag = tag or slim_image()
    build_nginx()
    port = port or free_port()
    env = compose_env(tag, port, threads, cpus)
    try:
        _compose(["up", "-d", "--scale", f"server={replicas}", "server"], env)
        _wait_replicas_ready(replicas, timeout)
        # nginx resolves "server" when it starts: start it after the replicas exist
        _compose(["up", "-d", "--no-deps", "--force-recreate", "nginx"], env)
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/ready", timeout)
        yield url
    finally:
        _compose(["down", "--remove-orphans", "--timeout", "5"], env)


def _project_containers(service: str) -> list:
    from mllab.containers.engine import client

    labels = [
        f"com.docker.compose.project={COMPOSE_PROJECT}",
        f"com.docker.compose.service={service}",
    ]
    return client().containers.list(all=True, filters={"label": labels})


def _wait_replicas_ready(replicas: int, timeout: float) -> None:
    """Every replica's HEALTHCHECK says healthy (the model is loaded), or a clear error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        containers = _project_containers("server")
        states = [c.attrs["State"] for c in containers]
        for container, state in zip(containers, states, strict=True):
            if not state.get("Running") and state.get("Status") == "exited":
                raise MllabError(f"replica {container.name}: {explain_exit(container)}")
        healthy = [s for s in states if s.get("Health", {}).get("Status", "healthy") == "healthy"]
        if len(healthy) >= replicas:
            return
        time.sleep(1.0)
    raise MllabError(f"{replicas} replicas were not healthy after {timeout:g} s")


def _wait_http(url: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise MllabError(f"{url} did not answer 200 within {timeout:g} s")


def upstreams_seen(url: str, requests: int = 20) -> dict[str, int]:
    """Which replica answered each of ``requests`` GET /health through nginx (its
    ``X-Upstream`` header), counted: round-robin over N replicas shows N keys."""
    import httpx

    seen: dict[str, int] = {}
    with httpx.Client(timeout=10.0) as http:
        for _ in range(requests):
            upstream = http.get(f"{url}/health").headers.get("x-upstream", "?")
            seen[upstream] = seen.get(upstream, 0) + 1
    return seen


@dataclass
class ScaleRun:
    """One scale-out point: N replicas behind nginx under the same locust load."""

    replicas: int
    threads_per_replica: int | None  # what each replica's /metadata says
    cpus_per_replica: float
    upstreams: dict[str, int]  # replica address -> answers seen (round-robin check)
    load: Any  # mllab.experiments.load.LoadResult

    def row(self) -> dict[str, Any]:
        load = self.load
        return {
            "replicas": self.replicas,
            "threads_each": self.threads_per_replica,
            "cpus_each": self.cpus_per_replica,
            "threads_total": (self.threads_per_replica or 0) * self.replicas,
            "rps": load.rps,
            "p50_ms": load.p50_ms,
            "p95_ms": load.p95_ms,
            "p99_ms": load.p99_ms,
            "failures": load.failures,
            "requests": load.requests,
        }


def scale_out(
    replicas: Sequence[int] = (1, 2),
    users: int = 8,
    spawn_rate: float | None = None,
    requests: int = 300,
    max_seconds: float = 120.0,
    threads: int | None = None,
    cpus: float | None = None,
    tag: str | None = None,
) -> list[ScaleRun]:
    """For each N in ``replicas``: N servers behind nginx, the same locust load through nginx.

    ``cpus`` is each replica's ``--cpus`` (default: every host core) and ``threads`` its
    ONNX Runtime pool (default: from that quota). With the defaults N replicas × threads
    oversubscribe a small machine on purpose: that is the point the lab makes.
    """
    import httpx

    from mllab.experiments.load import run_load

    if not replicas or any(n < 1 for n in replicas):
        raise InputError(f"replicas must be counts >= 1, not {list(replicas)}")
    parse_cpus(cpus)
    runs = []
    for n in replicas:
        with replicas_up(n, tag=tag, threads=threads, cpus=cpus) as url:
            spread = upstreams_seen(url, 4 * n)
            each = httpx.get(f"{url}/metadata", timeout=30).json().get("threads")
            result = run_load(
                url, users=users, spawn_rate=spawn_rate, requests=requests, max_seconds=max_seconds
            )
        share = parse_cpus(cpus) or float(os.cpu_count() or 1)
        runs.append(ScaleRun(n, each, share, spread, result))
    return runs


def plot_scale(runs: Sequence[ScaleRun]):
    """Requests/s and latency percentiles per number of replicas."""
    import matplotlib.pyplot as plt

    fig, (rps, lat) = plt.subplots(1, 2, figsize=(10, 3.6))
    labels = [f"{r.replicas}×{r.threads_per_replica} thr" for r in runs]
    rps.bar(labels, [r.load.rps for r in runs], color="C0")
    rps.set(ylabel="requests/s", title="throughput through nginx")
    x = np.arange(len(runs))
    for i, q in enumerate((50, 95, 99)):
        values = [getattr(r.load, f"p{q}_ms") or 0 for r in runs]
        lat.bar(x + 0.27 * (i - 1), values, width=0.27, label=f"p{q}")
    lat.set_xticks(x, labels)
    lat.set(ylabel="ms", title="latency under the same load")
    lat.legend()
    fig.tight_layout()
    return fig


def plot_overhead(result: Overhead):
    """Throughput per round, container and native side by side, with η."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.4))
    x = np.arange(result.rounds)
    ax.bar(x - 0.2, [r.throughput for r in result.native], 0.4, label="native")
    ax.bar(x + 0.2, [r.throughput for r in result.container], 0.4, label="container")
    ax.set_xticks(x, [f"round {i + 1}" for i in x])
    ax.set(ylabel="inferences/s", title=f"η = {result.eta:.3f} ({result.threads} threads)")
    ax.legend()
    fig.tight_layout()
    return fig


# --- CLI ---------------------------------------------------------------------------------------


def _cmd_cpus(args: argparse.Namespace) -> int:
    from mllab.measure.bench import format_table

    runs = cpu_sweep(
        cpus=args.cpus, policies=args.threads, repeats=args.repeats, rounds=args.rounds
    )
    print(format_table(sweep_rows(runs)))
    for policy in args.threads:
        limited = [r for r in runs if r.policy == policy and r.cpus]
        if len({r.cpus for r in limited}) >= 2:
            fit = fit_sweep(runs, policy)
            print(
                f"L(c) fit ({policy}): c_opt={fit.c_opt:.2f} scale={fit.scale_ms:.1f} ms "
                f"R²={fit.r2:.3f}{'' if fit.identified else ' (c_opt >= the largest c)'}"
            )
    return 0


def _cmd_oom(args: argparse.Namespace) -> int:
    result = oom_demo(memory=args.memory)
    print(result.message)
    return 0


def _cmd_overhead(args: argparse.Namespace) -> int:
    result = overhead(
        threads=args.threads,
        rounds=args.rounds,
        repeats=args.repeats,
        match_cgroups=not args.unmatched,
    )
    print(
        f"eta = T_container / T_native = {result.eta:.3f} (pooled {result.eta_pooled:.3f}; "
        f"lecture: 0.95 on CPU; goal >= 0.97) over {result.rounds} interleaved rounds"
    )
    return 0


def _cmd_scale(args: argparse.Namespace) -> int:
    from mllab.measure.bench import format_table

    runs = scale_out(args.replicas, users=args.users, requests=args.requests, cpus=args.cpus)
    print(format_table([run.row() for run in runs]))
    return 0


def _float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers such as 0.5,1,2, not {text!r}"
        ) from None


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers such as 1,2, not {text!r}") from None


def _policy_list(text: str) -> list[str | int]:
    return [int(v) if v.strip().isdigit() else v.strip() for v in text.split(",") if v.strip()]


def add_cli(sub: argparse._SubParsersAction) -> None:
    """``mllab resources cpus|oom|overhead|scale``."""
    parser = sub.add_parser("resources", help="--cpus/--memory limits, overhead η, scale-out")
    actions = parser.add_subparsers(dest="action", required=True)
    cpus = actions.add_parser("cpus", help="latency under --cpus quotas, throttling, L(c) fit")
    cpus.add_argument("--cpus", type=_float_list, default=list(CPUS), help="e.g. 0.5,1,2")
    cpus.add_argument(
        "--threads",
        type=_policy_list,
        default=list(THREAD_POLICIES),
        help="thread policies: host,quota or counts",
    )
    cpus.add_argument("--repeats", type=int, default=30)
    cpus.add_argument("--rounds", type=int, default=2, help="keep each point's best round")
    cpus.set_defaults(func=_cmd_cpus)
    oom = actions.add_parser("oom", help="the server under a memory limit below its need")
    oom.add_argument("--memory", default="150m")
    oom.set_defaults(func=_cmd_oom)
    over = actions.add_parser("overhead", help="η = container / native throughput")
    over.add_argument("--threads", type=int)
    over.add_argument("--rounds", type=int, default=4)
    over.add_argument("--repeats", type=int, default=20)
    over.add_argument(
        "--unmatched", action="store_true", help="native side in the host's own CPU cgroup"
    )
    over.set_defaults(func=_cmd_overhead)
    scale = actions.add_parser("scale", help="1..N replicas behind nginx under locust load")
    scale.add_argument("--replicas", type=_int_list, default=[1, 2])
    scale.add_argument("--users", type=int, default=8)
    scale.add_argument("--requests", type=int, default=300)
    scale.add_argument("--cpus", type=float, help="--cpus of each replica (default: all cores)")
    scale.set_defaults(func=_cmd_scale)
