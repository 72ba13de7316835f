"""Lab 03, section 1: namespaces, one at a time (claim C17).

The lecture ("Пространства имён"): each container gets its own PID, NET, MNT, UTS, IPC and USER
namespace, and its processes see only their own objects. :func:`namespace_views` shows it on
the real engine: a container of the slim image runs a sleeping Python process (never the
server), and for the default container and for each variant that removes one isolation
(``--pid=host``, ``--network host``, ``--ipc host``, ``--uts host``) it records

* each namespace's inode, read on the host side from ``/proc/<State.Pid>/ns/<ns>`` (this kit
  runs as root beside the engine), against the host's own (``/proc/1/ns``, or this process's
  ``/proc/self/ns`` where PID 1's cannot be read): shared or not;
* what a process sees inside against what it sees on the host, by one probe
  (:mod:`~mllab.experiments.architecture.namespace_probe`, the same code on both sides):
  PID 1 (its command and start time), the number of processes, the hostname, the network
  interfaces (``/proc/net/dev`` and their MAC addresses: the slim image has no iproute2) and
  the default route (``/proc/net/route``), the number of mounts, and whether a SysV
  shared-memory segment and a ``/dev/shm`` file made on the host are seen;
* USER: the uid of the container's PID 1 inside against the uid of the same process on the
  host (``/proc/<pid>/status``) and its ``uid_map``. The sleeper runs as root (``--user 0``;
  the image's own USER is 10001) so that the row answers what root inside is on the host.

Everything created here is named ``mllab-arch-ns-*`` and removed in ``finally``.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mllab.containers.build import build_slim
from mllab.containers.engine import client
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.core.tables import cut
from mllab.experiments.architecture.namespace_probe import (
    Sight,
    inode,
    is_host_init,
    own_eth0,
    probe_command,
    sight,
    status_field,
)

PREFIX = "mllab-arch-ns-"
NAMESPACES = ("pid", "net", "mnt", "uts", "ipc", "user", "cgroup")
#: each variant's ``docker run`` option and the docker SDK keywords that give it
VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    "--pid=host": {"pid_mode": "host"},
    "--network host": {"network_mode": "host"},
    "--ipc host": {"ipc_mode": "host"},
    "--uts host": {"uts_mode": "host"},
}
DEFAULT_VARIANTS = tuple(VARIANTS)
#: the container's one process: Python, asleep (the image's entrypoint is overridden)
SLEEPER = ["python", "-c", "import time; time.sleep(600)"]


@dataclass
class NamespaceLink:
    """One namespace of the container's process against the host's: inodes, shared or not
    (None where an inode could not be read)."""

    namespace: str
    container: int | None
    host: int | None
    shared: bool | None


@dataclass
class VariantView:
    """One container: its ``docker run`` option, the host PID of its process and that
    process's PID inside, its namespaces, what it sees, and USER: uid inside / uid of the same
    process on the host / its ``uid_map``. ``pid1_is_host_init``: the PID 1 it sees is the
    host's PID 1 (same command and start time); ``own_eth0``: it has an ``eth0`` whose MAC
    address no host interface has."""

    variant: str
    outcome: Outcome
    host_pid: int | None = None
    pid_inside: int | None = None
    namespaces: list[NamespaceLink] = field(default_factory=list)
    inside: Sight | None = None
    uid_inside: int | None = None
    uid_on_host: int | None = None
    uid_map: str | None = None
    pid1_is_host_init: bool | None = None
    own_eth0: bool | None = None


@dataclass
class NamespaceViews:
    """Lab 03's namespace record (claim C17): the host's view and one :class:`VariantView`
    per container. ``host_reference``: where the host's namespaces were read; ``user``: the
    USER mapping in words, computed from the default container; ``root_is_host_root``: uid 0
    inside is uid 0 on the host; ``rootless``: a rootless runtime's mapping (not run without
    one)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    image: str
    outcome: Outcome
    host_reference: str
    host: Sight | None
    variants: list[VariantView]
    user: str
    root_is_host_root: bool | None
    rootless: Outcome
    seconds: float


def user_sentence(view: VariantView | None) -> tuple[str, bool | None]:
    """The USER mapping in words, from a container's uids and ``uid_map``; and whether root
    inside is root on the host."""
    if view is None or view.uid_inside is None or view.uid_on_host is None:
        return "not measured: the default container's uids were not read", None
    mapping = " ".join((view.uid_map or "").split()) or "unknown"
    user = next((n for n in view.namespaces if n.namespace == "user"), None)
    shared = user is not None and user.shared
    root = view.uid_inside == 0 and view.uid_on_host == 0
    how = (
        "the container shares the host's USER namespace (no userns-remap on this engine)"
        if shared
        else "the container has its own USER namespace"
    )
    text = f"uid {view.uid_inside} inside is uid {view.uid_on_host} on the host: {how}"
    return f"{text}; uid_map '{mapping}'", root


# --- the host side ------------------------------------------------------------------------


def _host_ns_dir() -> str:
    """Where the host's namespaces are read: PID 1's, else this process's own."""
    try:
        os.readlink("/proc/1/ns/pid")
        return "/proc/1/ns"
    except OSError:
        return "/proc/self/ns"


def _links(folder: str) -> dict[str, int]:
    """The namespace inodes under ``folder`` (a ``/proc/<pid>/ns``); unreadable ones left out."""
    found: dict[str, int] = {}
    for name in NAMESPACES:
        try:
            found[name] = inode(os.readlink(f"{folder}/{name}"))
        except OSError:
            continue
    return found


class _Markers:
    """A SysV shared-memory segment and a ``/dev/shm`` file made on the host (IPC objects a
    container sees only in the host's IPC namespace); :meth:`remove` undoes both."""

    def __init__(self) -> None:
        self.key = secrets.randbelow(2**30) + 1
        self.file = f"/dev/shm/{PREFIX}{secrets.token_hex(4)}"
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._id = int(self._libc.shmget(self.key, 4096, 0o1000 | 0o600))  # IPC_CREAT
        if Path("/dev/shm").is_dir():
            Path(self.file).write_bytes(b"mllab")

    def remove(self) -> None:
        if self._id >= 0:
            self._libc.shmctl(self._id, 0, None)  # IPC_RMID
        Path(self.file).unlink(missing_ok=True)


def _probe_here(markers: _Markers) -> Sight:
    """The probe run on the host, by this machine's Python."""
    command = [sys.executable, *probe_command(1, markers.key, markers.file)[1:]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    return sight(json.loads(done.stdout))


def _name(variant: str) -> str:
    """The container's name: ``mllab-arch-ns-pid-host`` for ``--pid=host``."""
    return PREFIX + variant.strip("-").replace("=", "-").replace(" ", "-")


def _remove(sdk: Any, name: str) -> None:
    """Remove a container by name, quietly when there is none."""
    from docker.errors import DockerException  # deferred: the SDK is heavy at start-up

    try:
        sdk.containers.get(name).remove(force=True)
    except DockerException:
        pass


def _start(sdk: Any, image: str, variant: str, user: str) -> Any:
    """``docker run -d --user USER --entrypoint python <option> IMAGE -c sleep`` (a container
    of the same name, left by a run that was killed, is replaced)."""
    _remove(sdk, _name(variant))
    return sdk.containers.run(
        image,
        entrypoint=SLEEPER[:1],
        command=SLEEPER[1:],
        name=_name(variant),
        detach=True,
        user=user,
        **VARIANTS[variant],
    )


def _view(container: Any, variant: str, host: Sight, markers: _Markers) -> VariantView:
    """One started container measured: its namespaces from the host side, then the probe."""
    container.reload()
    pid = int(container.attrs["State"]["Pid"])
    if not pid or not Path(f"/proc/{pid}").exists():
        why = "its process is not visible here: this kit is not in the engine's PID namespace"
        return VariantView(variant, Outcome.not_run(why))
    theirs, ours = _links(f"/proc/{pid}/ns"), _links(_host_ns_dir())
    links = [
        NamespaceLink(n, theirs.get(n), ours.get(n), _shared(theirs.get(n), ours.get(n)))
        for n in NAMESPACES
        if n in theirs or n in ours
    ]
    status = Path(f"/proc/{pid}/status").read_text()
    nspid = status_field(status, "NSpid")
    inside_pid = nspid[-1] if nspid else pid
    result = container.exec_run(probe_command(inside_pid, markers.key, markers.file))
    if result.exit_code != 0:
        error = result.output.decode("utf-8", "replace")[-500:]
        return VariantView(variant, Outcome.failed(f"the probe exited {result.exit_code}: {error}"))
    raw = json.loads(result.output)
    inside = sight(raw)
    uids_inside = status_field(raw.get("status"), "Uid")
    uids_host = status_field(status, "Uid")
    return VariantView(
        variant,
        Outcome.ran(),
        host_pid=pid,
        pid_inside=inside_pid,
        namespaces=links,
        inside=inside,
        uid_inside=uids_inside[0] if uids_inside else None,
        uid_on_host=uids_host[0] if uids_host else None,
        uid_map=Path(f"/proc/{pid}/uid_map").read_text().strip(),
        pid1_is_host_init=is_host_init(inside, host),
        own_eth0=own_eth0(inside, host),
    )


def _shared(theirs: int | None, ours: int | None) -> bool | None:
    return None if theirs is None or ours is None else theirs == ours


def rootless_outcome() -> Outcome:
    """A rootless runtime's USER mapping: not measured by this kit (and said why)."""
    if shutil.which("podman") is None:
        return Outcome.not_run(
            "not measured: no rootless runtime installed (podman is not on PATH)"
        )
    return Outcome.not_run(
        "not measured: podman is on PATH, but a rootless run needs a non-root user and an "
        "image in that user's own storage, which this kit does not set up"
    )


def namespace_views(
    image: str | None = None,
    variants: tuple[str, ...] = DEFAULT_VARIANTS,
    user: str = "0",
) -> NamespaceViews:
    """Start one sleeping container per variant (``docker run`` options in :data:`VARIANTS`)
    of ``image`` (default: the slim server image), measure each against the host, and remove
    them all, whatever happens. ``user``: the sleeper's ``--user`` (root by default, see the
    module's docstring)."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise MllabError(f"unknown variants {unknown}: choose from {list(VARIANTS)}")
    from docker.errors import DockerException  # deferred: the SDK is heavy at start-up

    tag = image or build_slim()
    start = time.monotonic()  # the measurement's own time, not a build's
    sdk = client()
    markers = _Markers()
    containers: dict[str, Any] = {}
    refused: dict[str, Outcome] = {}
    views: list[VariantView] = []
    host: Sight | None = None
    outcome = Outcome.ran()
    try:
        host = _probe_here(markers)
        for variant in variants:  # all started first: their start-ups overlap
            try:
                containers[variant] = _start(sdk, tag, variant, user)
            except DockerException as error:  # this variant refused: the others still run
                refused[variant] = Outcome.failed(error)
        views = [
            _view(containers[v], v, host, markers)
            if v in containers
            else VariantView(v, refused[v])
            for v in variants
        ]
    except (MllabError, DockerException, subprocess.SubprocessError, OSError, ValueError) as error:
        outcome = Outcome.failed(error)
    finally:
        for variant in variants:  # by name: also a container created but never started
            _remove(sdk, _name(variant))
        markers.remove()
    default = next((v for v in views if v.variant == "default" and v.outcome.ok), None)
    text, root = user_sentence(default)
    return NamespaceViews(
        image=tag,
        outcome=outcome,
        host_reference=_host_ns_dir(),
        host=host,
        variants=views,
        user=text,
        root_is_host_root=root,
        rootless=rootless_outcome(),
        seconds=time.monotonic() - start,
    )


# --- the lab's tables ---------------------------------------------------------------------


def namespace_rows(views: NamespaceViews) -> list[dict[str, Any]]:
    """One row per namespace: shared with the host (yes/no) in each variant."""
    rows: list[dict[str, Any]] = []
    for name in NAMESPACES:
        row: dict[str, Any] = {"namespace": name}
        for view in views.variants:
            link = next((n for n in view.namespaces if n.namespace == name), None)
            row[view.variant] = link.shared if link else None
        if any(value is not None for key, value in row.items() if key != "namespace"):
            rows.append(row)
    return rows


#: characters of a cell in :func:`view_rows`: three variants side by side in a printed table
VIEW_CELL = 22


def _names(names: list[str]) -> str:
    """Interface names, or their count and the first ones when they would not fit a cell."""
    text = " ".join(names)
    return text if len(text) <= VIEW_CELL else cut(f"{len(names)}: {text}", VIEW_CELL)


def view_rows(views: NamespaceViews) -> list[dict[str, Any]]:
    """What is seen, one row per thing: on the host and inside each variant's container (a
    long command line or interface list is cut: the whole is in the record)."""
    seen: list[tuple[str, Any]] = [
        ("PID 1", lambda s: cut(s.pid1_command, VIEW_CELL)),
        ("processes", lambda s: s.processes),
        ("hostname", lambda s: s.hostname),
        ("interfaces", lambda s: _names(s.interfaces)),
        ("default route", lambda s: s.default_route),
        ("mounts", lambda s: s.mounts),
        ("host's SysV shm seen", lambda s: s.sysv_shm_seen),
        ("host's /dev/shm file seen", lambda s: s.posix_shm_seen),
    ]
    rows: list[dict[str, Any]] = []
    for label, get in seen:
        row: dict[str, Any] = {"seen": label, "host": get(views.host) if views.host else None}
        for view in views.variants:
            row[view.variant] = get(view.inside) if view.inside else str(view.outcome)
        rows.append(row)
    uid: dict[str, Any] = {"seen": "uid inside → on the host", "host": None}
    for view in views.variants:
        known = view.uid_inside is not None
        uid[view.variant] = f"{view.uid_inside} → {view.uid_on_host}" if known else None
    rows.append(uid)
    return rows
