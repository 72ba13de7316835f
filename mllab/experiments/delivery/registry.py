"""A real Docker registry on 127.0.0.1 that the kit starts and stops, and what it holds.

The lecture's "Docker Registry и хранение артефактов": every build ends with a push to a
registry. The kit runs Debian's ``docker-registry`` (the CNCF distribution registry 2.8,
installed by ``docker/engine/ensure-engine`` when root) with a generated config: filesystem
storage under ``artifacts/registry/data`` (git-ignored), HTTP on ``127.0.0.1:PORT`` only,
deletes enabled, no authentication. Docker treats 127.0.0.0/8 as an insecure registry, so
``docker push 127.0.0.1:5000/...`` works over plain HTTP without touching the engine's config.

Beside the data, the storage folder keeps ``config.yml``, ``registry.pid`` (what
:func:`registry_down` stops), ``state.json`` (the port) and ``registry.log``. What the registry
holds (tags, manifests, digests) is read through its HTTP API by
:mod:`mllab.experiments.delivery.registry_api`.

A user online may name any registry with ``REGISTRY=host:port``: the kit then only talks to it
(push, pull, ``ls``) and never starts or stops it. Its HTTP API is reached over https (over
http for 127.0.0.1 and localhost) without credentials; a registry that needs a login is refused
by ``ls`` with a clear message (``docker login`` covers push and pull).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx

from mllab.core.errors import MllabError
from mllab.core.paths import ARTIFACTS, exclusive
from mllab.core.poll import until
from mllab.serve.process import NotReady, ServerExited, port_open, wait_until_ready

#: the registry's port when none is named (the registry's own default)
DEFAULT_PORT = 5000
#: the binary Debian's ``docker-registry`` package installs
BINARY = "docker-registry"
INSTALL_HINT = (
    "install it with `sudo apt-get install docker-registry` (Debian/Ubuntu; as root "
    "`docker/engine/ensure-engine` does it), or point the kit at a registry you run with "
    "REGISTRY=host:port"
)

Answer = Literal["registry", "auth", "other", "nothing"]
#: seconds a killed registry process may take to be gone (a stuck one is reported, not awaited)
KILL_TIMEOUT = 10.0


def default_storage() -> Path:
    """The kit's registry folder: ``artifacts/registry`` (read at call time: tests move it)."""
    return ARTIFACTS / "registry"


def external_registry() -> str | None:
    """The registry the user named with ``REGISTRY=host:port``, or None."""
    value = os.environ.get("REGISTRY", "").strip()
    return value.removeprefix("https://").removeprefix("http://").rstrip("/") or None


def base_url(address: str) -> str:
    """The HTTP API root of a registry at ``host:port``: http on the loopback, else https."""
    host = address.rsplit(":", 1)[0] if ":" in address else address
    local = host in ("localhost", "::1", "[::1]") or host.startswith("127.")
    return f"{'http' if local else 'https'}://{address}"


def registry_address(port: int | None = None, storage: str | Path | None = None) -> str:
    """The registry the kit talks to: ``REGISTRY`` when set; else 127.0.0.1 on ``port``, on
    the port of the kit's running registry, or on :data:`DEFAULT_PORT`."""
    if external := external_registry():
        return external
    if port is None:
        running = _read_state(Path(storage) if storage else default_storage())
        port = running["port"] if running and _alive(running["pid"]) else DEFAULT_PORT
    return f"127.0.0.1:{port}"


def probe(address: str, timeout: float = 2.0) -> Answer:
    """What answers at ``address``: a registry (``GET /v2/`` → 200 and the distribution API
    header), a registry that wants a login (401), something else, or nothing."""
    try:
        response = httpx.get(f"{base_url(address)}/v2/", timeout=timeout)
    except httpx.HTTPError:
        host, _, port = address.rpartition(":")
        return (
            "other" if port.isdigit() and port_open(int(port), host or "127.0.0.1") else "nothing"
        )
    if not response.headers.get("docker-distribution-api-version", "").startswith("registry/2"):
        return "other"
    return "registry" if response.status_code == 200 else "auth"


# --- the process ---------------------------------------------------------------------------


@dataclass
class RegistryState:
    """A registry the kit uses: where it answers and whether the kit runs (and started) it.

    ``managed``: the kit's own process (``pid``), which :func:`registry_down` stops;
    ``started``: this call started it (so a ``with registry_running()`` stops it again);
    ``external``: named by ``REGISTRY`` (never started or stopped by the kit)."""

    address: str
    port: int | None
    started: bool
    managed: bool
    external: bool = False
    pid: int | None = None
    storage: str | None = None
    config: str | None = None
    log: str | None = None
    version: str | None = None
    seconds: float = 0.0  # to start and answer (0 when it was already there)

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def url(self) -> str:
        return base_url(self.address)


def registry_config(port: int, data: Path) -> str:
    """The registry's config: filesystem storage at ``data``, HTTP on 127.0.0.1:``port`` only,
    deletes enabled (so that ``docker`` tags can be deleted by digest), no auth. Paths are
    written as JSON strings, which YAML reads as they are."""
    return (
        "version: 0.1\n"
        "log:\n  level: info\n  fields:\n    service: mllab-registry\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {json.dumps(str(data))}\n"
        "  delete:\n    enabled: true\n"
        "  cache:\n    blobdescriptor: inmemory\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        "  headers:\n    X-Content-Type-Options: [nosniff]\n"
    )


def _read_state(storage: Path) -> dict[str, Any] | None:
    path = storage / "state.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    """True when ``pid`` runs docker-registry (reaping it first if it is our exited child)."""
    if not pid:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # a child of ours that exited would stay a zombie
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z" and BINARY.encode() in command


def registry_version(binary: str = BINARY) -> str | None:
    """``docker-registry --version`` (e.g. ``github.com/docker/distribution 2.8.2+ds1``)."""
    path = shutil.which(binary)
    if path is None:
        return None
    done = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    words = done.stdout.split(maxsplit=1)  # "<path> github.com/docker/distribution 2.8.2+ds1"
    return words[1].strip() if len(words) == 2 else None


def registry_up(
    port: int = DEFAULT_PORT,
    storage: str | Path | None = None,
    timeout: float = 20.0,
    binary: str = BINARY,
) -> RegistryState:
    """Start the kit's registry on 127.0.0.1:``port`` unless one already answers there.

    Returns how it stands (``started`` says whether this call started it). Raises
    :class:`MllabError` with what to do when ``REGISTRY`` names a registry that does not
    answer, when the port is taken by something that is not a registry (or by a registry that
    wants a login), or when the binary is missing."""
    if external := external_registry():
        return _external_state(external)
    storage = Path(storage) if storage else default_storage()
    with exclusive(storage / ".up.lock"):  # a lab and a pipeline starting it at once: one wins
        return _up(port, storage, timeout, binary)


def _up(port: int, storage: Path, timeout: float, binary: str) -> RegistryState:
    address = f"127.0.0.1:{port}"
    state = _read_state(storage)
    if state and _alive(state.get("pid")):
        if state["port"] != port:
            raise MllabError(
                f"the kit's registry already runs on port {state['port']} with storage "
                f"{storage}: use it, or stop it first with `mllab registry down`"
            )
        try:  # ours, maybe still starting
            wait_until_ready(f"http://{address}/v2/", timeout=timeout)
        except NotReady:
            raise MllabError(
                f"the kit's registry (pid {state['pid']}) runs but does not answer on {address}: "
                f"see {storage / 'registry.log'}, then `mllab registry down` and up again"
            ) from None
        return _state_of(storage, state, started=False)
    _forget(storage)  # a state left by a registry that is gone
    answer = probe(address)
    if answer == "registry":  # someone else's registry: use it, never stop it
        return RegistryState(address, port, started=False, managed=False)
    if answer != "nothing":
        raise MllabError(_taken_message(port, answer))
    path = shutil.which(binary)
    if path is None:
        raise MllabError(f"the registry binary `{binary}` is not installed: {INSTALL_HINT}")
    return _start(path, port, storage, timeout)


def _taken_message(port: int, answer: Answer) -> str:
    what = (
        "a registry that asks for a login (Debian's docker-registry service with its htpasswd "
        "config? stop it with `sudo systemctl stop docker-registry`)"
        if answer == "auth"
        else "something that is not a Docker registry"
    )
    return f"port {port} on 127.0.0.1 is taken by {what}: choose another port (--port {port + 1})"


def _start(path: str, port: int, storage: Path, timeout: float) -> RegistryState:
    """Write the config, start ``docker-registry serve`` in its own session (it outlives the
    ``mllab registry up`` process) and wait until ``/v2/`` answers."""
    data = storage / "data"
    data.mkdir(parents=True, exist_ok=True)
    config, log = storage / "config.yml", storage / "registry.log"
    config.write_text(registry_config(port, data))
    start = time.perf_counter()
    with log.open("ab") as out:
        # its own session: Ctrl-C in a notebook or the end of `mllab registry up` leave it up
        process = subprocess.Popen(
            [path, "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    state = {"pid": process.pid, "port": port, "address": f"127.0.0.1:{port}"}
    (storage / "registry.pid").write_text(f"{process.pid}\n")
    (storage / "state.json").write_text(json.dumps(state))
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/v2/", timeout=timeout, process=process)
    except (NotReady, ServerExited) as error:
        registry_down(storage)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-10:])
        raise MllabError(
            f"docker-registry did not start on port {port} ({error}):\n{tail}"
        ) from None
    return _state_of(storage, state, started=True, seconds=time.perf_counter() - start)


def _state_of(
    storage: Path, state: dict[str, Any], started: bool, seconds: float = 0.0
) -> RegistryState:
    return RegistryState(
        state["address"],
        state["port"],
        started,
        managed=True,
        pid=state["pid"],
        storage=str(storage),
        config=str(storage / "config.yml"),
        log=str(storage / "registry.log"),
        version=registry_version(),
        seconds=round(seconds, 2),
    )


def _external_state(address: str) -> RegistryState:
    answer = probe(address, timeout=5.0)
    if answer in ("nothing", "other"):
        raise MllabError(
            f"REGISTRY={address} does not answer as a registry ({answer} at "
            f"{base_url(address)}/v2/): start it, or unset REGISTRY to let the kit run its own. "
            "The kit never starts or stops a registry you name."
        )
    return RegistryState(address, None, started=False, managed=False, external=True)


def _forget(storage: Path) -> None:
    for name in ("registry.pid", "state.json"):
        (storage / name).unlink(missing_ok=True)


def registry_down(storage: str | Path | None = None, timeout: float = 10.0) -> bool:
    """Stop the kit's registry (the pid in ``storage``); True when one was running. The data
    stay (``ls`` after the next ``up`` shows them); a registry the kit did not start is never
    touched."""
    storage = Path(storage) if storage else default_storage()
    state = _read_state(storage)
    pid = state.get("pid") if state else None
    if not _alive(pid):
        _forget(storage)
        return False
    assert pid is not None  # _alive(None) is False
    os.kill(pid, signal.SIGTERM)
    if not until(lambda: not _alive(pid), timeout=timeout, interval=0.1, default=False):
        os.kill(pid, signal.SIGKILL)  # it did not stop in time: SIGKILL cannot be refused
        until(
            lambda: not _alive(pid),
            timeout=KILL_TIMEOUT,
            interval=0.05,
            what=f"docker-registry (pid {pid}) to exit after SIGKILL",
        )
    _forget(storage)
    return True


@contextlib.contextmanager
def registry_running(
    port: int = DEFAULT_PORT, storage: str | Path | None = None
) -> Iterator[RegistryState]:
    """A registry for the ``with`` block: the one that answers, or the kit's, started here and
    stopped on exit (also when the block fails) only if it was started here."""
    state = registry_up(port, storage)
    try:
        yield state
    finally:
        if state.started:
            registry_down(state.storage)
