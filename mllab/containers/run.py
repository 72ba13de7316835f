"""Running a container of an image: ``with run(tag) as container:`` starts it, waits until the
server answers, and always stops and removes it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from mllab.containers.docker_cli import ContainerFailed
from mllab.containers.docker_stats import DockerStats, snapshot_of
from mllab.containers.engine import client
from mllab.containers.kinds import SERVER_PORT
from mllab.core.errors import InputError
from mllab.core.poll import until
from mllab.serve.process import NotReady, ServerExited, wait_until_ready


class RunningContainer:
    """A started container: its URL, logs and exec; stop() (or ``with``) stops and removes it."""

    def __init__(self, container: Any, port: int = SERVER_PORT) -> None:
        self.container = container
        self.name = container.name
        self.port = port

    @property
    def host_port(self) -> int | None:
        """The host port the container's port is published on, or None."""
        self.container.reload()
        bindings = (self.container.ports or {}).get(f"{self.port}/tcp") or []
        return int(bindings[0]["HostPort"]) if bindings else None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<host port>`` (published) or the container's bridge address."""
        port = self.host_port
        if port:
            return f"http://127.0.0.1:{port}"
        address = self.container.attrs["NetworkSettings"].get("IPAddress")
        return f"http://{address}:{self.port}"

    def status(self) -> str:
        self.container.reload()
        return self.container.status

    def exit_code(self) -> int | None:
        """The exit code once the container stopped, else None."""
        self.container.reload()
        state = self.container.attrs["State"]
        return None if state.get("Running") else int(state.get("ExitCode", 0))

    def health(self) -> str | None:
        """Docker's health status (``starting``, ``healthy``, ``unhealthy``), None without one."""
        self.container.reload()
        return (self.container.attrs["State"].get("Health") or {}).get("Status")

    def logs(self, tail: int | str = "all") -> str:
        return self.container.logs(tail=tail).decode("utf-8", "replace")

    def exec(self, command: str | list[str], user: str | None = None) -> tuple[int, str]:
        """Run a command in the container: (exit code, output)."""
        result = self.container.exec_run(command, user=user or "")
        return result.exit_code, result.output.decode("utf-8", "replace")

    def wait_ready(self, path: str = "/ready", timeout: float = 120.0) -> float:
        """Wait until ``GET path`` answers 200 (or, with ``path="healthy"``, until Docker's
        HEALTHCHECK says so); the seconds it took. An early exit or a timeout raises
        :class:`ContainerFailed` with the exit code and the end of the log."""
        try:
            if path == "healthy":
                return self._wait_healthy(timeout)
            return wait_until_ready(self.url + path, timeout, self.exit_code)
        except (ServerExited, NotReady) as error:
            code = error.returncode if isinstance(error, ServerExited) else None
            logs = self.logs()
            what = f"exited with code {code}" if code is not None else "was not ready"
            raise ContainerFailed(
                f"container {self.name} {what} ({error}); its log ends with:\n{_tail(logs)}",
                code,
                logs,
            ) from None

    def _wait_healthy(self, timeout: float) -> float:
        """Poll Docker's health status (the image's HEALTHCHECK) until ``healthy``."""

        def healthy() -> bool:
            code = self.exit_code()
            if code is not None:  # an exit ends the wait at once, not after ``timeout``
                raise ServerExited(f"the container exited with code {code}", code)
            return self.health() == "healthy"

        start = time.monotonic()
        if not until(healthy, timeout=timeout, interval=0.25, default=False):
            raise NotReady(f"Docker did not report the container healthy within {timeout:g} s")
        return time.monotonic() - start

    def docker_stats(self, timeout: float = 30.0) -> DockerStats:
        """``docker stats --no-stream`` of this container, with one stats API document searched
        for GPU fields (claim C13; :func:`mllab.containers.docker_stats.snapshot`)."""
        return snapshot_of(self.container, timeout)

    def stop(self, timeout: int = 5) -> None:
        """Stop and remove the container (quietly when it is gone already)."""
        import docker.errors  # deferred: the SDK is heavy at start-up

        try:
            self.container.stop(timeout=timeout)
        except docker.errors.APIError:
            pass
        try:
            self.container.remove(force=True)
        except docker.errors.APIError:
            pass

    def __enter__(self) -> RunningContainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def healthcheck_passes(container: Any) -> bool:
    """Run the image's own HEALTHCHECK command in ``container`` now: True when it exits 0.

    Docker 20.10 runs the first probe only after the check's ``--interval`` (10 s for the kit's
    server) whatever ``--start-period`` says, so a caller that waits for "healthy" waits at least
    that long; running the same command at once knows as soon as the model is loaded."""
    test = (container.attrs.get("Config", {}).get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return container.status == "running"
    import docker.errors  # deferred: the SDK is heavy at start-up and absent from the slim image

    command = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", " ".join(test[1:])]
    try:
        return container.exec_run(command).exit_code == 0
    except docker.errors.APIError:  # stopped or gone between the list and the exec: not ready
        return False


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def start(
    tag: str,
    *,
    name: str | None = None,
    ports: dict[str, Any] | None = None,
    read_only: bool = False,
    user: str | None = None,
    cpus: float | None = None,
    mem_limit: str | int | None = None,
    env: dict[str, str] | None = None,
    volumes: dict[str, dict[str, str]] | None = None,
    tmpfs: dict[str, str] | None = None,
    wait: str | None = "/ready",
    timeout: float = 120.0,
    **kwargs: Any,
) -> RunningContainer:
    """``docker run -d`` an image and wait until it is ready; a :class:`RunningContainer` the
    caller must stop (prefer :func:`run`, which always does).

    The server's port is published on a free port of 127.0.0.1 (``ports`` overrides).
    ``read_only`` mounts the root filesystem read-only, as plain ``docker run --read-only``
    (the server needs no writable path: uploads are parsed in memory); ``cpus``/``mem_limit``
    are ``--cpus``/``--memory``. ``wait``: a path to poll until it answers 200, ``"healthy"``
    for Docker's HEALTHCHECK, None not to wait. A container of the same ``name`` is replaced.
    On an early exit: :class:`ContainerFailed`, and the container is removed.
    """
    import docker.errors  # deferred: the SDK is heavy at start-up

    sdk = client()
    if name:
        try:
            sdk.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
    options: dict[str, Any] = {
        "detach": True,
        "name": name,
        "ports": ports if ports is not None else {f"{SERVER_PORT}/tcp": ("127.0.0.1", None)},
        "read_only": read_only,
        "environment": env or {},
        "volumes": volumes or {},
        "tmpfs": tmpfs or {},
        **kwargs,
    }
    if user is not None:
        options["user"] = user
    if cpus is not None:
        options["nano_cpus"] = int(cpus * 1e9)
    if mem_limit is not None:
        options["mem_limit"] = mem_limit
    try:
        container = sdk.containers.run(tag, **options)
    except docker.errors.ImageNotFound:
        raise InputError(f"no image {tag!r}: build it first (mllab images build ...)") from None
    except docker.errors.APIError as error:
        raise ContainerFailed(f"docker run {tag} failed: {error.explanation or error}") from None
    running = RunningContainer(container)
    if wait:
        try:
            running.wait_ready(wait, timeout)
        except BaseException:
            running.stop(timeout=1)
            raise
    return running


@contextlib.contextmanager
def run(tag: str, **options: Any) -> Iterator[RunningContainer]:
    """``with run(tag, ...) as container:`` a started, ready container (keywords as
    :func:`start`) that is stopped and removed when the block ends, whatever happens in it."""
    container = start(tag, **options)
    try:
        yield container
    finally:
        container.stop()


def docker_stats_of_image(
    tag: str, name: str = "mllab-stats", timeout: float = 60.0
) -> DockerStats:
    """Start ``tag`` (a server image), read ``docker stats --no-stream`` once (and the stats API
    for GPU fields) when it is ready, and stop it: the C13 record."""
    with run(tag, name=name, timeout=timeout) as container:
        return container.docker_stats()
