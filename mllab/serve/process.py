"""The inference server in a subprocess, and the one way to wait until a server answers.

:func:`start_server` runs ``python -m mllab.serve.app`` configured by ENV, exactly as the
container's CMD does, and is used as a context manager so that the process is always stopped::

    with start_server(model) as server:
        predict_image(server.url, "cat.jpg")

:func:`wait_until_ready` polls a URL with httpx (the kit's one HTTP client library) until it
answers 200; the server subprocess, a container and the nginx front of lab 07 all wait with it.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import httpx

from mllab.core.errors import MllabError
from mllab.core.poll import until

#: seconds between two polls of :func:`wait_until_ready`
POLL_INTERVAL = 0.2


class ServerExited(MllabError):
    """The process behind a URL exited before the URL answered; ``returncode`` says how."""

    def __init__(self, message: str, returncode: int | None):
        super().__init__(message)
        self.returncode = returncode


class NotReady(MllabError):
    """A URL did not answer 200 within the time allowed."""


@runtime_checkable
class Pollable(Protocol):
    """Anything with ``poll()`` like :class:`subprocess.Popen`: None while it runs."""

    def poll(self) -> int | None: ...


def wait_until_ready(
    url: str,
    timeout: float = 120.0,
    process: Pollable | Callable[[], int | None] | None = None,
    interval: float = POLL_INTERVAL,
) -> float:
    """Poll ``GET url`` until it answers 200; the seconds it took.

    ``process`` is what serves the URL: a :class:`subprocess.Popen` (or anything with
    ``poll()``), or a callable answering its exit code (None while it runs), e.g. a container's
    ``exit_code``. When it exits first, :class:`ServerExited` says so at once instead of
    waiting out ``timeout``. :class:`NotReady` when ``timeout`` seconds pass.
    """
    exit_code = process.poll if isinstance(process, Pollable) else process

    def answers() -> bool:
        if exit_code is not None:
            code = exit_code()
            if code is not None:  # an exit ends the wait at once, not after ``timeout``
                raise ServerExited(f"the server behind {url} exited with code {code}", code)
        try:
            return httpx.get(url, timeout=2.0).status_code == 200
        except httpx.TransportError:  # not listening yet, or reset while it starts
            return False

    start = time.monotonic()
    if not until(answers, timeout=timeout, interval=interval, default=False):
        raise NotReady(f"{url} did not answer 200 within {timeout:g} s")
    return time.monotonic() - start


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]  # (host, port) for AF_INET
        return port


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def scratch_log(prefix: str) -> Path:
    """A new log file in the temporary folder, removed when this process exits: kept after a
    server stops (callers read the log of a server that exited), gone with the kernel or
    command that started it."""
    path = Path(tempfile.mkstemp(prefix=prefix, suffix=".log")[1])
    atexit.register(path.unlink, missing_ok=True)
    return path


@dataclass
class ServerProcess:
    """A running ``python -m mllab.serve.app``; a context manager that stops it on exit."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Reap the process the moment it exits, whoever stops it. A Jupyter kernel that shuts
        # down signals its children and waits while any is listed, and an unreaped (zombie)
        # child stays listed: ipykernel then waits ~29 s, jupyter_client kills the kernel after
        # 2.5 s, and the kernel's atexit clean-up (this log, the lab's scratch folders) never
        # runs. Popen.wait is safe from two threads (stop() waits too).
        threading.Thread(target=self.process.wait, name="mllab-reaper", daemon=True).start()

    def log(self) -> str:
        """What the server printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (uvicorn shuts down cleanly), SIGKILL after ``timeout``; the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()  # at once when it has exited: its exit code

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def server_env(
    model: str | Path,
    port: int,
    host: str = "127.0.0.1",
    device: str = "cpu",
    threads: int | None = None,
    max_body_mb: float | None = None,
    max_batch: int | None = None,
) -> dict[str, str]:
    """The ENV that configures ``python -m mllab.serve.app`` (see ``ServerConfig.from_env``)."""
    settings = {"MODEL_PATH": str(model), "PORT": str(port), "HOST": host, "DEVICE": device}
    settings["LOG_LEVEL"] = "warning"  # no access log line per request in the timings
    optional = {"ORT_THREADS": threads, "MAX_BODY_MB": max_body_mb, "MAX_BATCH": max_batch}
    settings.update({name: str(value) for name, value in optional.items() if value is not None})
    return settings


def start_server(
    model: str | Path,
    port: int = 0,
    host: str = "127.0.0.1",
    device: str = "cpu",
    threads: int | None = None,
    max_body_mb: float | None = None,
    max_batch: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    python: str | None = None,
) -> ServerProcess:
    """Start ``python -m mllab.serve.app`` on ``model`` and wait until ``/ready`` answers 200.

    ``port=0`` picks a free port. Use it with ``with`` so that the server is always stopped. If
    the process exits first (a tampered model, a port in use) :class:`ServerExited` carries the
    last lines it printed; the process is stopped on any error.
    """
    port = port or free_port(host)
    settings = server_env(model, port, host, device, threads, max_body_mb, max_batch)
    settings.update(env or {})
    log_path = scratch_log("mllab-serving-")
    with log_path.open("wb") as log:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen(
            [python or sys.executable, "-m", "mllab.serve.app"],
            env={**os.environ, **settings},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(process, f"http://{host}:{port}", port, log_path, settings)
    try:
        wait_until_ready(f"{server.url}/ready", timeout, process)
    except ServerExited as error:
        tail = "\n".join(server.log().strip().splitlines()[-5:])
        raise ServerExited(f"{error}:\n{tail}", error.returncode) from None
    except BaseException:
        server.stop()
        raise
    return server
