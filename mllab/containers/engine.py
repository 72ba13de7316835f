"""A Docker engine that answers, or one clear message saying why there is none.

``docker/engine/ensure-engine`` does the work (it is a shell script so that ``.ci/run`` can call
it before any Python environment exists); this module wraps it and hands out SDK clients.
"""

from __future__ import annotations

import functools
import os
import subprocess
from typing import TYPE_CHECKING

from mllab.core.errors import EngineUnavailable
from mllab.core.paths import DOCKER

if TYPE_CHECKING:  # annotations only: the SDK is imported when a client is made
    from docker import DockerClient

ENSURE_SCRIPT = DOCKER / "engine" / "ensure-engine"


def engine_version() -> str | None:
    """The engine's server version, or None when no engine answers."""
    try:
        return client().version().get("Version")
    except EngineUnavailable:
        return None


@functools.cache
def _client() -> DockerClient:
    import docker  # deferred: the SDK is heavy at start-up; `mllab --help` must be instant

    try:
        sdk = docker.from_env(timeout=600)
        sdk.ping()
    except Exception as error:  # noqa: BLE001 - every failure means "no engine"
        raise EngineUnavailable(
            "no Docker engine answers "
            f"({type(error).__name__}). Start one with `mllab engine ensure` "
            "(as root on Debian/Ubuntu it installs and starts docker.io) or install Docker."
        ) from None
    return sdk


def client() -> DockerClient:
    """A docker SDK client whose engine answers (cached), or :class:`EngineUnavailable`."""
    return _client()


def ensure_engine(install: bool = True) -> str:
    """Make an engine answer (running the ensure script if allowed); return its version."""
    version = engine_version()
    if version or not install:
        if version:
            return version
        raise EngineUnavailable("no Docker engine answers and installing one was not allowed")
    done = subprocess.run(
        [str(ENSURE_SCRIPT)], capture_output=True, text=True, env=os.environ.copy(), check=False
    )
    _client.cache_clear()
    if done.returncode != 0:
        raise EngineUnavailable((done.stderr or done.stdout).strip())
    return client().version()["Version"]
