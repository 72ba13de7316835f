"""Lab 03, section 5: isolation and its limits — a server beside a loaded neighbour (claim C21).

The lecture's model of isolation ("Математическая модель контейнерной изоляции"): the resources
of two containers are disjoint, R(Cᵢ) ∩ R(Cⱼ) = ∅, "гарантируется cgroups и namespaces".
:func:`neighbours` tests it on the CPU: two containers of the slim server, A and B, each with
one inference thread for A (``THREADS=1``: one pinned core holds its whole pool) and, for the
greedy neighbour B, one per core (unlimited, it would fill the machine; every setting runs the
same two processes). B is kept busy by the kit's load generator (locust,
:func:`mllab.measure.load.run_load`, in its own process on this host); A's batch-1 latency is
measured from the host in four settings, applied to the running containers with ``docker
update`` (the cgroup knobs ``docker run`` sets) and interleaved round by round:

* ``alone``: B frozen with ``docker pause`` (its load generator waits on its answers): the
  same processes are there, B does no work;
* ``no limits``: B loaded, neither limited — the control: does the neighbour matter at all?
* ``--cpus 1``: both limited to one CPU of CFS quota;
* ``--cpuset-cpus``: A pinned to core 0, B to core 1 (not measured with fewer than 2 cores).

What is not isolated is part of the answer: the load generator, this client, the engine's
``docker-proxy`` and the kernel run on the same cores, unpinned; the cores share caches and
memory bandwidth. The record says how much CPU the load generator itself used.

Everything created is named ``mllab-arch-net-*`` and removed in ``finally``.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

from mllab.containers.build import build_slim
from mllab.containers.engine import client
from mllab.containers.run import RunningContainer, start
from mllab.core.errors import InputError, MllabError
from mllab.core.outcome import Outcome
from mllab.core.poll import until
from mllab.experiments.architecture.networks import (
    PREFIX,
    TIMEOUT,
    Latency,
    latency_of,
    post,
)
from mllab.measure.load import LoadResult, run_load
from mllab.measure.stats import Stats, interleaved
from mllab.serve.requests import load_request

SERVER_A, SERVER_B = PREFIX + "a", PREFIX + "b"
SETTINGS = ("alone", "no limits", "--cpus 1", "--cpuset-cpus")
PERIOD_US = 100_000  # CFS period; a quota of one period is --cpus 1
#: seconds the load generator may run at most (a stop file ends it when the rounds are done)
LOAD_MAX_S = 300.0


@dataclass
class NeighbourSetting:
    """A's latency in one setting; ``a`` / ``b``: each container's options in that setting."""

    setting: str
    a: str
    b: str
    outcome: Outcome
    latency: Latency | None = None

    SCHEMA_VERSION: ClassVar[int] = 1


@dataclass
class Neighbours:
    """Section 5's record (claim C21): A's batch-1 latency beside B in each setting.

    ``cores``: the engine's CPUs; ``threads`` / ``b_threads``: A's and B's inference threads;
    ``users``:
    locust users on B (a closed loop); ``load_cpu_s`` / ``load_s``: CPU seconds the load
    generator used over its run on this host's cores, and the run's length; ``b_requests``:
    answers B gave it."""

    outcome: Outcome
    image: str = ""
    cores: int = 0
    threads: int = 1
    b_threads: int = 0
    rounds: int = 0
    requests: int = 0  # A's timed requests per setting per round
    users: int = 0
    settings: list[NeighbourSetting] = field(default_factory=list)
    load_cpu_s: float | None = None
    load_s: float | None = None
    b_requests: int | None = None
    b_failures: int | None = None

    SCHEMA_VERSION: ClassVar[int] = 1

    def setting(self, name: str) -> NeighbourSetting | None:
        return next((s for s in self.settings if s.setting == name), None)

    @property
    def load_note(self) -> str:
        """What the load generator cost, in words, from the record."""
        if self.load_cpu_s is None or not self.load_s:
            return "no load generator figures"
        share = self.load_cpu_s / self.load_s
        return (
            f"locust ({self.users} users) on the same {self.cores} cores, unpinned: "
            f"{self.load_cpu_s:.1f} CPU-s in {self.load_s:.1f} s ({share:.0%} of one core); "
            f"B ({self.b_threads} threads; A {self.threads}) answered {self.b_requests} "
            f"({self.b_failures} failed)"
        )


def neighbour_rows(record: Neighbours) -> list[dict[str, Any]]:
    """One row per setting: each side's options, A's p50/p99, the spread and Δp50 vs alone."""
    alone = record.setting("alone")
    base = alone.latency.p50_ms if alone and alone.latency else None
    rows = []
    for s in record.settings:
        lat = s.latency
        rows.append(
            {
                "setting": s.setting,
                "A": s.a,
                "B": s.b,
                "A p50 ms": lat.p50_ms if lat else None,
                "A p99 ms": lat.p99_ms if lat else None,
                "p50 spread ms": lat.spread_ms if lat else None,
                "Δp50 vs alone ms": lat.p50_ms - base if lat and base is not None else None,
                "outcome": str(s.outcome),
            }
        )
    return rows


def plan(cores: int) -> dict[str, dict[str, Any]]:
    """Each setting's ``docker update`` keywords for A and B, and whether B runs; a setting
    this host cannot give has ``"not_run"`` with the reason."""
    every = f"0-{cores - 1}"
    free = {"cpu_quota": -1, "cpu_period": PERIOD_US, "cpuset_cpus": every}
    one = {**free, "cpu_quota": PERIOD_US}
    plans: dict[str, dict[str, Any]] = {
        "alone": {"a": free, "b": free, "b_runs": False, "show": ("", "docker pause")},
        "no limits": {"a": free, "b": free, "b_runs": True, "show": ("", "")},
        "--cpus 1": {"a": one, "b": one, "b_runs": True, "show": ("--cpus 1", "--cpus 1")},
        "--cpuset-cpus": {
            "a": {**free, "cpuset_cpus": "0"},
            "b": {**free, "cpuset_cpus": "1"},
            "b_runs": True,
            "show": ("--cpuset-cpus 0", "--cpuset-cpus 1"),
        },
    }
    if cores < 2:
        why = f"the engine has {cores} CPU: two containers cannot be pinned to separate cores"
        plans["--cpuset-cpus"]["not_run"] = why
    return plans


def neighbours(
    image: str | None = None,
    requests: int = 4,
    rounds: int = 3,
    users: int = 2,
    threads: int = 1,
    b_threads: int | None = None,
) -> Neighbours:
    """Section 5 (see the module): A's latency alone, beside a loaded B without limits, with
    ``--cpus 1`` each and pinned to separate cores; ``rounds`` interleaved rounds of
    ``requests`` timed predictions per setting (the order reversed every other round). Both
    containers are removed at the end, B unpaused first. ``threads``: A's inference threads;
    ``b_threads``: B's (default: one per core of the engine)."""
    if requests < 1 or rounds < 1 or users < 1 or threads < 1 or (b_threads or 1) < 1:
        raise InputError("requests, rounds, users and threads must be >= 1")
    tag = image or build_slim(on_log=None)
    cores = int(client().info().get("NCPU") or 1)
    plans = plan(cores)
    b_threads = b_threads or cores
    record = Neighbours(Outcome.ran(), tag, cores, threads, b_threads, rounds, requests, users)
    with contextlib.ExitStack() as stack:
        a = start(tag, name=SERVER_A, env={"THREADS": str(threads)}, wait=None)
        stack.callback(a.stop)
        b = start(tag, name=SERVER_B, env={"THREADS": str(b_threads)}, wait=None)
        stack.callback(b.stop)
        a.wait_ready(timeout=TIMEOUT)
        b.wait_ready(timeout=TIMEOUT)
        stack.callback(_unpause, b)  # runs before the stops: a paused container will not stop
        load = stack.enter_context(_loaded(b, users))
        http = stack.enter_context(httpx.Client(timeout=TIMEOUT))
        send = post(http, a.url, load_request("npy"))
        send()  # untimed: opens the kept-alive connection
        times: dict[str, list[Stats]] = {name: [] for name in SETTINGS}
        runnable = [name for name in SETTINGS if "not_run" not in plans[name]]
        for i in range(rounds):
            for name in runnable if i % 2 == 0 else runnable[::-1]:
                _apply(plans[name], a, b)  # takes effect at once: no settling request
                times[name].append(interleaved({"A": send}, requests, warmup=0)["A"])
        _unpause(b)
    result = load.get("result")
    if isinstance(result, LoadResult):
        record.load_cpu_s, record.load_s = result.load_cpu_s, result.duration_s
        record.b_requests, record.b_failures = result.requests, result.failures
    for name in SETTINGS:
        show_a, show_b = plans[name]["show"]
        outcome = Outcome.not_run(plans[name]["not_run"]) if name not in runnable else Outcome.ran()
        latency = latency_of(times[name]) if times[name] else None
        record.settings.append(NeighbourSetting(name, show_a, show_b, outcome, latency))
    return record


def _apply(setting: dict[str, Any], a: RunningContainer, b: RunningContainer) -> None:
    """The setting's cgroup knobs on both containers (``docker update``), B paused or not."""
    a.container.update(**setting["a"])
    b.container.reload()
    paused = b.container.status == "paused"
    if setting["b_runs"] and paused:
        b.container.unpause()
    b.container.update(**setting["b"])
    if not setting["b_runs"] and not paused:
        b.container.pause()


def _unpause(b: RunningContainer) -> None:
    """Unpause B if it is paused (quietly when it is gone)."""
    with contextlib.suppress(Exception):
        b.container.reload()
        if b.container.status == "paused":
            b.container.unpause()


@contextlib.contextmanager
def _loaded(b: RunningContainer, users: int) -> Iterator[dict[str, Any]]:
    """B under locust's load (:func:`run_load` in a thread: locust runs in its own process)
    until the block ends; yields a dict that holds the :class:`LoadResult` afterwards (or
    ``"error"``). Waits until B's log shows the load's first answers."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=PREFIX) as folder:
        stop = Path(folder) / "stop"

        def load() -> None:
            try:
                out["result"] = run_load(
                    b.url,
                    load_request("npy"),
                    users=users,
                    requests=10**7,
                    max_seconds=LOAD_MAX_S,
                    stop_file=stop,
                )
            except MllabError as error:
                out["error"] = error

        worker = threading.Thread(target=load, name=f"{PREFIX}load", daemon=True)
        worker.start()
        try:
            until(
                lambda: "error" in out or b.logs(tail=20).count("POST /predict") >= users,
                timeout=TIMEOUT,
                interval=0.2,
                what="B's first answers to the load generator",
            )
            if "error" in out:
                raise out["error"]
            yield out
        finally:
            stop.touch()
            _unpause(b)
            worker.join(timeout=TIMEOUT)
