"""A container's resource limits, ``docker run --cpus`` / ``--memory``, as lab 07 uses them:
argument checks, the limits as SDK keywords and as ``docker run`` options, and why a container
stopped, in words. (The server's request size limits are :mod:`mllab.serve.limits`.)

Lecture, "Управление ресурсами CPU/GPU внутри контейнера": ``--cpus=c`` becomes a cgroup CFS
quota and ``--memory=m`` a hard memory limit. Every other lab-07 module (the probe runs, the
``--cpus`` sweep, the OOM demo, η, scale-out) checks its arguments here first, so that a bad
value is refused before anything is built or started.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from mllab.containers.build import build_slim
from mllab.core.errors import InputError

#: the prefix of every container, compose project and cgroup lab 07 creates
PREFIX = "mllab07"
#: default CPU quotas of the sweep (``--cpus``); the host must have at least max(CPUS) cores
CPUS = (0.5, 1.0, 2.0)
MIB = 1024 * 1024


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
    number: float  # bytes as given, or the figure before its unit
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


def container_limits(cpus: float | None, memory: str | int | None) -> dict[str, Any]:
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


def limit_options(cpus: float | None, memory: str | int | None) -> list[str]:
    """``docker run`` options for ``--cpus`` / ``--memory`` (no swap beyond the limit)."""
    options = []
    cpus = parse_cpus(cpus)
    if cpus is not None:
        options.append(f"--cpus={cpus:g}")
    if memory is not None:
        size = parse_memory(memory)
        # without --memory-swap docker allows as much swap again: slowness instead of OOM
        options += [f"--memory={size}b", f"--memory-swap={size}b"]
    return options


def slim_image(on_log: Callable[[str], None] | None = None) -> str:
    """The slim serving image (``build_slim``: built when its inputs changed, else
    reused as it is); ``on_log`` gets the build's lines (``print`` to see them)."""
    return build_slim(on_log=on_log)


def explain_exit(container: Any, needed_bytes: int | None = None) -> str:
    """Why a container (docker SDK object) stopped, in one sentence; an OOM kill names the
    limit and the need."""
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
