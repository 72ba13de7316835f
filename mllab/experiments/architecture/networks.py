"""Lab 03, section 4: Docker's networks, seen from the inference server (claim C20).

The lecture ("Сеть и взаимодействие контейнеров"): bridge (NAT through ``docker0``), host
("максимальная производительность", no isolation), none, and user-defined networks with DNS by
container name. :func:`network_modes` times the slim server's batch-1 ``POST /predict`` (the
kit's ``.npy`` body, on a kept-alive connection) and ``GET /health`` (the path with no model
behind it) from the host, in rounds that take the modes request by request in turn, through
three paths:

* ``bridge``: ``-p 127.0.0.1:PORT:8080``; ``docker-proxy`` (the engine's userland proxy) or NAT
  forwards the published port;
* ``host``: a second server with ``--network host`` on a free port of 127.0.0.1 (the server
  reads ``PORT`` and ``HOST`` from its environment): no bridge, no NAT;
* ``user-defined``: the bridge server's own process, also connected to ``docker network
  create``: the host reaches its address on that network directly, through its Linux bridge.

Per mode: p50, p99 and the round-to-round spread of p50 (max − min). Beside them, facts: the
interfaces a host-mode container sees against the host's, who forwards the published port, DNS
by name on the user-defined network (the control: the default bridge has none), and a
``--network none`` container: its interfaces, the server out of reach, and a batch job that
still runs the model offline on an input file mounted into it.

Everything created is named ``mllab-arch-net-*`` and removed in ``finally``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np
import numpy.typing as npt

from mllab.containers.build import build_slim
from mllab.containers.docker_cli import ContainerFailed, DockerCliError, docker
from mllab.containers.engine import client
from mllab.containers.kinds import SERVER_PORT
from mllab.containers.run import RunningContainer, start
from mllab.core.errors import InputError
from mllab.core.outcome import Outcome
from mllab.measure.load import LoadRequest
from mllab.measure.stats import Stats, interleaved, summarize
from mllab.serve.client import predict_tensor
from mllab.serve.process import NotReady, ServerExited, free_port, wait_until_ready
from mllab.serve.requests import load_request

PREFIX = "mllab-arch-net-"
SERVER = PREFIX + "server"  # on the default bridge (published) and on NETWORK
HOST_SERVER = PREFIX + "host"
NETWORK = PREFIX + "user"
MODES = ("bridge", "host", "user-defined")
#: seconds a request, a readiness wait and a one-off container may take
TIMEOUT = 60.0

#: run inside the slim image (python as the entrypoint): the interfaces; a name resolved, asked
INTERFACES = "import json, socket; print(json.dumps([n for _, n in socket.if_nameindex()]))"
RESOLVE = """
import json, socket, sys, urllib.request
name, port, out = sys.argv[1], sys.argv[2], {}
try:
    out["address"] = socket.gethostbyname(name)
    out["health"] = urllib.request.urlopen(f"http://{name}:{port}/health", timeout=5).status
except OSError as error:
    out["error"] = f"{type(error).__name__}: {error}"
print(json.dumps(out))
"""
#: a batch job in a --network none container: its interfaces, the server, the model offline
OFFLINE = """
import json, os, socket, sys
import numpy as np
from mllab.runtime.sessions import create_session
out = {"interfaces": [n for _, n in socket.if_nameindex()]}
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
    out["reach"] = "connected"
except OSError as error:
    out["reach"] = f"{type(error).__name__}: {error}"
session = create_session(os.environ["MODEL_PATH"], device="cpu")
y = session.run(None, {session.get_inputs()[0].name: np.load("/in/x.npy")})[0]
out["logits"] = y.ravel().tolist()
print(json.dumps(out))
"""


@dataclass
class Latency:
    """Per-request times of one path, pooled over rounds (p50, p99) and per round (p50s);
    ``spread_ms``: max − min of the rounds' p50s, the line a difference must cross."""

    p50_ms: float
    p99_ms: float
    spread_ms: float
    round_p50_ms: list[float]
    requests: int

    SCHEMA_VERSION: ClassVar[int] = 1


def latency_of(rounds: Sequence[Stats]) -> Latency:
    """A :class:`Latency` from each round's timings (:func:`mllab.measure.stats.interleaved`)."""
    if not rounds:
        raise InputError("no rounds to summarize")
    pooled = summarize([ms / 1000.0 for r in rounds for ms in r.samples_ms])
    p50s = [r.p50_ms for r in rounds]
    return Latency(pooled.p50_ms, pooled.p99_ms, max(p50s) - min(p50s), p50s, pooled.repeats)


def post(http: httpx.Client, url: str, request: LoadRequest) -> Callable[[], None]:
    """One ``request`` to ``url`` on a kept-alive client; an error answer raises."""

    def send() -> None:
        answer = http.request(
            request.method, url + request.path, content=request.body, headers=request.headers
        )
        answer.raise_for_status()

    return send


def wait_ready(server: RunningContainer, url: str, timeout: float = TIMEOUT) -> None:
    """``RunningContainer.wait_ready`` for a URL it cannot know (a host-mode port): an exit or a
    timeout raises :class:`ContainerFailed` with the end of the log."""
    try:
        wait_until_ready(url + "/ready", timeout, server.exit_code)
    except (ServerExited, NotReady) as error:
        logs = server.logs(tail=15)
        raise ContainerFailed(f"{server.name} was not ready ({error}):\n{logs}") from None


@dataclass
class ModeLatency:
    """One network path from the host to the server: how (``path``), and its latencies."""

    mode: str  # bridge, host, user-defined
    path: str
    outcome: Outcome
    predict: Latency | None = None  # POST /predict, batch 1
    health: Latency | None = None  # GET /health: the path without the model

    SCHEMA_VERSION: ClassVar[int] = 1


@dataclass
class NetworkModes:
    """Section 4's record (claim C20): latency per network mode and the facts beside it.

    ``host_interfaces``: the host's (this process's network namespace, the engine's);
    ``host_mode_interfaces`` / ``bridge_interfaces``: what a host-mode and a bridge container
    list; ``proxy``: which process forwards the published port; ``dns`` / ``dns_default``:
    the server's name resolved on the user-defined network / on the default bridge (the
    control); ``offline``: the ``--network none`` batch job."""

    outcome: Outcome
    image: str = ""
    rounds: int = 0
    requests: int = 0  # /predict per mode per round
    modes: list[ModeLatency] = field(default_factory=list)
    proxy: str = ""
    host_interfaces: list[str] = field(default_factory=list)
    host_mode_interfaces: list[str] = field(default_factory=list)
    bridge_interfaces: list[str] = field(default_factory=list)
    server_address: str = ""  # the server's address on the user-defined network
    dns: dict[str, Any] = field(default_factory=dict)  # {"address"|"error", "health"}
    dns_default: dict[str, Any] = field(default_factory=dict)
    offline: Outcome = field(default_factory=lambda: Outcome.not_run("not reached"))
    none_interfaces: list[str] = field(default_factory=list)
    none_reach: str = ""  # what connecting to the server from inside gave
    offline_top1: int | None = None
    server_top1: int | None = None
    offline_max_abs_diff: float | None = None  # the job's logits against the server's

    SCHEMA_VERSION: ClassVar[int] = 1


def mode_rows(record: NetworkModes) -> list[dict[str, Any]]:
    """One row per mode: path, /predict p50/p99/spread, /health p50, outcome."""
    rows = []
    for m in record.modes:
        p, h = m.predict, m.health
        figures = (p.p50_ms, p.p99_ms, p.spread_ms) if p else (None, None, None)
        keys = ("predict p50 ms", "predict p99 ms", "p50 spread ms")
        rows.append({"mode": m.mode, "path": m.path, **dict(zip(keys, figures, strict=True))})
        rows[-1].update({"health p50 ms": h.p50_ms if h else None, "outcome": str(m.outcome)})
    return rows


def fact_rows(record: NetworkModes) -> list[dict[str, str]]:
    """What each mode isolates, as measured: one row per fact."""

    def names(values: list[str]) -> str:
        return f"{len(values)}: {', '.join(values)}" if values else "—"

    same = sorted(record.host_mode_interfaces) == sorted(record.host_interfaces)
    dns, default = record.dns, record.dns_default
    offline = str(record.offline)
    if record.offline.ok:
        agree = "the same" if record.offline_top1 == record.server_top1 else "NOT the same"
        offline = (
            f"ran the model on a mounted file: top-1 {record.offline_top1}, {agree} as the "
            f"server's (max |Δ logit| {record.offline_max_abs_diff:.2g})"
        )
    facts = [
        ("host's interfaces", names(record.host_interfaces)),
        ("--network host container sees", names(record.host_mode_interfaces)),
        ("bridge container sees", names(record.bridge_interfaces)),
        ("published port forwarded by", record.proxy or "—"),
        (
            f"DNS by name, {NETWORK}",  # the server's name: SERVER
            f"{dns.get('address') or dns.get('error', '—')} (server at "
            f"{record.server_address or '—'}; GET /health by name: {dns.get('health', '—')})",
        ),
        (
            "DNS by name, default bridge",
            default.get("address") or default.get("error", "—"),
        ),
        ("--network none container sees", names(record.none_interfaces)),
        ("--network none → the server", record.none_reach or "—"),
        ("--network none batch job", offline),
    ]
    if same and record.host_interfaces:
        facts[1] = (facts[1][0], facts[1][1] + " (the host's)")
    return [{"fact": fact, "seen": seen} for fact, seen in facts]


def host_interfaces() -> list[str]:
    """The interface names of this process's network namespace (the host's)."""
    return [name for _, name in socket.if_nameindex()]


def forwarder(host_port: int, proc: Path = Path("/proc")) -> str:
    """Which process forwards ``host_port``: the engine's ``docker-proxy`` (found among the
    processes, with its pid), or, where none listens for it, the kernel's NAT rules."""
    for cmdline in proc.glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            words = cmdline.read_bytes().decode(errors="replace").split("\0")
            if "docker-proxy" in words[0] and str(host_port) in words:
                return f"docker-proxy (userland, pid {cmdline.parent.name}), port {host_port}"
    return f"no docker-proxy for port {host_port}: the engine's NAT rules (iptables DNAT)"


def in_image(
    image: str, network: str, script: str, *args: str, mounts: Sequence[str] = ()
) -> dict[str, Any]:
    """``docker run --rm --network NETWORK --entrypoint python IMAGE -c SCRIPT ARGS``: the
    JSON its last line printed."""
    volumes = [word for mount in mounts for word in ("-v", mount)]
    command = ["run", "--rm", "--network", network, *volumes, "--entrypoint", "python", image]
    done = docker([*command, "-c", script, *args], timeout=TIMEOUT)
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def network_modes(
    image: str | None = None, requests: int = 6, rounds: int = 3, health: int = 10
) -> NetworkModes:
    """Section 4 (see the module): the server through bridge, host and a user-defined network,
    ``rounds`` interleaved rounds of ``requests`` batch-1 predictions (and ``health`` health
    checks) per mode, then the facts. Every container and the network are removed at the end."""
    if requests < 1 or rounds < 1 or health < 0:
        raise InputError("requests and rounds must be >= 1, health >= 0")
    tag = image or build_slim(on_log=None)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    predict = load_request("npy", x)
    sdk = client()
    record = NetworkModes(Outcome.ran(), tag, rounds, requests)
    with contextlib.ExitStack() as stack:
        with contextlib.suppress(Exception):  # a network left by an interrupted run
            sdk.networks.get(NETWORK).remove()
        network = sdk.networks.create(NETWORK, driver="bridge")
        stack.callback(network.remove)
        port = free_port()
        env = {"PORT": str(port), "HOST": "127.0.0.1"}
        hosted = start(tag, name=HOST_SERVER, ports={}, network_mode="host", env=env, wait=None)
        stack.callback(hosted.stop)
        server = start(tag, name=SERVER, wait=None)
        stack.callback(server.stop)
        network.connect(server.container)
        server.container.reload()
        record.server_address = server.container.attrs["NetworkSettings"]["Networks"][NETWORK][
            "IPAddress"
        ]
        urls = {
            "bridge": server.url,
            "host": f"http://127.0.0.1:{port}",
            "user-defined": f"http://{record.server_address}:{SERVER_PORT}",
        }
        wait_ready(server, urls["bridge"])
        wait_ready(hosted, urls["host"])
        record.proxy = forwarder(server.host_port or 0)
        via = "docker-proxy" if record.proxy.startswith("docker-proxy") else "NAT"
        paths = {
            "bridge": f"{urls['bridge']} → {via} → :{SERVER_PORT}",
            "host": f"{urls['host']}: the host's own stack, no NAT",
            "user-defined": f"{urls['user-defined']}: the host routes to {NETWORK}'s bridge",
        }
        record.modes = _interleave(stack, urls, paths, predict, (rounds, requests, health))
        _facts(record, tag, (server, hosted), x, urls["bridge"])
    return record


def _interleave(
    stack: contextlib.ExitStack,
    urls: dict[str, str],
    paths: dict[str, str],
    predict: LoadRequest,
    counts: tuple[int, int, int],
) -> list[ModeLatency]:
    """``counts``: rounds, predictions and health checks per mode and round. Each round times
    the modes request by request in turn (:func:`interleaved`), each on its own kept-alive
    client after a warm-up request; a mode whose warm-up fails is recorded failed, left out."""
    rounds, requests, health = counts
    clients = {m: stack.enter_context(httpx.Client(timeout=TIMEOUT)) for m in MODES}
    outcomes: dict[str, Outcome] = {}
    for mode in MODES:
        try:
            post(clients[mode], urls[mode], predict)()  # warm-up, and: does this path answer?
            outcomes[mode] = Outcome.ran()
        except httpx.HTTPError as error:
            outcomes[mode] = Outcome.failed(error)
    live = [m for m in MODES if outcomes[m].ok]
    ping = LoadRequest("GET", "/health")
    times: dict[str, list[Stats]] = {m: [] for m in MODES}
    checks: dict[str, list[Stats]] = {m: [] for m in MODES}
    for _ in range(rounds if live else 0):
        sends = {m: post(clients[m], urls[m], predict) for m in live}
        for mode, stats in interleaved(sends, requests, warmup=0).items():
            times[mode].append(stats)
        pings = {m: post(clients[m], urls[m], ping) for m in live}
        for mode, stats in (interleaved(pings, health, warmup=0) if health else {}).items():
            checks[mode].append(stats)
    return [
        ModeLatency(
            mode,
            paths[mode],
            outcomes[mode],
            latency_of(times[mode]) if times[mode] else None,
            latency_of(checks[mode]) if checks[mode] else None,
        )
        for mode in MODES
    ]


def _facts(
    record: NetworkModes,
    tag: str,
    servers: tuple[RunningContainer, RunningContainer],
    x: npt.NDArray[np.float32],
    url: str,
) -> None:
    """Interfaces inside the host-mode and the bridge container (the host's read at the same
    moment, before any one-off container adds its veth), then, side by side (nothing is timed
    any more), DNS on both bridges and the ``--network none`` batch job on ``x`` (mounted
    read-only), compared with the server's answer for the same ``x``."""
    server, hosted = servers
    port = str(SERVER_PORT)
    record.host_interfaces = host_interfaces()  # before the one-off containers add veths
    for container, target in ((hosted, "host_mode_interfaces"), (server, "bridge_interfaces")):
        code, out = container.exec(["python", "-c", INTERFACES])
        if code == 0:
            setattr(record, target, json.loads(out.strip().splitlines()[-1]))
    with tempfile.TemporaryDirectory(prefix=PREFIX) as folder, ThreadPoolExecutor(3) as pool:
        os.chmod(folder, 0o755)  # the image's user (uid 10001) reads the mounted file
        np.save(Path(folder) / "x.npy", x)
        os.chmod(Path(folder) / "x.npy", 0o644)
        dns = pool.submit(_lookup, tag, NETWORK)
        dns_default = pool.submit(_lookup, tag, "bridge")
        mounts = [f"{folder}:/in:ro"]
        job = pool.submit(
            in_image, tag, "none", OFFLINE, record.server_address, port, mounts=mounts
        )
        record.dns, record.dns_default = dns.result(), dns_default.result()
        try:
            answer = job.result()
        except (DockerCliError, ValueError) as error:
            record.offline = Outcome.failed(error)
            return
    record.none_interfaces, record.none_reach = answer["interfaces"], answer["reach"]
    offline = np.asarray(answer["logits"], dtype=np.float32)
    served = np.asarray(predict_tensor(url, x)["output"], dtype=np.float32).ravel()
    record.offline_top1, record.server_top1 = int(offline.argmax()), int(served.argmax())
    record.offline_max_abs_diff = float(np.abs(offline - served).max())
    record.offline = Outcome.ran()


def _lookup(tag: str, network: str) -> dict[str, Any]:
    """The server's name resolved (and its /health asked) from a container on ``network``."""
    try:
        return in_image(tag, network, RESOLVE, SERVER, str(SERVER_PORT))
    except (DockerCliError, ValueError) as error:
        return {"error": f"{type(error).__name__}: {error}"}
