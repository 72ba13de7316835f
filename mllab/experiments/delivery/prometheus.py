"""Lab 08: Debian's Prometheus scrapes the stack's replicas through the rollouts, and what it saw
is set beside what the load generator saw.

Where it runs, and why. The replicas live on the stack's overlay network (``mllab08_default``),
which the host cannot reach, and nginx balances each request over them, so scraping through
nginx would give one replica's ``/metrics`` at a time, a different one each scrape. Prometheus
must reach every replica itself: it runs as a swarm service on the stack's network (a plain
``docker run`` cannot join a stack's overlay network, which is not attachable), finds the
replicas through swarm's DNS (``dns_sd_configs`` on ``tasks.mllab08_server``, re-read every
second, so the replicas a rolling update starts are scraped once they are healthy and those it
stops are dropped) and publishes its HTTP API on ``127.0.0.1:<port>`` in host mode, as nginx
does. The binary is the host's ``/usr/bin/prometheus`` (Debian's ``prometheus`` 2.42, installed
by ``docker/engine/ensure-engine`` like the registry; it needs only glibc), bind-mounted read-only
into the stack's nginx image (Debian bookworm, already here): no image is pulled or built. Its
configuration is a temporary folder bind-mounted read-only, its data a tmpfs; both go with the
service. The service carries the stack's namespace label, so ``docker stack rm mllab08`` (the
lab's clean-up) removes it too. One node only: the bind mounts name this host's files.

What it saw is compared with the load generator in
:mod:`mllab.experiments.delivery.prometheus_view`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mllab.containers.docker_cli import docker
from mllab.containers.engine import client
from mllab.containers.nginx import NGINX_IMAGE
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.core.poll import until
from mllab.experiments.delivery.swarm import SERVICE, STACK
from mllab.serve.process import free_port

#: Debian's package installs it here (docker/engine/ensure-engine installs the package)
BINARY = "prometheus"
PROMETHEUS_SERVICE = f"{STACK}_prometheus"
NETWORK = f"{STACK}_default"
NAMESPACE_LABEL = "com.docker.stack.namespace"
SCRAPE_INTERVAL_S = 1.0

#: one series of a query_range answer: its labels and its (unix time, value) points
Points = list[tuple[float, float]]


@dataclass
class Series:
    labels: dict[str, str]
    points: Points


@dataclass
class PrometheusRun:
    """A Prometheus service scraping the stack's replicas (:func:`start_prometheus`)."""

    url: str  # its HTTP API, http://127.0.0.1:<port>
    service: str
    folder: str  # the temporary configuration folder, removed by stop_prometheus
    version: str
    start_s: float  # from `docker service create` until the replicas were scraped

    def __str__(self) -> str:
        return (
            f"Prometheus {self.version} at {self.url}, scraping every "
            f"{SCRAPE_INTERVAL_S:g} s (up in {self.start_s:.1f} s)"
        )


def binary() -> str | None:
    """The host's ``prometheus`` binary, or None when the package is not installed."""
    return shutil.which(BINARY)


def prometheus_config(
    target: str = f"tasks.{SERVICE}", port: int = 8080, interval_s: float = SCRAPE_INTERVAL_S
) -> str:
    """The configuration: every address swarm's DNS gives for ``target``, at ``port``, scraped
    every ``interval_s`` (the DNS name re-read as often)."""
    every = f"{interval_s:g}s"
    return (
        "global:\n"
        f"  scrape_interval: {every}\n"
        f"  scrape_timeout: {every}\n"
        f"  evaluation_interval: {every}\n"
        "scrape_configs:\n"
        "  - job_name: mllab08_server\n"
        "    dns_sd_configs:\n"
        f"      - names: [{target}]\n"
        "        type: A\n"
        f"        port: {port}\n"
        f"        refresh_interval: {every}\n"
    )


def start_prometheus(
    timeout: float = 30.0,
    network: str = NETWORK,
    target: str = f"tasks.{SERVICE}",
    target_port: int = 8080,
    name: str = PROMETHEUS_SERVICE,
) -> PrometheusRun:
    """Prometheus as a service on the stack's network (see the module); returns once it scrapes
    at least one replica. The stack must be up. On any failure the service is removed. The
    other arguments serve the kit's test (another network, another target)."""
    path = binary()
    if path is None:
        raise MllabError("prometheus is not installed: apt-get install prometheus")
    start = time.monotonic()
    folder = tempfile.mkdtemp(prefix="mllab-prometheus-")
    Path(folder, "prometheus.yml").write_text(prometheus_config(target, target_port))
    port = free_port()
    label = f"{NAMESPACE_LABEL}={STACK}"
    create = [
        "service", "create", "--detach", "--no-resolve-image", "--name", name,
        "--label", label, "--container-label", label, "--network", network,
        "--restart-condition", "none",
        "--publish", f"mode=host,target=9090,published={port}",
        "--mount", f"type=bind,src={path},dst=/usr/local/bin/prometheus,readonly",
        "--mount", f"type=bind,src={folder},dst=/etc/mllab-prometheus,readonly",
        "--mount", "type=tmpfs,dst=/prometheus",
        NGINX_IMAGE, "/usr/local/bin/prometheus",
        "--config.file=/etc/mllab-prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus", "--web.listen-address=:9090",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        docker(create, timeout=60)
        until(lambda: _scraping(url), timeout=timeout, interval=0.3, what="Prometheus scraping")
        info = httpx.get(f"{url}/api/v1/status/buildinfo", timeout=5).json()["data"]
    except BaseException:
        stop_prometheus(PrometheusRun(url, name, folder, "", 0.0))
        raise
    return PrometheusRun(url, name, folder, info["version"], time.monotonic() - start)


def _scraping(url: str) -> bool:
    """Whether Prometheus answers and has scraped a replica successfully."""
    try:
        targets = httpx.get(f"{url}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return any(t.get("health") == "up" for t in targets)


def stop_prometheus(run: PrometheusRun, timeout: float = 60.0, wait: bool = True) -> None:
    """The service removed (its tmpfs with it), the configuration deleted; with ``wait``, once
    its container is gone (without: swarm removes it within seconds, and ``docker stack rm``
    waits for it)."""
    docker(["service", "rm", run.service], timeout=60, check=False)
    shutil.rmtree(run.folder, ignore_errors=True)
    if not wait:
        return

    def gone() -> bool:
        filters: dict[str, str | list[str] | bool] = {
            "label": f"com.docker.swarm.service.name={run.service}"
        }
        return not client().containers.list(all=True, filters=filters, sparse=True)

    until(gone, timeout=timeout, interval=0.5, what=f"{run.service}'s container removed")


# --- the query API -----------------------------------------------------------------------------


def parse_matrix(answer: dict[str, Any]) -> list[Series]:
    """The series of a ``/api/v1/query_range`` answer (``resultType`` ``matrix``); an error
    answer raises with Prometheus's own message."""
    if answer.get("status") != "success":
        raise MllabError(f"Prometheus answered {answer.get('errorType')}: {answer.get('error')}")
    data = answer["data"]
    if data.get("resultType") != "matrix":
        raise MllabError(f"expected a matrix from query_range, not {data.get('resultType')}")
    return [
        Series(dict(s["metric"]), [(float(t), float(v)) for t, v in s["values"]])
        for s in data["result"]
    ]


def query_range(url: str, query: str, start: float, end: float, step: float = 1.0) -> list[Series]:
    """``query`` evaluated every ``step`` seconds from ``start`` to ``end`` (Unix seconds)."""
    params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    answer = httpx.get(f"{url}/api/v1/query_range", params=params, timeout=30)
    return parse_matrix(answer.json())


def watch(enabled: bool = True) -> PrometheusRun | Outcome:
    """Prometheus started on the stack (:func:`start_prometheus`), or why not: ``not run`` when
    switched off or not installed, ``failed`` with the error when it would not start."""
    if not enabled:
        return Outcome.not_run("switched off (PROMETHEUS = False)")
    if binary() is None:
        return Outcome.not_run(
            "Debian's prometheus is not installed (apt-get install prometheus; "
            "docker/engine/ensure-engine installs it when run as root)"
        )
    try:
        return start_prometheus()
    except MllabError as error:
        return Outcome.failed(error)
