"""What a process sees, read the same way inside a container and on the host (lab 03's
namespaces, :mod:`mllab.experiments.architecture.namespaces`).

:func:`probe` runs on both sides: sent as source into the container (``python -c``, standard
library only, so it runs in any image with a Python, not only in one that holds this kit) and
run here by this machine's Python. It returns raw texts (``/proc/net/dev``, ``/proc/net/route``,
``/proc/<pid>/status``, ...); the pure functions below parse them into a :class:`Sight`.
"""

from __future__ import annotations

import inspect
import socket
import textwrap
from dataclasses import dataclass
from typing import Any


@dataclass
class Sight:
    """What one process sees: PID 1 (its command line and start time in clock ticks after
    boot: the two tell one process from another), how many processes, the hostname, the
    network interfaces and their MAC addresses (same order), the default route ("eth0 via
    172.17.0.1"), the number of mounts, and whether the host's SysV shared-memory segment and
    ``/dev/shm`` file are visible."""

    pid1_command: str
    pid1_started: int | None
    processes: int
    hostname: str
    interfaces: list[str]
    addresses: list[str]
    default_route: str | None
    mounts: int
    sysv_shm_seen: bool
    posix_shm_seen: bool


# --- the probe: the same code inside the container and on the host -------------------------


def probe(pid: int, shm_key: int, shm_file: str) -> dict[str, Any]:
    """What this process sees (raw texts; parsed by the caller), standard library only: it
    runs in any image with a Python, sent as source (:func:`probe_command`). ``pid``: the
    process whose ``status`` and ``uid_map`` are read."""
    import os
    import socket

    def read(path: str) -> str | None:
        try:
            with open(path, "rb") as handle:
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return None

    net = "/sys/class/net"
    names = sorted(os.listdir(net)) if os.path.isdir(net) else []
    return {
        "pid1_cmdline": read("/proc/1/cmdline"),
        "pid1_stat": read("/proc/1/stat"),
        "processes": sum(1 for entry in os.listdir("/proc") if entry.isdigit()),
        "hostname": socket.gethostname(),
        "net_dev": read("/proc/net/dev"),
        "addresses": {n: (read(f"{net}/{n}/address") or "").strip() for n in names},
        "route": read("/proc/net/route"),
        "mounts": len((read("/proc/self/mounts") or "").splitlines()),
        "sysvipc_shm": read("/proc/sysvipc/shm"),
        "shm_file": os.path.exists(shm_file),
        "status": read(f"/proc/{pid}/status"),
        "uid_map": read(f"/proc/{pid}/uid_map"),
        "shm_key": shm_key,
    }


def probe_command(pid: int, shm_key: int, shm_file: str) -> list[str]:
    """``python -c <probe's source> ...``: the probe as one command, printing JSON."""
    source = textwrap.dedent(inspect.getsource(probe)).replace(" -> dict[str, Any]", "")
    call = f"import json\nprint(json.dumps(probe({pid}, {shm_key}, {shm_file!r})))\n"
    return ["python", "-c", source + call]


# --- parsing (pure) -----------------------------------------------------------------------


def interfaces(net_dev: str | None) -> list[str]:
    """Interface names from ``/proc/net/dev`` (two header lines, then ``name: counters``)."""
    lines = (net_dev or "").splitlines()[2:]
    return [line.split(":", 1)[0].strip() for line in lines if ":" in line]


def ipv4(little_endian_hex: str) -> str:
    """An address as ``/proc/net/route`` writes it (``010011AC``) in dots (``172.17.0.1``)."""
    return socket.inet_ntoa(int(little_endian_hex, 16).to_bytes(4, "little"))


def default_route(route: str | None) -> str | None:
    """The default route from ``/proc/net/route`` ("eth0 via 172.17.0.1"), None without one."""
    for line in (route or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "00000000":
            return f"{parts[0]} via {ipv4(parts[2])}"
    return None


def status_field(status: str | None, name: str) -> list[int]:
    """A numeric line of ``/proc/<pid>/status`` (``Uid``, ``NSpid``) as integers."""
    for line in (status or "").splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return [int(v) for v in value.split()]
    return []


def started(stat: str | None) -> int | None:
    """A process's start time (clock ticks after boot; field 22 of ``/proc/<pid>/stat``)."""
    if not stat or ")" not in stat:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # the fields after the command: 3, 4, ...


def sysv_keys(table: str | None) -> set[int]:
    """The keys of the SysV shared-memory segments in ``/proc/sysvipc/shm``."""
    lines = (table or "").splitlines()[1:]
    return {int(line.split()[0]) for line in lines if line.split()}


def inode(link: str) -> int:
    """``pid:[4026532180]`` → 4026532180."""
    return int(link.rsplit("[", 1)[1].rstrip("]"))


def sight(raw: dict[str, Any]) -> Sight:
    """A probe's raw texts as a :class:`Sight`."""
    addresses: dict[str, str] = raw.get("addresses") or {}
    names = interfaces(raw.get("net_dev"))
    return Sight(
        pid1_command=(raw.get("pid1_cmdline") or "").replace("\0", " ").strip(),
        pid1_started=started(raw.get("pid1_stat")),
        processes=int(raw["processes"]),
        hostname=str(raw["hostname"]),
        interfaces=names,
        addresses=[addresses.get(name, "") for name in names],
        default_route=default_route(raw.get("route")),
        mounts=int(raw["mounts"]),
        sysv_shm_seen=int(raw["shm_key"]) in sysv_keys(raw.get("sysvipc_shm")),
        posix_shm_seen=bool(raw.get("shm_file")),
    )


def own_eth0(inside: Sight, host: Sight) -> bool:
    """The container has an ``eth0`` whose MAC address no host interface has (a name alone
    proves nothing: the host may have an ``eth0`` of its own)."""
    if "eth0" not in inside.interfaces:
        return False
    mac = inside.addresses[inside.interfaces.index("eth0")]
    return bool(mac) and mac not in host.addresses


def is_host_init(inside: Sight, host: Sight) -> bool:
    """The PID 1 a container sees is the host's PID 1: the same command, started at the same
    tick."""
    same_start = inside.pid1_started is not None and inside.pid1_started == host.pid1_started
    return same_start and inside.pid1_command == host.pid1_command
