"""Lab 03, section 2: capabilities, which the lecture names beside namespaces.

Root in a container is root with fewer powers: the kernel splits root's privileges into
capabilities, and Docker gives a container a short list of them. :func:`capability_sets`
measures, from inside (``/proc/1/status``, decoded by :data:`CAP_NAMES`):

* the effective and bounding sets of PID 1 for root in the default container, with
  ``--cap-drop ALL`` and with ``--privileged``, and for the image's own USER by default;
* what each can do: chown a file to another user (CAP_CHOWN), mount a tmpfs (CAP_SYS_ADMIN and
  a seccomp profile that lets ``mount`` through), write to ``/sys``, and how many entries
  ``/dev`` has (``--privileged`` passes the host's devices);
* whether the server itself still starts and answers ``/ready`` with ``--cap-drop ALL`` (the
  slim image as it is, its own entrypoint), against a prediction made from the image's USER.

``--privileged`` asks the runtime for every capability; where the engine itself lacks one
(a host whose own bounding set is short, as in some VMs) the container cannot start: the
failure is recorded with the capabilities the host lacks, and a labelled stand-in runs
``--cap-add ALL`` less those (capabilities only: no devices, ``/sys`` read-only).

Everything is named ``mllab-arch-ns-caps-*`` and removed, also when a step fails.
"""

from __future__ import annotations

import inspect
import json
import re
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mllab.containers.build import build_slim
from mllab.containers.docker_cli import ContainerFailed, DockerCliError, docker
from mllab.containers.layers import inspect as inspect_image
from mllab.containers.run import run
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome, error_names

PREFIX = "mllab-arch-ns-caps-"
#: Linux capability names by bit (linux/capability.h), CAP_CHOWN = 0 … CAP_CHECKPOINT_RESTORE = 40
CAP_NAMES = (
    *("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID"),
    *("CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE"),
    *("CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW"),
    *("CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT"),
    *("CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE"),
    *("CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE"),
    *("CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE"),
    *("CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ"),
    *("CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"),
)
#: the settings measured as root: their ``docker run`` options
SETTINGS: dict[str, list[str]] = {
    "default": [],
    "--cap-drop ALL": ["--cap-drop", "ALL"],
    "--privileged": ["--privileged"],
}


@dataclass
class CapabilitySet:
    """One container's PID 1: its effective and bounding sets (names and the hex masks) and
    what it could do. ``stand_in``: why this row stands in for another setting (else None)."""

    setting: str
    options: list[str]
    user: str
    outcome: Outcome
    stand_in: str | None = None
    effective: list[str] = field(default_factory=list)
    bounding: list[str] = field(default_factory=list)
    effective_hex: str | None = None
    bounding_hex: str | None = None
    dev_entries: int | None = None
    chown_ok: bool | None = None
    mount_ok: bool | None = None
    mount_error: str | None = None
    sys_writable: bool | None = None


@dataclass
class ServerWithoutCaps:
    """The server (the image as it is) with ``--cap-drop ALL``: whether it answered
    ``/ready`` (``outcome`` failed when it did not), in how many seconds, its uid and its sets
    as read inside; the prediction made before, from the image's USER, and its basis."""

    options: list[str]
    outcome: Outcome
    ready: bool | None = None
    seconds: float | None = None
    uid: int | None = None
    effective: list[str] = field(default_factory=list)
    bounding: list[str] = field(default_factory=list)
    predicted_ready: bool | None = None
    prediction: str = ""


@dataclass
class Capabilities:
    """Lab 03's capability record: the host's own bounding set and what it lacks (why a
    ``--privileged`` container may not start), one :class:`CapabilitySet` per setting, the
    server without capabilities."""

    SCHEMA_VERSION: ClassVar[int] = 1

    image: str
    outcome: Outcome
    host_bounding: list[str]
    host_lacks: list[str]
    sets: list[CapabilitySet]
    server: ServerWithoutCaps
    seconds: float


# --- decoding (pure) ----------------------------------------------------------------------


def decode(mask: str | int) -> list[str]:
    """A capability mask (``00000000a80425fb`` as ``/proc/<pid>/status`` writes it) as names;
    a bit past :data:`CAP_NAMES` reads ``CAP_<bit>``."""
    value = int(mask, 16) if isinstance(mask, str) else mask
    bits = [bit for bit in range(value.bit_length()) if value >> bit & 1]
    return [CAP_NAMES[bit] if bit < len(CAP_NAMES) else f"CAP_{bit}" for bit in bits]


def cap_masks(status: str) -> dict[str, str]:
    """The ``Cap*`` lines of a ``/proc/<pid>/status`` text: ``{"CapEff": "00000000a80425fb"}``."""
    found: dict[str, str] = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Cap"):
            found[key] = value.strip()
    return found


def host_sets(status: str, last_cap: int) -> tuple[list[str], list[str]]:
    """This host's bounding set and the known capabilities (bits 0…``last_cap``) it lacks."""
    bounding = decode(cap_masks(status).get("CapBnd", "0"))
    known = [decode(1 << bit)[0] for bit in range(last_cap + 1)]
    return bounding, [name for name in known if name not in bounding]


def short(names: list[str]) -> str:
    """Names without the ``CAP_`` prefix, for a table cell."""
    return " ".join(name.removeprefix("CAP_") for name in names) or "(none)"


def predict(user_set: CapabilitySet | None, user: str) -> tuple[bool | None, str]:
    """Will the server start without any capability? From the image's USER's effective set in
    the default container (measured): an empty set means it uses none."""
    if user_set is None or not user_set.outcome.ok:
        return None, "no prediction: the image's USER was not measured"
    if not user_set.effective:
        return True, (
            f"starts: the image's USER {user} has an empty effective set already by default "
            "(measured), so dropping the bounding set takes nothing it uses"
        )
    used = short(user_set.effective)
    return False, f"may fail: the image's USER {user} holds {used} by default"


# --- the probe (inside the container) -----------------------------------------------------


def probe() -> dict[str, Any]:
    """What PID 1 holds and can do (standard library only; sent as source, run as PID 1)."""
    import ctypes
    import os

    with open("/proc/1/status") as handle:
        status = handle.read()
    chown_ok = True
    try:
        with open("/tmp/mllab-caps", "w"):
            pass
        os.chown("/tmp/mllab-caps", 1, 1)
    except OSError:
        chown_ok = False
    libc = ctypes.CDLL(None, use_errno=True)
    mounted = libc.mount(b"tmpfs", b"/mnt", b"tmpfs", 0, None) == 0
    return {
        "uid": os.getuid(),
        "status": status,
        "dev_entries": len(os.listdir("/dev")),
        "chown_ok": chown_ok,
        "mount_ok": mounted,
        "mount_error": None if mounted else os.strerror(ctypes.get_errno()),
        "sys_writable": os.access("/sys", os.W_OK),
    }


def probe_source() -> str:
    """The probe as a ``python -c`` program that prints JSON."""
    source = textwrap.dedent(inspect.getsource(probe)).replace(" -> dict[str, Any]", "")
    return source + "import json\nprint(json.dumps(probe()))\n"


def measure(image: str, setting: str, options: list[str], user: str) -> CapabilitySet:
    """``docker run --rm --user USER OPTIONS --entrypoint python IMAGE -c <probe>``, read."""
    name = PREFIX + re.sub(r"[^a-z0-9]+", "-", setting.lower()).strip("-")
    command = ["run", "--rm", "--name", name, "--user", user, *options, "--entrypoint", "python"]
    result = CapabilitySet(setting, options, user, Outcome.ran())
    try:
        done = docker([*command, image, "-c", probe_source()], timeout=60.0)
        raw = json.loads(done.stdout)
    except DockerCliError as error:
        result.outcome = _refused(error)
        return result
    except ValueError as error:  # the probe printed no JSON
        result.outcome = Outcome.failed(error)
        return result
    finally:
        docker(["rm", "-f", name], timeout=30.0, check=False)
    masks = cap_masks(raw["status"])
    result.effective_hex, result.bounding_hex = masks.get("CapEff"), masks.get("CapBnd")
    result.effective = decode(result.effective_hex or "0")
    result.bounding = decode(result.bounding_hex or "0")
    result.dev_entries = int(raw["dev_entries"])
    result.chown_ok = bool(raw["chown_ok"])
    result.mount_ok, result.mount_error = bool(raw["mount_ok"]), raw.get("mount_error")
    result.sys_writable = bool(raw["sys_writable"])
    return result


def _refused(error: DockerCliError) -> Outcome:
    """A failed ``docker run``: the engine's own words (its first line on stderr)."""
    lines = [line.strip() for line in error.stderr.splitlines() if line.strip()]
    said = lines[0].removeprefix("docker: ") if lines else str(error)
    return Outcome("failed", said, error_names(error))


def server_without_caps(image: str, timeout: float = 60.0) -> ServerWithoutCaps:
    """The server with ``--cap-drop ALL``: ready or not, and its sets read inside."""
    options = ["--cap-drop", "ALL"]
    server = ServerWithoutCaps(options, Outcome.ran())
    start = time.monotonic()
    try:
        with run(image, name=PREFIX + "server", cap_drop=["ALL"], timeout=timeout) as container:
            server.ready, server.seconds = True, time.monotonic() - start
            _, status = container.exec(["cat", "/proc/1/status"])
    except ContainerFailed as error:
        server.outcome, server.ready = Outcome.failed(error), False
        return server
    finally:  # run() removes what it started; this also removes one created but not started
        docker(["rm", "-f", PREFIX + "server"], timeout=30.0, check=False)
    masks = cap_masks(status)
    server.effective = decode(masks.get("CapEff", "0"))
    server.bounding = decode(masks.get("CapBnd", "0"))
    uids = [line.split()[1] for line in status.splitlines() if line.startswith("Uid:")]
    server.uid = int(uids[0]) if uids else None
    return server


def _host() -> tuple[list[str], list[str]]:
    """This machine's own bounding set, and the known capabilities it lacks."""
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    return host_sets(Path("/proc/self/status").read_text(), last)


def capability_sets(image: str | None = None, server_timeout: float = 60.0) -> Capabilities:
    """Each setting's sets and reach (as root; the image's USER by default), the
    ``--privileged`` stand-in where it cannot start, and the server with ``--cap-drop ALL``."""
    tag = image or build_slim()
    start = time.monotonic()  # the measurement's own time, not a build's
    bounding, lacks = _host()
    image_user = inspect_image(tag).user or "0"
    sets: list[CapabilitySet] = []
    outcome = Outcome.ran()
    server = ServerWithoutCaps(["--cap-drop", "ALL"], Outcome.not_run("an earlier step failed"))
    try:
        sets = [measure(tag, name, options, "0") for name, options in SETTINGS.items()]
        privileged = sets[-1]
        if not privileged.outcome.ok and lacks:
            drop = [arg for name in lacks for arg in ("--cap-drop", name.removeprefix("CAP_"))]
            stand_in = measure(tag, "--cap-add ALL", ["--cap-add", "ALL", *drop], "0")
            stand_in.stand_in = (
                f"stands in for --privileged, which failed: this host's own bounding set "
                f"lacks {short(lacks)}; capabilities only (no devices, /sys stays read-only)"
            )
            sets.append(stand_in)
        own = measure(tag, f"default, USER {image_user}", [], image_user)
        sets.append(own)
        predicted, why = predict(own, image_user)
        server = server_without_caps(tag, server_timeout)
        server.predicted_ready, server.prediction = predicted, why
    except MllabError as error:
        outcome = Outcome.failed(error)
    return Capabilities(tag, outcome, bounding, lacks, sets, server, time.monotonic() - start)


# --- the lab's tables ---------------------------------------------------------------------


def capability_rows(caps: Capabilities) -> list[dict[str, Any]]:
    """One row per setting: its sets (counts and names) and what PID 1 could do."""
    rows: list[dict[str, Any]] = []
    for s in caps.sets:
        measured = s.outcome.ok
        rows.append(
            {
                "setting": s.setting + (" (stand-in)" if s.stand_in else ""),
                "user": s.user,
                "outcome": s.outcome,
                "effective": len(s.effective) if measured else None,
                "bounding": len(s.bounding) if measured else None,
                "/dev entries": s.dev_entries,
                "chown": s.chown_ok,
                "mount tmpfs": s.mount_ok,
                "/sys writable": s.sys_writable,
                "effective set": short(s.effective) if measured else None,
            }
        )
    return rows


def server_rows(caps: Capabilities) -> list[dict[str, Any]]:
    """The server with ``--cap-drop ALL``: predicted, measured, its sets."""
    server = caps.server
    return [
        {
            "server": " ".join(server.options),
            "predicted ready": server.predicted_ready,
            "answered /ready": server.ready,
            "seconds": server.seconds,
            "uid": server.uid,
            "effective": short(server.effective) if server.ready else str(server.outcome),
            "bounding": short(server.bounding) if server.ready else None,
        }
    ]
