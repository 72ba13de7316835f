"""Lab 08: a replica killed under load and replaced by the swarm, and throughput at 1, 2 and 4
replicas of the stack ``mllab08`` (:mod:`mllab.experiments.delivery.swarm`), all through nginx.

* :func:`kill_under_load`: ``docker kill`` (SIGKILL, no draining) of one replica's container
  while locust posts predictions. nginx sends a request that meets the dead replica (connection
  refused, reset, 502) to another one; swarm's ``restart_policy`` starts a new task, which gets
  traffic once its health check (``/ready``) passes. Recovery time: from the kill until the
  service again runs its wanted number of healthy replicas, none of them the killed one.
* :func:`swarm_scale`: ``docker service scale`` to each N, then the same locust load for the
  same time. Each replica is limited to ``cpus`` cores: on a 2-core node, 4 replicas share the
  same 2 cores, so throughput stops growing where the cores run out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mllab.core.errors import InputError
from mllab.experiments.delivery.rollout import stack_for, under_load, version_timeline
from mllab.experiments.delivery.swarm import Deployment, deploy_scale, kill_replica, wait_replaced
from mllab.measure.load import run_load
from mllab.serve.requests import load_request

if TYPE_CHECKING:  # annotations only: matplotlib is imported when the notebook plots
    from matplotlib.figure import Figure


@dataclass
class Recovery:
    """One replica killed under load: what the clients lost and how long the swarm took."""

    requests: int
    failures: int
    seconds_to_recovery: float  # kill -> wanted replicas healthy again, the killed one gone
    replicas: int
    killed: str  # the container ID that was killed
    errors: dict[str, int] = field(default_factory=dict)
    users: int = 0
    rps: float = 0.0
    kill_s: float = 0.0  # on the timeline's clock (approx.: locust start-up ~1 s)
    timeline: list[dict[str, Any]] = field(default_factory=list, repr=False)

    SCHEMA_VERSION: ClassVar[int] = 1


def kill_under_load(
    image_ref: str,
    replicas: int = 2,
    users: int = 4,
    seconds: float = 30.0,
    lead_s: float = 5.0,
    cpus: float = 1.0,
    deployment: Deployment | None = None,
    timeout: float = 120.0,
) -> Recovery:
    """``replicas`` of ``image_ref`` (or ``deployment`` as it is) under ``users`` locust users
    for ``seconds``; after ``lead_s`` one replica's container is killed and the time until the
    swarm replaced it is measured. A fresh stack is removed afterwards."""
    if replicas < 2:
        raise InputError("kill a replica of at least 2: with 1 there is nobody to take over")
    with stack_for(image_ref, deployment, replicas, cpus) as stack:

        def kill() -> tuple[str, float]:
            killed = kill_replica()
            return killed, wait_replaced(killed, timeout)

        run = under_load(stack.url, seconds, users, lead_s, kill)
        killed, recovered = run.value
        load = run.load
        return Recovery(
            requests=load.requests,
            failures=load.failures,
            seconds_to_recovery=recovered,
            replicas=stack.replicas,
            killed=killed,
            errors=dict(load.errors),
            users=users,
            rps=load.rps,
            kill_s=run.action_start_s,
            timeline=version_timeline(load),
        )


@dataclass
class SwarmScale:
    """Throughput through nginx at each number of replicas, under the same load."""

    rows: list[dict[str, Any]]  # replicas, LoadResult.row() (rps, p50_ms, p95_ms, ...), scale_s
    users: int
    seconds: float
    cpus_per_replica: float

    SCHEMA_VERSION: ClassVar[int] = 1


def swarm_scale(
    image_ref: str,
    replicas: Sequence[int] = (1, 2, 4),
    users: int = 8,
    seconds: float = 20.0,
    cpus: float = 1.0,
    deployment: Deployment | None = None,
) -> SwarmScale:
    """For each N in ``replicas``: ``docker service scale`` to N (healthy), then ``users``
    locust users for ``seconds`` through nginx. One stack for every N (removed afterwards unless
    ``deployment`` was given)."""
    if not replicas or any(n < 1 for n in replicas):
        raise InputError(f"replicas must be counts >= 1, not {list(replicas)}")
    rows = []
    with stack_for(image_ref, deployment, replicas[0], cpus) as stack:
        for n in replicas:
            scale_s = deploy_scale(n)
            load = run_load(stack.url, load_request(), users, requests=10**7, max_seconds=seconds)
            rows.append({"replicas": n, **load.row(), "scale_s": scale_s})
    return SwarmScale(rows, users, seconds, cpus)


def plot_scale(result: SwarmScale) -> Figure:
    """Requests/s per number of replicas, with p95 latency on a second axis."""
    import matplotlib.pyplot as plt  # deferred: start-up time; only the notebook plots

    labels = [str(row["replicas"]) for row in result.rows]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.bar(labels, [row["rps"] for row in result.rows], color="C0")
    ax.set(xlabel="replicas", ylabel="requests/s", title="throughput through nginx (swarm)")
    p95 = ax.twinx()
    p95.plot(labels, [row["p95_ms"] or 0 for row in result.rows], "o-", color="C3")
    p95.set_ylabel("p95, ms")
    p95.set_ylim(bottom=0)
    fig.tight_layout()
    return fig
