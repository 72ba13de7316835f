"""Scale-out: N replicas of the slim server behind nginx (``docker/compose.yml``), each N under
the same locust load (:mod:`mllab.measure.load`) sent through nginx.

``docker-compose -p mllab07 up -d --scale server=N`` starts the replicas; nginx is (re)started
after them because it resolves the service name ``server`` to every replica when it starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import numpy as np

from mllab.containers.docker_cli import compose
from mllab.containers.engine import client
from mllab.containers.nginx import NGINX_IMAGE, build_nginx
from mllab.containers.run import healthcheck_passes
from mllab.core.errors import InputError, MllabError
from mllab.core.paths import DOCKER
from mllab.core.poll import until
from mllab.experiments.resources.container_limits import (
    PREFIX,
    explain_exit,
    parse_cpus,
    slim_image,
)
from mllab.measure.load import LoadRequest, LoadResult, run_load
from mllab.serve.process import free_port, wait_until_ready
from mllab.serve.requests import load_request

if TYPE_CHECKING:  # annotations only: matplotlib is imported when the notebook plots
    from matplotlib.figure import Figure

COMPOSE_FILE = DOCKER / "compose.yml"
COMPOSE_PROJECT = PREFIX


def _compose(args: list[str], env: dict[str, str], timeout: float = 300.0) -> str:
    """``docker-compose -f docker/compose.yml -p mllab07 ARGS`` with the variables ``env``."""
    return compose(COMPOSE_FILE, COMPOSE_PROJECT, args, env=env, timeout=timeout)


def replica_cpus(cpus: float | None) -> float:
    """Each replica's ``--cpus``: ``cpus``, or every core of this host."""
    return parse_cpus(cpus) or float(os.cpu_count() or 1)


def compose_env(
    tag: str, port: int, threads: int | None = None, cpus: float | None = None
) -> dict[str, str]:
    """The variables ``docker/compose.yml`` reads."""
    return {
        "MLLAB_SERVE_IMAGE": tag,
        "MLLAB_NGINX_IMAGE": NGINX_IMAGE,
        "MLLAB07_PORT": str(port),
        "MLLAB07_THREADS": "" if threads is None else str(threads),
        "MLLAB07_CPUS": f"{replica_cpus(cpus):g}",
    }


@contextmanager
def replicas_up(
    replicas: int,
    tag: str | None = None,
    port: int | None = None,
    threads: int | None = None,
    cpus: float | None = None,
    timeout: float = 180.0,
) -> Iterator[str]:
    """``docker-compose -p mllab07 up -d --scale server=N`` and nginx in front; yields the URL
    (``http://127.0.0.1:port``) once every replica answers through nginx; ``down`` on exit."""
    if replicas < 1:
        raise InputError(f"replicas must be >= 1, not {replicas}")
    if threads is not None and threads < 1:
        raise InputError(f"threads must be >= 1 (or None: from the quota), not {threads}")
    parse_cpus(cpus)
    tag = tag or slim_image()
    build_nginx()
    env = compose_env(tag, port or free_port(), threads, cpus)
    try:
        _compose(["up", "-d", "--scale", f"server={replicas}", "server"], env)
        _wait_replicas_healthy(replicas, timeout)
        # nginx resolves "server" when it starts: start it after the replicas exist
        _compose(["up", "-d", "--no-deps", "--force-recreate", "nginx"], env)
        url = f"http://127.0.0.1:{env['MLLAB07_PORT']}"
        wait_until_ready(f"{url}/ready", timeout)
        yield url
    finally:
        _compose(["down", "--remove-orphans", "--timeout", "5"], env)


def _project_containers(service: str) -> list[Any]:
    labels = [
        f"com.docker.compose.project={COMPOSE_PROJECT}",
        f"com.docker.compose.service={service}",
    ]
    # ignore_removed: a replica may go between the list and its inspect
    return client().containers.list(all=True, filters={"label": labels}, ignore_removed=True)


def _wait_replicas_healthy(replicas: int, timeout: float) -> None:
    """Every replica passes its image's HEALTHCHECK command (the model is loaded), or a clear
    error. The command is run at once rather than waiting for Docker's first probe, which comes
    only after the check's interval."""

    def all_healthy() -> bool:
        containers = _project_containers("server")
        for container in containers:
            state = container.attrs["State"]
            if not state.get("Running") and state.get("Status") == "exited":
                raise MllabError(f"replica {container.name}: {explain_exit(container)}")
        return sum(healthcheck_passes(c) for c in containers) >= replicas

    if not until(all_healthy, timeout=timeout, interval=1.0, default=False):
        raise MllabError(f"{replicas} replicas were not healthy after {timeout:g} s")


def upstreams_seen(url: str, requests: int = 20) -> dict[str, int]:
    """Which replica answered each of ``requests`` GET /health through nginx (its
    ``X-Upstream`` header), counted: round-robin over N replicas shows N keys."""
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
    load: LoadResult

    def row(self) -> dict[str, Any]:
        """The headline figures, for one table row."""
        load = self.load
        return {
            "replicas": self.replicas,
            "threads_each": self.threads_per_replica,
            "cpus_each": self.cpus_per_replica,
            "threads_total": (self.threads_per_replica or 0) * self.replicas,
            **{key: getattr(load, key) for key in ("rps", "p50_ms", "p95_ms", "p99_ms")},
            "failures": load.failures,
            "requests": load.requests,
        }


@dataclass
class ScaleOut:
    """Every scale-out point of one experiment (lab 07's record)."""

    users: int
    requests: int
    runs: list[ScaleRun] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1

    def rows(self) -> list[dict[str, Any]]:
        return [run.row() for run in self.runs]


def scale_out(
    replicas: Sequence[int] = (1, 2),
    users: int = 8,
    spawn_rate: float | None = None,
    requests: int = 300,
    max_seconds: float = 120.0,
    threads: int | None = None,
    cpus: float | None = None,
    tag: str | None = None,
    request: LoadRequest | None = None,
) -> ScaleOut:
    """For each N in ``replicas``: N servers behind nginx, the same locust load through nginx
    (``request``, default: a batch-1 ``.npy`` POST /predict).

    ``cpus`` is each replica's ``--cpus`` (default: every host core) and ``threads`` its ONNX
    Runtime pool (default: from that quota), so replicas × threads may exceed the cores.
    """
    if not replicas or any(n < 1 for n in replicas):
        raise InputError(f"replicas must be counts >= 1, not {list(replicas)}")
    share = replica_cpus(cpus)
    result = ScaleOut(users, requests)
    for n in replicas:
        with replicas_up(n, tag=tag, threads=threads, cpus=cpus) as url:
            spread = upstreams_seen(url, 4 * n)
            each = httpx.get(f"{url}/metadata", timeout=30).json().get("threads")
            load = run_load(
                url,
                request or load_request("npy"),
                users=users,
                spawn_rate=spawn_rate,
                requests=requests,
                max_seconds=max_seconds,
            )
        result.runs.append(ScaleRun(n, each, share, spread, load))
    return result


def plot_scale(result: ScaleOut) -> Figure:
    """Requests/s and latency percentiles per number of replicas."""
    import matplotlib.pyplot as plt  # deferred: start-up time; only the notebook plots

    runs = result.runs
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
