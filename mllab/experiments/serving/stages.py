"""Where the time of one request goes: a per-stage breakdown of a batch-1 request, beside
``session.run`` in this process.

A closed loop (:func:`mllab.measure.closed_loop.closed_loop`: ``concurrency`` threads, each
with its own kept-alive httpx connection) posts one body kind (:data:`BODIES`: ``.npy`` to
``/predict``, raw bytes with ``X-Shape``, the OIP v2 binary tensor extension) to a server
started for the purpose (batching off), and times each request on both sides:

* the client: encoding the body, the round trip (``httpx`` post to the last byte of the
  answer), decoding the answer; the CPU time of the calling thread for the whole request;
* the server: the stages of its ``Server-Timing`` header (:mod:`mllab.serve.request_log`):
  receiving the body, decoding and checking it, waiting for the session, ``session.run``,
  encoding the answer, and ``app``, all of them.

``round trip − app`` is what neither side's code measures: the connection both ways, uvicorn
parsing the head and writing the answer, and the client's HTTP library (its CPU is inside the
client's CPU row). Each point starts with the server idle (nothing in flight) and each user's
connection open (one request before the clock); where the machine has cores to spare, the
client runs on cores the server does not (:mod:`mllab.experiments.serving.cores`), else the
client's CPU per request is what it costs the server. Beside them, ``session.run`` in this
process at the same concurrency: with the server's session options, and with ONNX Runtime's
best here (threads = the cores this process may use, spinning on and off: the faster).
Figures are medians over the answered requests (a median of each stage: they need not add up
to the median total). A point with a failed request reports its failures and no figures.
"""

from __future__ import annotations

import io
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np

from mllab.core.errors import InputError, MllabError
from mllab.core.poll import until
from mllab.core.tables import WIDTH  # characters of a printed line of StageBreakdown.summary
from mllab.experiments.serving.batching import server_settings
from mllab.experiments.serving.cores import pin_process, pinned_here, split_cores
from mllab.experiments.serving.peer import in_process
from mllab.measure.closed_loop import Call, closed_loop
from mllab.measure.stats import summarize
from mllab.runtime.cgroup import usable_cpus
from mllab.runtime.sessions import SessionConfig
from mllab.serve.bodies import NPY, npy_bytes
from mllab.serve.client import ServerError
from mllab.serve.process import start_server
from mllab.serve.request_log import parse_server_timing
from mllab.serve.v2_binary import DEFAULT_MODEL_NAME, HEADER_LENGTH, binary_request, read_response

#: the body kinds, each with the request a client sends
BODIES = ("npy", "raw", "v2")
CONCURRENCY = (1, 4)
#: seconds to wait for the server to finish what is in flight before a point
IDLE_TIMEOUT_S = 120.0
#: seconds one request may take before it counts as failed
TIMEOUT_S = 120.0


@dataclass(frozen=True)
class RequestTiming:
    """One request as the client saw it (ms) and the stages its server reported (ms)."""

    encode_ms: float
    round_trip_ms: float
    decode_ms: float
    cpu_ms: float  # CPU of the client's thread for the whole request (encode to decode)
    server: dict[str, float]  # Server-Timing: recv, decode, queue, infer, encode, app

    def server_ms(self, stage: str) -> float:
        """A server stage (0 when the server did not report it: that stage did not happen)."""
        return self.server.get(stage, 0.0)


def _total(t: RequestTiming) -> float:
    return t.encode_ms + t.round_trip_ms + t.decode_ms


#: each stage of one request, in the order of the request: key -> (its row, its ms)
STAGES: dict[str, tuple[str, Callable[[RequestTiming], float]]] = {
    "client_encode": ("client: encode the body", lambda t: t.encode_ms),
    "transport": (
        "transport + framework (round trip - app)",
        lambda t: t.round_trip_ms - t.server_ms("app"),
    ),
    "server_recv": ("server: receive the body", lambda t: t.server_ms("recv")),
    "server_decode": ("server: decode + checks", lambda t: t.server_ms("decode")),
    "queue": ("server: queue (wait for the session)", lambda t: t.server_ms("queue")),
    "inference": ("server: inference (session.run)", lambda t: t.server_ms("infer")),
    "server_encode": ("server: encode the answer", lambda t: t.server_ms("encode")),
    "client_decode": ("client: decode the answer", lambda t: t.decode_ms),
    "total": ("= total (encode + round trip + decode)", _total),
    "round_trip": ("  of which round trip", lambda t: t.round_trip_ms),
    "server_app": ("  of which server app", lambda t: t.server_ms("app")),
    "client_cpu": ("client CPU (its thread, whole request)", lambda t: t.cpu_ms),
}
#: the stages whose sum is the total, in the order of the request
PARTS = tuple(list(STAGES)[:8])


@dataclass
class StagePoint:
    """One body kind at one concurrency: each stage's median (ms) over the answered requests;
    no figures when a request failed."""

    body: str
    concurrency: int
    requests: int
    failures: int
    throughput: float | None  # requests/s of the loop (None when any failed)
    p50_ms: dict[str, float]  # key of :data:`STAGES` -> median ms (empty when any failed)
    client_cpu_ms: float  # the client process's CPU per request (all its threads)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.failures > 0


@dataclass
class InProcessPoint:
    """``session.run`` in this process at one concurrency with one set of session options."""

    options: str  # "server" (the server's options) or "best" (candidates for the fastest)
    threads: int
    spinning: bool
    concurrency: int
    p50_ms: float
    throughput: float


@dataclass
class StageBreakdown:
    """Where the time of a batch-1 request goes, per body kind and concurrency, beside
    ``session.run`` in this process."""

    model: str
    threads: int | None  # ONNX Runtime threads of the server (None: the cgroup quota)
    usable_cores: int
    requests: int
    points: list[StagePoint]
    in_process: list[InProcessPoint]
    # the cores each side was pinned to (None: both shared this process's cores)
    server_cores: list[int] | None = None
    client_cores: list[int] | None = None

    SCHEMA_VERSION: ClassVar[int] = 1

    def point(self, body: str, concurrency: int) -> StagePoint:
        """The point of ``body`` at ``concurrency``."""
        for p in self.points:
            if (p.body, p.concurrency) == (body, concurrency):
                return p
        raise InputError(f"no point of {body!r} at concurrency {concurrency}")

    @property
    def concurrencies(self) -> list[int]:
        return sorted({p.concurrency for p in self.points})

    @property
    def bodies(self) -> list[str]:
        return list(dict.fromkeys(p.body for p in self.points))

    def floor(self, concurrency: int, options: str) -> InProcessPoint:
        """In process at ``concurrency``: the server's options, or the fastest of the best."""
        found = [p for p in self.in_process if (p.options, p.concurrency) == (options, concurrency)]
        if not found:
            raise InputError(f"no in-process point with {options} options at c={concurrency}")
        return min(found, key=lambda p: p.p50_ms)

    def table(self, body: str) -> list[dict[str, Any]]:
        """Rows: the stages of :data:`STAGES`, then ``session.run`` in process (the server's
        options; every usable core with spinning on, and off: the best is the faster);
        columns: p50 ms at each concurrency (``failed N/M`` for a point with failures)."""
        cs = self.concurrencies
        rows: list[dict[str, Any]] = []
        for stage in STAGES:
            row: dict[str, Any] = {"stage": STAGES[stage][0]}
            for c in cs:
                p = self.point(body, c)
                row[f"c={c} p50 ms"] = (
                    f"failed {p.failures}/{p.requests}" if p.failed else p.p50_ms[stage]
                )
            rows.append(row)
        for options, spinning in (("server", False), ("best", True), ("best", False)):
            found = {
                p.concurrency: p
                for p in self.in_process
                if (p.options, p.spinning) == (options, spinning)
            }
            if not found:
                continue
            threads = next(iter(found.values())).threads
            spin = "on" if spinning else "off"
            label = f"in-process session.run, {options} options: {threads} threads, spinning {spin}"
            rows.append({"stage": label} | {f"c={c} p50 ms": found[c].p50_ms for c in cs})
        return rows

    def summary(self, body: str) -> str:
        """What the point at each concurrency says: the total against the best in-process
        ``session.run`` at that concurrency, and that gap cut into the stages' medians
        (computed, per run)."""
        lines = []
        for c in self.concurrencies:
            p = self.point(body, c)
            if p.failed:
                lines.append(f"{body} c={c}: {p.failures}/{p.requests} requests failed")
                continue
            best = self.floor(c, "best").p50_ms
            ms = p.p50_ms
            total = ms["total"]
            parts = {
                "client encode + decode": ms["client_encode"] + ms["client_decode"],
                "transport + framework": ms["transport"],
                "server receive + decode + encode": ms["server_recv"]
                + ms["server_decode"]
                + ms["server_encode"],
                # in process at c > 1 the calls wait for each other too: compare both waits
                "server queue + session.run - in-process best": ms["queue"]
                + ms["inference"]
                - best,
            }
            cut = ", ".join(f"{name} {value:+.1f}" for name, value in parts.items())
            said = (
                f"{body} c={c}: total p50 {total:.1f} ms = {total / best:.2f}x the best "
                f"in-process session.run ({best:.1f} ms); the gap {total - best:+.1f} ms, by "
                f"stage (medians): {cut}"
            )
            lines.append(textwrap.fill(said, WIDTH, subsequent_indent="    "))
        return "\n".join(lines)


def body_request(body: str, x: np.ndarray, input_name: str) -> tuple[str, bytes, dict[str, str]]:
    """The client's encoding of ``x`` as ``body``: the path, the bytes and the headers."""
    if body == "npy":
        return "/predict", npy_bytes(x), {"Content-Type": NPY, "Accept": NPY}
    if body == "raw":
        shape = ",".join(map(str, x.shape))
        headers = {"Content-Type": "application/octet-stream", "X-Shape": shape, "Accept": NPY}
        return "/predict", np.ascontiguousarray(x, dtype=np.float32).tobytes(), headers
    if body == "v2":
        content, headers = binary_request(x, input_name)
        return f"/v2/models/{DEFAULT_MODEL_NAME}/infer", content, headers
    raise InputError(f"body must be one of {', '.join(BODIES)}, not {body!r}")


def decode_answer(body: str, response: httpx.Response) -> np.ndarray:
    """The logits of an answer to ``body`` (:class:`ServerError` for a refusal)."""
    if response.status_code != 200:
        raise ServerError(response.status_code, response.text[:200])
    if body == "v2":
        [logits] = read_response(response.content, response.headers.get(HEADER_LENGTH)).values()
        return logits
    array: np.ndarray = np.load(io.BytesIO(response.content), allow_pickle=False)
    return array


def timed_request(
    client: httpx.Client, url: str, body: str, x: np.ndarray, input_name: str
) -> RequestTiming:
    """One request of ``body``, each client stage timed, the server's stages read back."""
    cpu, start = time.thread_time(), time.perf_counter()
    path, content, headers = body_request(body, x, input_name)
    encoded = time.perf_counter()
    response = client.post(url + path, content=content, headers=headers)
    answered = time.perf_counter()
    decode_answer(body, response)
    done = time.perf_counter()
    return RequestTiming(
        encode_ms=(encoded - start) * 1000.0,
        round_trip_ms=(answered - encoded) * 1000.0,
        decode_ms=(done - answered) * 1000.0,
        cpu_ms=(time.thread_time() - cpu) * 1000.0,
        server=parse_server_timing(response.headers.get("server-timing")),
    )


def in_flight(url: str) -> int:
    """Inference requests an mllab server has admitted and not answered (``/metadata``)."""
    return int(httpx.get(f"{url}/metadata", timeout=10.0).json()["admission"]["in_flight"])


def summarize_point(
    body: str,
    concurrency: int,
    calls: Sequence[Call[RequestTiming]],
    wall_s: float,
    process_cpu_s: float,
) -> StagePoint:
    """A :class:`StagePoint` from the calls of one loop."""
    answered = [c.value for c in calls if c.value is not None and c.error is None]
    failures = len(calls) - len(answered)
    errors: dict[str, int] = {}
    for c in calls:
        if c.error is not None:
            errors[c.error] = errors.get(c.error, 0) + 1
    p50 = (
        {
            stage: summarize([of(t) / 1000.0 for t in answered]).p50_ms
            for stage, (_, of) in STAGES.items()
        }
        if not failures
        else {}
    )
    return StagePoint(
        body,
        concurrency,
        len(calls),
        failures,
        len(calls) / wall_s if not failures and wall_s > 0 else None,
        p50,
        process_cpu_s * 1000.0 / len(calls),
        errors,
    )


def measure_point(
    url: str, body: str, x: np.ndarray, input_name: str, concurrency: int, requests: int
) -> tuple[StagePoint, list[RequestTiming]]:
    """One point against a running server, started when it is idle: the summary and every
    answered request's timings."""
    until(
        lambda: in_flight(url) == 0,
        timeout=IDLE_TIMEOUT_S,
        interval=0.05,
        what="the server idle (nothing in flight) before the next point",
    )
    clients = [httpx.Client(timeout=TIMEOUT_S) for _ in range(concurrency)]
    try:
        for client in clients:  # each user's connection open before the clock
            timed_request(client, url, body, x, input_name)
        loop = closed_loop(
            lambda user: timed_request(clients[user], url, body, x, input_name),
            concurrency,
            requests,
            name=f"stages-{body}",
        )
    finally:
        for client in clients:
            client.close()
    point = summarize_point(body, concurrency, loop.calls, loop.wall_s, loop.process_cpu_s)
    return point, [c.value for c in loop.answered if c.value is not None]


def in_process_points(
    model: str | Path,
    x: np.ndarray,
    threads: int | None,
    concurrency: Sequence[int],
    n: int,
    server_cores: list[int] | None = None,
) -> list[InProcessPoint]:
    """``session.run`` here at each concurrency: the server's options (``threads``, no
    spinning; on ``server_cores`` when the server was pinned to them), and the candidates for
    the best (every usable core, spinning on and off)."""
    cores = usable_cpus()
    configs = [
        ("server", threads or cores, False, server_cores),
        ("best", cores, True, None),
        ("best", cores, False, None),
    ]
    points = []
    for options, n_threads, spinning, pinned in configs:
        config = SessionConfig(threads=n_threads, allow_spinning=spinning)
        for c in concurrency:
            with pinned_here(pinned):  # the session's pool threads start here: they inherit it
                p = in_process(model, x, n_threads, c, n, config=config)
            if p.p50_ms is None:  # in_process raises on a failed run: never here
                raise MllabError(f"no in-process timings at c={c}")
            points.append(InProcessPoint(options, n_threads, spinning, c, p.p50_ms, p.throughput))
    return points


def stage_breakdown(
    model: str | Path,
    threads: int | None = None,
    bodies: Sequence[str] = BODIES,
    concurrency: Sequence[int] = CONCURRENCY,
    requests: int = 20,
    separate_cores: bool = True,
) -> StageBreakdown:
    """The breakdown of each body kind at each concurrency against a server started here
    (batching off, ``threads`` ONNX Runtime threads), then ``session.run`` in process. With
    ``separate_cores``, where this process may use more cores than the server's threads, the
    server runs on ``threads`` of them and the client on the others (:mod:`.cores`)."""
    unknown = [b for b in bodies if b not in BODIES]
    if unknown or not bodies or not concurrency:
        raise InputError(f"bodies are some of {', '.join(BODIES)}, not {list(bodies)}")
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    env = server_settings(0, 0.0, max(concurrency))
    split = split_cores(threads or usable_cpus()) if separate_cores else None
    server_cores, client_cores = split or (None, None)
    points = []
    with start_server(model, threads=threads, env=env) as server, pinned_here(client_cores):
        if server_cores is not None:
            pin_process(server.process.pid, server_cores)
        input_name = httpx.get(f"{server.url}/metadata", timeout=30.0).json()["model"]["input"]
        for body in bodies:
            for c in concurrency:
                point, _ = measure_point(server.url, body, x, input_name["name"], c, requests)
                points.append(point)
    floors = in_process_points(model, x, threads, concurrency, requests, server_cores)
    return StageBreakdown(
        str(model), threads, usable_cpus(), requests, points, floors, server_cores, client_cores
    )
