"""Swap for lab 07's memory experiment: the host's, or a temporary swap file the lab makes and
removes, and whether the engine can limit a container's swap at all.

The lecture's slowdown under a memory limit (tensors pushed out of RAM, read back on use) needs
somewhere to push them: swap. ``--memory`` caps a container's RAM, ``--memory-swap`` its RAM
plus swap; on a host without swap there is nowhere to page anonymous memory to, and a container
over its limit can only be killed. :func:`swap_for` gives the experiment what this host allows:

* the host's own swap, when it has some (``SwapTotal`` in ``/proc/meminfo``);
* else, where this process is root and ``mkswap``/``swapon`` exist, a swap file under
  ``/var/tmp`` that is switched off and deleted when the block ends, whatever happened in it;
* else nothing, with the reason, so that the lab says why it could not show the slowdown.

``/proc/meminfo`` is this machine's: with a remote engine (``DOCKER_HOST`` on another machine)
the answer is about the wrong host, and a swap file made here would not help it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mllab.containers.engine import client
from mllab.core.errors import InputError, MllabError
from mllab.core.outcome import Outcome
from mllab.experiments.resources.container_limits import MIB, PREFIX

MEMINFO = Path("/proc/meminfo")
#: where a temporary swap file goes (a disk-backed folder: /tmp may be a tmpfs, which cannot swap)
SWAP_FOLDER = Path("/var/tmp")
#: what ``swap=`` accepts: use the host's swap or make a file where allowed, or never
SWAP_MODES = ("auto", False)


class SwapFileFailed(MllabError):
    """A temporary swap file could not be made, switched on, or switched off."""


@dataclass(frozen=True)
class SwapSource:
    """The swap a container could page to here: ``outcome`` ran (``note`` says which and how
    large), or not run with the reason."""

    outcome: Outcome
    note: str = ""
    total_bytes: int = 0


def host_swap_bytes(meminfo: Path = MEMINFO) -> int:
    """``SwapTotal`` of this host in bytes (0: no swap, or no ``/proc/meminfo``)."""
    if not meminfo.exists():
        return 0
    for line in meminfo.read_text().splitlines():
        if line.startswith("SwapTotal:"):
            return int(line.split()[1]) * 1024  # the kernel counts kB
    return 0


def why_no_swap_file(euid: int | None = None) -> str | None:
    """Why this process cannot make a swap file (None: it can try)."""
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        return "making a swap file needs root (mkswap, swapon)"
    missing = [tool for tool in ("mkswap", "swapon", "swapoff") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found"
    return None


def engine_swap_limit() -> bool | None:
    """Whether the engine can limit a container's swap (``docker info``'s ``SwapLimit``; False
    means ``--memory-swap`` is ignored, with the warning "No swap limit support")."""
    value = client().info().get("SwapLimit")
    return None if value is None else bool(value)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        error = (done.stderr or done.stdout).strip()
        raise SwapFileFailed(f"`{' '.join(command)}` failed (exit {done.returncode}): {error}")


def _switch_on(path: Path, size_bytes: int) -> None:
    """Make ``path`` a swap file of ``size_bytes`` and switch it on."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # swapon wants 0600
        try:
            os.posix_fallocate(fd, 0, size_bytes)  # real blocks: swapon refuses a sparse file
        finally:
            os.close(fd)
    except OSError as error:
        raise SwapFileFailed(f"could not make the swap file {path}: {error}") from None
    _run(["mkswap", str(path)])
    _run(["swapon", str(path)])


@contextmanager
def swap_file(size_bytes: int, folder: Path = SWAP_FOLDER) -> Iterator[Path]:
    """A swap file of ``size_bytes`` in ``folder``, switched on for the block, then switched
    off and deleted. Raises :class:`SwapFileFailed` when it cannot be made or switched on (the
    file is deleted first), or when it cannot be switched off (the message says how)."""
    if size_bytes < 40 * 1024:
        raise InputError(f"a swap file needs at least 40 KiB, not {size_bytes} bytes")
    path = folder / f"{PREFIX}-swap-{os.getpid()}"
    try:
        _switch_on(path, size_bytes)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    try:
        yield path
    finally:
        try:  # the pages in it are read back first: a container using it should be gone
            _run(["swapoff", str(path)])
        except SwapFileFailed as error:
            raise SwapFileFailed(f"{error}; run `swapoff {path} && rm {path}` as root") from None
        path.unlink(missing_ok=True)


@contextmanager
def swap_for(room_bytes: int, mode: str | bool = "auto") -> Iterator[SwapSource]:
    """Swap with room for ``room_bytes`` of a container's memory (see the module): the
    host's, or a temporary file of ``room_bytes`` + 128 MiB (at least 256 MiB), or a not-run
    :class:`SwapSource` saying why. With ``mode=False`` nothing is looked for."""
    if mode not in SWAP_MODES:
        raise InputError(f"swap must be one of {SWAP_MODES}, not {mode!r}")
    if mode is False:
        yield SwapSource(Outcome.not_run("swap switched off (MEMORY_SWAP = False)"))
        return
    host = host_swap_bytes()
    if host:
        yield SwapSource(Outcome.ran(), f"the host's swap ({host / MIB:.0f} MiB)", host)
        return
    why = why_no_swap_file()
    if why is not None:
        yield SwapSource(Outcome.not_run(f"no swap on this host and {why}"))
        return
    size = max(256 * MIB, room_bytes + 128 * MIB)
    with contextlib.ExitStack() as stack:
        try:
            path = stack.enter_context(swap_file(size, SWAP_FOLDER))
        except SwapFileFailed as error:
            source = SwapSource(Outcome.not_run(f"no swap on this host, and {error}"))
        else:
            note = f"a temporary {size / MIB:.0f} MiB swap file ({path}), removed afterwards"
            source = SwapSource(Outcome.ran(), note, size)
        yield source
