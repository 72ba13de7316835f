"""Lab 08's deployment on Docker Swarm: the stack ``mllab08`` (``docker/swarm/stack.yml``), N
replicas of an image reference behind the kit's nginx, updated, scaled and removed.

``deploy_up(ref)`` joins nothing and needs no network: on a machine whose engine is not in a
swarm it runs ``docker swarm init --advertise-addr 127.0.0.1`` and remembers in
``ARTIFACTS/swarm/created-by-kit.json`` that the kit made it, so that ``deploy_down()`` leaves
that swarm again, and only that one: a swarm the user had is never left
(:mod:`mllab.experiments.delivery.swarm_node`). ``docker stack`` commands have no SDK
equivalent, so they run on the CLI (:func:`mllab.containers.docker_cli.docker`); the services and
tasks are read with the SDK (:func:`mllab.containers.engine.client`).

The image reference is best a registry digest (``127.0.0.1:5000/mllab/serve@sha256:…``): every
node of a multi-node swarm then runs the same bytes. A local tag works on this one node.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from mllab.containers.base import has_image
from mllab.containers.docker_cli import docker
from mllab.containers.engine import client
from mllab.containers.nginx import NGINX_IMAGE, build_nginx
from mllab.core.errors import InputError, MllabError
from mllab.core.hashing import sha256_file
from mllab.core.paths import DOCKER
from mllab.core.poll import until
from mllab.experiments.delivery.swarm_node import (
    TIMEOUT,
    ensure_swarm,
    leave_swarm_if_created,
    swarm_state,
)
from mllab.serve.process import wait_until_ready

if TYPE_CHECKING:  # annotations only: the docker SDK is imported when a client is made
    from docker.models.services import Service

#: the stack's name; MLLAB08_STACK gives another (two people developing on one engine)
STACK = os.environ.get("MLLAB08_STACK", "mllab08")
SERVICE = f"{STACK}_server"
NGINX_SERVICE = f"{STACK}_nginx"
STACK_FILE = DOCKER / "swarm" / "stack.yml"
NGINX_CONF = DOCKER / "swarm" / "nginx.conf"
DEFAULT_PORT = 8087
_MEMORY = re.compile(r"^\d+(\.\d+)?[bkmg]$", re.IGNORECASE)
#: an update's states (``docker service inspect``: UpdateStatus.State) that end it
UPDATE_DONE = ("completed", "rollback_completed", "paused", "rollback_paused")


# --- the stack --------------------------------------------------------------------------------


@dataclass
class Deployment:
    """The running stack: where it answers and what it runs."""

    url: str  # nginx, e.g. http://127.0.0.1:8087
    stack: str
    service: str
    image: str  # the reference the replicas run
    replicas: int
    port: int
    cpus: float
    memory: str
    version: str | None  # what the service answers in X-Model-Version
    swarm_created: bool  # the kit initialised the swarm (deploy_down leaves it)
    seconds: float  # from `docker stack deploy` until the replicas answered through nginx

    SCHEMA_VERSION: ClassVar[int] = 1


def check_reference(image_ref: str) -> str:
    """``image_ref`` if a swarm can run it: a registry reference (``host:port/…``, by digest
    best) or an image this engine has; else an :class:`InputError` saying what to do."""
    if not image_ref or any(c.isspace() for c in image_ref):
        raise InputError(
            f"an image reference such as 127.0.0.1:5000/mllab/serve@sha256:…, not {image_ref!r}"
        )
    first = image_ref.split("/")[0]
    from_registry = "/" in image_ref and ("." in first or ":" in first or first == "localhost")
    if not from_registry and not has_image(image_ref):
        raise InputError(
            f"no image {image_ref!r} here and it names no registry: build it (mllab images build "
            "slim) or push it (mllab registry up, then the pipeline) and pass "
            "host:port/repo@sha256:…"
        )
    return image_ref


def _check_settings(replicas: int, port: int, cpus: float, memory: str) -> None:
    if replicas < 0:
        raise InputError(f"replicas must be >= 0, not {replicas}")
    if not 1 <= port <= 65535:
        raise InputError(f"port must be 1..65535, not {port}")
    if not cpus > 0:
        raise InputError(f"cpus must be > 0 (a share of the node's cores, e.g. 1), not {cpus}")
    if not _MEMORY.match(memory):
        raise InputError(f"memory must look like 512m or 1g, not {memory!r}")


def stack_env(image_ref: str, replicas: int, port: int, cpus: float, memory: str) -> dict[str, str]:
    """The variables ``docker/swarm/stack.yml`` reads."""
    return {
        "MLLAB08_IMAGE": image_ref,
        "MLLAB08_REPLICAS": str(replicas),
        "MLLAB08_PORT": str(port),
        "MLLAB08_CPUS": f"{cpus:g}",
        "MLLAB08_MEMORY": memory,
        "MLLAB08_NGINX_IMAGE": NGINX_IMAGE,
        "MLLAB08_NGINX_CONF": f"{STACK}_nginx_{sha256_file(NGINX_CONF)[:12]}",
    }


def deploy_up(
    image_ref: str,
    replicas: int = 2,
    port: int = DEFAULT_PORT,
    cpus: float = 1.0,
    memory: str = "1g",
    timeout: float = 240.0,
) -> Deployment:
    """``docker stack deploy`` of ``mllab08``: ``replicas`` of ``image_ref`` (each limited to
    ``cpus`` cores and ``memory``) behind nginx on ``127.0.0.1:port`` (host mode), in a swarm
    made if none (see the module). Returns once every replica is healthy and nginx answers
    ``/ready``; on any failure the stack is removed (and a kit swarm left) before raising."""
    _check_settings(replicas, port, cpus, memory)
    check_reference(image_ref)
    build_nginx()  # the stack's front (cached after the first build)
    created = ensure_swarm()
    start = time.monotonic()
    env = stack_env(image_ref, replicas, port, cpus, memory)
    try:
        deploy = ["stack", "deploy", "--resolve-image", "never", "--prune", "-c", str(STACK_FILE)]
        docker([*deploy, STACK], timeout=timeout, env=env)
        wait_converged(timeout)
        url = f"http://127.0.0.1:{port}"
        if replicas:
            wait_until_ready(f"{url}/ready", timeout)
        return Deployment(
            url=url,
            stack=STACK,
            service=SERVICE,
            image=image_ref,
            replicas=replicas,
            port=port,
            cpus=cpus,
            memory=memory,
            version=answered_version(url) if replicas else None,
            swarm_created=created,
            seconds=time.monotonic() - start,
        )
    except BaseException:
        deploy_down()
        raise


def answered_version(url: str) -> str | None:
    """The ``X-Model-Version`` header of ``GET url/ready`` (which build answers), or None."""
    try:
        return httpx.get(f"{url}/ready", timeout=10).headers.get("x-model-version")
    except httpx.HTTPError:
        return None


@contextmanager
def deployed(image_ref: str, **settings: Any) -> Iterator[Deployment]:
    """``with deployed(ref, replicas=2) as d:`` :func:`deploy_up`, and :func:`deploy_down`
    afterwards, also when the block fails."""
    deployment = deploy_up(image_ref, **settings)
    try:
        yield deployment
    finally:
        deploy_down()


def _service(name: str = SERVICE) -> Service:
    """The SDK's service object, or a clear error when the stack is not deployed."""
    found = client().services.list(filters={"name": name})
    exact = [s for s in found if s.name == name]
    if not exact:
        raise MllabError(f"no service {name}: deploy the stack first (mllab deploy up IMAGE)")
    return exact[0]


@dataclass
class Task:
    """One task (replica slot) of the server service, as the swarm sees it."""

    id: str
    slot: int | None
    image: str
    state: str  # new, pending, starting, running, shutdown, failed, rejected, ...
    desired: str  # running or shutdown
    container_id: str | None
    error: str
    exit_code: int | None


def service_tasks(name: str = SERVICE) -> list[Task]:
    """Every task of the service (current and past), newest first."""
    tasks = sorted(_service(name).tasks(), key=lambda t: t.get("CreatedAt", ""), reverse=True)
    rows = []
    for task in tasks:
        status = task.get("Status", {})
        container = status.get("ContainerStatus", {})
        rows.append(
            Task(
                id=task["ID"],
                slot=task.get("Slot"),
                image=task["Spec"]["ContainerSpec"]["Image"],
                state=status.get("State", "?"),
                desired=task.get("DesiredState", "?"),
                container_id=container.get("ContainerID"),
                error=status.get("Err", ""),
                exit_code=container.get("ExitCode"),
            )
        )
    return rows


def running_tasks(name: str = SERVICE) -> list[Task]:
    """Tasks meant to run that do (with a healthcheck, swarm says running once healthy)."""
    return [t for t in service_tasks(name) if t.desired == "running" and t.state == "running"]


def update_state(name: str = SERVICE) -> str:
    """The service's last update's state (``updating``, ``completed``, ``rollback_started``,
    ``rollback_completed``, ``paused``…), or ``none`` when it was never updated."""
    attrs = _service(name).attrs
    return (attrs.get("UpdateStatus") or {}).get("State", "none")


def wanted_replicas(name: str = SERVICE) -> int:
    """The replicas the service's spec asks for."""
    return int(_service(name).attrs["Spec"]["Mode"]["Replicated"]["Replicas"])


def wait_converged(timeout: float = 240.0, name: str = SERVICE) -> float:
    """Wait until the service runs as many healthy tasks as its spec asks, none in excess and
    no update in progress (and nginx runs); the seconds it took. A replica that keeps failing is
    reported with its error."""
    start = time.monotonic()
    last: dict[str, Any] = {}  # what the last look saw, for the message when time runs out

    def converged() -> bool:
        want, tasks = wanted_replicas(name), service_tasks(name)
        live = [t for t in tasks if t.desired == "running"]
        ready = [t for t in live if t.state == "running"]
        busy = update_state(name) in ("updating", "rollback_started")
        nginx = running_tasks(NGINX_SERVICE) if name == SERVICE else [None]
        last.update(want=want, tasks=tasks, ready=len(ready))
        return len(ready) == want == len(live) and not busy and bool(nginx)

    if not until(converged, timeout=timeout, interval=0.5, default=False):
        failed = [t for t in last["tasks"] if t.state in ("failed", "rejected")][:3]
        why = "; ".join(f"{t.state}: {t.error} (exit {t.exit_code})" for t in failed)
        raise MllabError(
            f"{name}: {last['ready']} of {last['want']} replicas healthy after {timeout:g} s"
            + (f"; recent failures: {why}" if why else "")
            + f" (docker service ps {name} --no-trunc)"
        )
    return time.monotonic() - start


@dataclass
class Update:
    """How one ``docker service update --image`` ended."""

    image: str
    version: str | None  # what the service answered afterwards (X-Model-Version)
    state: str  # completed, rollback_completed, paused, ... or unchanged (same image already)
    message: str  # swarm's UpdateStatus.Message
    seconds: float

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def ok(self) -> bool:
        return self.state in ("completed", "unchanged")


def deploy_update(
    image_ref: str, timeout: float = 300.0, check: bool = True, url: str | None = None
) -> Update:
    """A rolling update of the server to ``image_ref`` under the stack's ``update_config``
    (one replica at a time, start-first, rollback on failure); waits until swarm ends it.

    With ``check`` an update that swarm rolled back or paused raises :class:`MllabError`;
    ``url`` (nginx) is asked which version answers afterwards."""
    check_reference(image_ref)
    attrs = _service().attrs
    start = time.monotonic()
    if attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == image_ref:
        version = answered_version(url) if url else None
        return Update(image_ref, version, "unchanged", "already running this image", 0.0)
    # the previous update's status stays until swarm starts this one: not mistaken for its end
    previous = (attrs.get("UpdateStatus") or {}).get("StartedAt")
    update = ["service", "update", "--detach", "--no-resolve-image", "--image", image_ref]
    docker([*update, SERVICE], timeout=TIMEOUT)
    seen = {"state": "updating"}

    def ended() -> tuple[str, str] | None:
        status = _service().attrs.get("UpdateStatus") or {}
        seen["state"] = status.get("State", "none")
        if seen["state"] in UPDATE_DONE and status.get("StartedAt") != previous:
            return seen["state"], status.get("Message", "")
        return None

    left = max(0.0, timeout - (time.monotonic() - start))
    found = until(ended, timeout=left, interval=0.5, default=None)
    if found is None:
        raise MllabError(
            f"the update to {image_ref} did not end in {timeout:g} s (state {seen['state']})"
        )
    state, message = found
    if state.startswith("rollback"):
        wait_converged(timeout)  # the old replicas are all back before anyone measures
    result = Update(image_ref, None, state, message, time.monotonic() - start)
    result.version = answered_version(url) if url else None
    if check and not result.ok:
        raise MllabError(f"the update to {image_ref} ended {state}: {message}")
    return result


def deploy_scale(replicas: int, timeout: float = 240.0) -> float:
    """``docker service scale mllab08_server=N``; the seconds until N replicas are healthy."""
    _check_settings(replicas, DEFAULT_PORT, 1.0, "1g")
    _service()
    start = time.monotonic()
    docker(["service", "scale", "--detach", f"{SERVICE}={replicas}"], timeout=TIMEOUT)
    wait_converged(timeout)
    return time.monotonic() - start


def kill_replica() -> str:
    """``docker kill`` one running replica's container (SIGKILL: no draining); its ID. The
    restart policy makes the swarm start a new task in its slot."""
    tasks = [t for t in running_tasks() if t.container_id]
    if not tasks:
        raise MllabError(f"no running replica of {SERVICE} to kill")
    victim = tasks[-1].container_id
    assert victim is not None  # filtered above
    docker(["kill", victim], timeout=TIMEOUT)
    return victim


def wait_replaced(killed: str, timeout: float = 120.0) -> float:
    """Seconds until the service again runs its wanted replicas, none of them ``killed``."""
    start = time.monotonic()

    def replaced() -> bool:
        running = running_tasks()
        ready = [t for t in running if t.container_id != killed]
        return len(ready) >= wanted_replicas() and len(ready) == len(running)  # killed one gone

    if not until(replaced, timeout=timeout, interval=0.2, default=False):
        raise MllabError(f"the killed replica {killed[:12]} was not replaced in {timeout:g} s")
    return time.monotonic() - start


def deploy_down(leave: bool = True, timeout: float = 120.0) -> bool:
    """``docker stack rm mllab08`` and wait until its containers and network are gone; then, with
    ``leave``, leave the swarm if the kit created it. True when a stack was removed."""
    if swarm_state() != "active":
        leave_swarm_if_created()  # forgets a kit swarm someone already left
        return False
    stacks = docker(["stack", "ls", "--format", "{{.Name}}"], timeout=TIMEOUT).stdout.split()
    removed = STACK in stacks
    if removed:
        docker(["stack", "rm", STACK], timeout=timeout)
    label = f"com.docker.stack.namespace={STACK}"

    def gone() -> bool:
        # sparse: only whether any is left counts, so no inspect per container (which also
        # answered 404 for one removed in between, seen in CI)
        containers = client().containers.list(all=True, filters={"label": label}, sparse=True)
        return not containers and not client().networks.list(filters={"label": label})

    if not until(gone, timeout=timeout, interval=0.5, default=False):
        raise MllabError(f"the stack {STACK} was not gone after {timeout:g} s (docker ps -a)")
    if leave:
        leave_swarm_if_created()
    return removed
