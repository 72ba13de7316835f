"""mllab serve against its peer, side by side: one run, one machine, one model, one thread budget.

Targets: ``mllab serve`` (``/predict`` with ``.npy`` and the v2 binary tensor extension, and the
OIP v2 gRPC ``ModelInfer`` with raw tensors; dynamic batching off and on), KServe's Python
``ModelServer`` (PyPI ``kserve``, in its own virtual environment under ``artifacts/``) wrapping
the same ONNX Runtime session, and ONNX Runtime in this process. Load: locust headless in its
own process for REST, tritonclient's gRPC client in threads of this process for gRPC
(:mod:`mllab.experiments.serving.grpc_load`: one channel per user); both closed loop, batch-1
requests, at each concurrency, in rounds of rotating order with every server up side by side;
the CPU seconds the load generator itself used are printed beside each point. Printed: the
table, then the ratios against the issue's goals, as measured here — never asserted. Then,
unless ``--no-stages``, where the time of one request goes
(:mod:`mllab.experiments.serving.stages`): for each body kind (``.npy``, raw, v2 binary) at
concurrency 1 and 4, the median of each stage, client and server (its ``Server-Timing``),
beside ``session.run`` in process with the server's options and with the best here.

Each point starts when every server is idle: locust abandons the requests in flight when it
stops, and a server still computing them would refuse (503) or slow the next point. An mllab
server is idle when its admission counter (``/metadata``: requests in flight, REST and gRPC
together) is 0; KServe exports no such counter, so it is idle when its process used under
:data:`QUIET_CPU` of a core over :data:`QUIET_WINDOW_S`. A point with failed requests (REST
or gRPC) reports ``failed N/M`` and no throughput, latency or ratio: the requests/s of answers
that were refusals is not throughput.

    python benchmarks/bench_servers.py [--model PATH] [--threads 2] [--requests 20] [--rounds 2]
                                       [--quick] [--no-peer] [--no-stages]

``--no-peer`` leaves KServe out (its virtual environment is made with pip on first use): the
ratios against it then read "not measured".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from mllab.core.errors import MllabError
from mllab.core.poll import until
from mllab.core.tables import format_table
from mllab.experiments.serving.batching import api_request, server_settings
from mllab.experiments.serving.grpc_load import grpc_load
from mllab.experiments.serving.peer import Point, in_process, start_kserve
from mllab.experiments.serving.stages import BODIES, StageBreakdown, in_flight, stage_breakdown
from mllab.measure.load import run_load
from mllab.serve.process import free_port, start_server
from mllab.serve.v2 import model_name_from_env

CONCURRENCY = (1, 4, 16)
QUICK_CONCURRENCY = (1, 4)
#: the issue's goals (printed against, never asserted)
PEER_THROUGHPUT, IN_PROCESS_THROUGHPUT = 1.0, 0.9
#: the concurrencies of the stage breakdown
STAGE_CONCURRENCY = (1, 4)
#: seconds to wait for the servers to finish what the previous point left in flight
IDLE_TIMEOUT_S = 120.0
#: a process without an in-flight counter is idle below this share of one core ...
QUIET_CPU = 0.05
#: ... over this window (seconds)
QUIET_WINDOW_S = 0.25


@dataclass(frozen=True)
class Row:
    """One target at one concurrency over all rounds. ``throughput`` and the latencies are None
    when any request failed: a failed point reports its failures, never a requests/s figure."""

    target: str
    concurrency: int
    requests: int
    failures: int
    throughput: float | None
    p50_ms: float | None
    p99_ms: float | None
    load_cpu_s: float

    @property
    def failed(self) -> bool:
        return self.failures > 0

    def printed(self) -> dict[str, Any]:
        """The table's row: ``failed N/M`` in place of the throughput of a failed point."""
        row = asdict(self)
        if self.failed:
            row["throughput"] = f"failed {self.failures}/{self.requests}"
        return row


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) the process ``pid`` used so far, from ``/proc`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_quiet(pid: int, window_s: float = QUIET_WINDOW_S, share: float = QUIET_CPU) -> bool:
    """Whether ``pid`` used less than ``share`` of one core over the next ``window_s``."""
    before = cpu_seconds(pid)
    time.sleep(window_s)
    return cpu_seconds(pid) - before < share * window_s


def wait_idle(idle: Sequence[Callable[[], bool]], timeout: float = IDLE_TIMEOUT_S) -> None:
    """Return once every check says its server is idle; :class:`TimedOut` after ``timeout``."""
    until(
        lambda: all(check() for check in idle),
        timeout=timeout,
        interval=0.05,
        what="every server idle (nothing in flight) before the next point",
    )


def load(url: str, target: str, api: str, x: np.ndarray, c: int, n: int) -> Point:
    """``n`` batch-1 requests of ``api`` from ``c`` locust users: one point of ``target``."""
    r = run_load(url, replace(api_request(api, x), label=target), c, requests=n)
    return Point(target, c, r.requests, r.failures, r.rps, r.p50_ms, r.p99_ms, r.load_cpu_s)


def load_grpc(address: str, target: str, x: np.ndarray, c: int, n: int) -> Point:
    """``n`` batch-1 ``ModelInfer`` calls from ``c`` gRPC users: one point of ``target``."""
    r = grpc_load(address, model_name_from_env(), x, c, n)
    return Point(target, c, r.requests, r.failures, r.rps, r.p50_ms, r.p99_ms, r.load_cpu_s)


def grpc_missing() -> str | None:
    """Why this environment cannot load gRPC (the reason), or None when it can."""
    try:
        import tritonclient.grpc  # type: ignore[import-untyped]  # noqa: F401
    except (ImportError, RuntimeError) as error:  # RuntimeError: tritonclient without grpcio
        return str(error)
    return None


def grpc_ports(n: int) -> list[int]:
    """``n`` distinct free ports (the kernel may hand the same one out twice in a row)."""
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def merge(points: list[Point]) -> Row:
    """One row from the rounds of a point: requests and failures summed, the figures' medians;
    no throughput nor latency when any request of any round failed."""

    def med(values: list[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return float(np.median(kept)) if kept else None

    first = points[0]
    failures = sum(p.errors for p in points)
    ok = failures == 0
    return Row(
        first.target,
        first.concurrency,
        sum(p.requests for p in points),
        failures,
        med([p.throughput for p in points]) if ok else None,
        med([p.p50_ms for p in points]) if ok else None,
        med([p.p99_ms for p in points]) if ok else None,
        sum(p.load_cpu_s for p in points),
    )


def measure(
    model: str | Path,
    threads: int,
    concurrency: Sequence[int],
    requests: int,
    batch: int,
    delay: float,
    rounds: int,
    grpc: bool = True,
    peer: bool = True,
) -> list[Row]:
    """Every target at every concurrency (the mllab servers' gRPC too, when ``grpc``), in
    ``rounds`` rounds whose order rotates: the servers all run side by side (idle ones do not
    spin), so a busy moment of this shared machine falls on each target in turn instead of on
    whichever ran last. Each point waits until every server is idle. KServe only when
    ``peer``."""
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    ports = grpc_ports(2)
    off, on = (
        server_settings(size, delay, max(concurrency)) | ({"GRPC_PORT": str(port)} if grpc else {})
        for size, port in zip((0, batch), ports, strict=True)
    )
    with (
        start_server(model, threads=threads, env=off) as plain,
        start_server(model, threads=threads, env=on) as batched,
        start_kserve(model, threads=threads) if peer else nullcontext() as kserve,
    ):
        targets: dict[str, Callable[..., Point]] = {
            "onnxruntime in-process": lambda c: in_process(model, x, threads, c, requests)
        }
        for server, size in ((plain, 0), (batched, batch)):
            batching = f"batch {'≤' + str(size) if size else 'off'}"
            for api in ("predict", "v2"):
                name = f"mllab {api} {batching}"
                targets[name] = partial(load, server.url, name, api, x, n=requests)
            if grpc:
                name, port = f"mllab grpc {batching}", server.env["GRPC_PORT"]
                targets[name] = partial(load_grpc, f"127.0.0.1:{port}", name, x, n=requests)
        idle = [partial(lambda url: in_flight(url) == 0, s.url) for s in (plain, batched)]
        if kserve is not None:
            targets["kserve v2"] = partial(load, kserve.url, "kserve v2", "v2", x, n=requests)
            idle.append(partial(cpu_quiet, kserve.process.pid))
        runs: dict[tuple[str, int], list[Point]] = {}
        names = list(targets)
        for round_ in range(rounds):
            for c in concurrency:
                for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                    wait_idle(idle)
                    runs.setdefault((name, c), []).append(targets[name](c=c))
    return [merge(runs[name, c]) for name in names for c in concurrency]


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, None when either is missing (a failed point) or ``b`` is 0."""
    return a / b if a is not None and b else None


def ratios(rows: list[Row], concurrency: Sequence[int]) -> list[dict[str, Any]]:
    """Per concurrency: each mllab target against KServe and against in-process (None where
    either side failed)."""
    out = []
    for c in concurrency:
        at = {r.target: r for r in rows if r.concurrency == c}
        peer, floor = at.get("kserve v2"), at["onnxruntime in-process"]  # no peer: --no-peer
        for name, r in at.items():
            if not name.startswith("mllab"):
                continue
            out.append(
                {
                    "concurrency": c,
                    "target": name,
                    "thr/kserve": ratio(r.throughput, peer.throughput if peer else None),
                    "p99/kserve": ratio(r.p99_ms, peer.p99_ms if peer else None),
                    "thr/in-process": ratio(r.throughput, floor.throughput),
                    "p50/in-process": ratio(r.p50_ms, floor.p50_ms),
                }
            )
    return out


def verdict(values: list[bool | None]) -> str:
    """Met, not met, or not measured (a value is missing, none failed)."""
    if any(v is False for v in values):
        return "not met"
    return "not measured (failed points)" if any(v is None for v in values) else "met"


def goals_line(rows: list[dict[str, Any]], peer_measured: bool = True) -> str:
    """Whether every row met the issue's goals against KServe and against in-process; a row
    without a ratio (a failed point) counts as not measured, never as met; without KServe in
    the run (``peer_measured`` False) its goal says so."""

    def at_least(value: float | None, goal: float) -> bool | None:
        return None if value is None else value >= goal

    def peer(r: dict[str, Any]) -> bool | None:
        thr, p99 = at_least(r["thr/kserve"], PEER_THROUGHPUT), r["p99/kserve"]
        if thr is False or (p99 is not None and p99 > 1):
            return False
        return None if thr is None or p99 is None else True

    off = [r for r in rows if "off" in r["target"]]
    floor = [at_least(r["thr/in-process"], IN_PROCESS_THROUGHPUT) for r in rows]
    against_peer = (
        f"{verdict([peer(r) for r in rows])}; batching-off rows only: "
        f"{verdict([peer(r) for r in off])}"
        if peer_measured
        else "not measured (KServe left out: --no-peer)"
    )
    return (
        f"goal mllab >= {PEER_THROUGHPUT}x KServe throughput and <= its p99 (every row): "
        f"{against_peer}\n"
        f"goal mllab >= {IN_PROCESS_THROUGHPUT}x in-process throughput (every row): "
        f"{verdict(floor)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="ONNX model (default: the cached ResNet-50)")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads, everywhere")
    parser.add_argument("--requests", type=int, default=20, help="requests per point and round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, order rotated (default 2)")
    parser.add_argument("--batch", type=int, default=8, help="BATCH_MAX_SIZE when batching is on")
    parser.add_argument("--delay-ms", type=float, default=2.0, help="BATCH_MAX_QUEUE_DELAY_MS")
    parser.add_argument(
        "--no-peer", action="store_true", help="leave KServe out (no pip install of its venv)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="CI-sized: c 1, 4; 8 requests, 1 round"
    )
    parser.add_argument(
        "--stages",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="print where the time of one request goes, per body kind (default: on)",
    )
    args = parser.parse_args(argv)
    concurrency = QUICK_CONCURRENCY if args.quick else CONCURRENCY
    requests, rounds = (8, 1) if args.quick else (args.requests, args.rounds)
    model = args.model
    if model is None:
        from mllab.model.artifacts import default_model  # onnx + torch (~0.5 s): only here

        model = default_model()
    missing = grpc_missing()
    if missing is not None:
        print(f"bench_servers: no gRPC rows: {missing} (install tritonclient[grpc])")
    try:
        measured = measure(
            model,
            args.threads,
            concurrency,
            requests,
            args.batch,
            args.delay_ms,
            rounds,
            grpc=missing is None,
            peer=not args.no_peer,
        )
    except MllabError as error:
        print(f"bench_servers: error: {error}", file=sys.stderr)
        return 2
    print(format_table([r.printed() for r in measured]))
    print()
    rows = ratios(measured, concurrency)
    print(format_table(rows))
    print(goals_line(rows, peer_measured=not args.no_peer))
    print(
        f"(threads {args.threads} everywhere; {requests} requests per point in each of {rounds} "
        "round(s), medians over rounds; load_cpu_s = CPU seconds the load generator itself used: "
        "locust for REST, tritonclient's threads for gRPC)"
    )
    if not args.stages:
        return 0
    try:
        breakdown = stage_breakdown(model, args.threads, BODIES, STAGE_CONCURRENCY, requests)
    except MllabError as error:
        print(f"bench_servers: stage breakdown: error: {error}", file=sys.stderr)
        return 2
    print_stages(breakdown)
    return 0


def print_stages(breakdown: StageBreakdown) -> None:
    """The breakdown's table per body kind (rows: stages; columns: p50 ms per concurrency),
    each followed by the sentences computed from it."""
    for body in breakdown.bodies:
        print()
        print(f"where the time of one batch-1 request goes: {body} body (p50 ms)")
        print(format_table(breakdown.table(body), max_cell=None))
        print(breakdown.summary(body))
    cores = (
        f"the server on cores {breakdown.server_cores}, the client on {breakdown.client_cores}"
        if breakdown.client_cores
        else f"the client shares this machine's {breakdown.usable_cores} usable cores with the "
        "server (its CPU per request is the client CPU row)"
    )
    print(
        f"(server: batching off, threads {breakdown.threads}; {breakdown.requests} requests per "
        f"point, closed loop in threads of this process, each point started idle; {cores}; "
        "medians of each stage, which need not add up to the median total; transport + "
        "framework = round trip - the server's app time: the connection, uvicorn, the "
        "client's httpx)"
    )


if __name__ == "__main__":
    sys.exit(main())
