"""Load tests with locust, headless and driven from Python, bounded by requests or seconds.

Lecture, "Контейнеры в нагрузочном тестировании": many users post to the containerised server;
what matters is requests per second, the latency percentiles p50/p95/p99 and the failures.

Locust runs on gevent and monkey-patches ``socket``, ``threading``, ``time``… when it is
imported. Imported in a notebook kernel or in pytest, that would turn the docker SDK's threads
(:class:`mllab.containers.monitor.StatsMonitor`) and any blocking C call into cooperative greenlets of one
OS thread. So :func:`run_load` starts ``python -m mllab.experiments.load`` in a subprocess, which imports
locust, runs the load and writes JSON; :func:`gevent_effect` measures what the patching does.

Only loopback addresses are accepted: this kit loads servers it started itself, never a host
on the network.

The users are ``FastHttpUser`` (geventhttpclient), which costs far less CPU per request than
``HttpUser`` (requests): on a 2-core machine the load generator shares the cores with the server
it measures, and a cheaper client disturbs it less. Each user posts the same binary tensor
(``.npy``, 1×3×224×224 float32, asking for ``.npy`` logits back) with no wait between requests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from mllab.core.errors import InputError, MllabError

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
PAYLOADS = ("npy", "image", "health")


@dataclass
class LoadResult:
    """One bounded locust run: totals, exact percentiles and a per-second timeline."""

    url: str
    users: int
    spawn_rate: float
    payload: str
    requests: int
    failures: int
    duration_s: float
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None
    stopped_by: str  # "requests" or "time"
    locust: dict[str, Any] = field(default_factory=dict)  # locust's own (bucketed) figures
    errors: dict[str, int] = field(default_factory=dict)
    timeline: list[dict[str, float]] = field(default_factory=list, repr=False)
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    def row(self) -> dict[str, Any]:
        """The headline figures, for one table row."""
        keys = ("users", "requests", "failures", "duration_s", "rps", "p50_ms", "p95_ms")
        return {key: getattr(self, key) for key in (*keys, "p99_ms", "max_ms")}

    def summary(self) -> dict[str, Any]:
        """The figures without the per-request data (for tables and ``results.record``)."""
        data = asdict(self)
        data.pop("timeline")
        data.pop("latencies_ms")
        return data


def check_loopback(url: str) -> str:
    """``url`` without a trailing slash, if it points at this machine's loopback; else an error."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            f"the load target must be an http URL such as http://127.0.0.1:8080, not {url!r}"
        )
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise InputError(
            f"load tests only go to servers this kit started on this machine (127.0.0.1 or "
            f"localhost), not {parts.hostname!r}"
        )
    return url.rstrip("/")


def run_load(
    url: str,
    users: int = 8,
    spawn_rate: float | None = None,
    requests: int = 300,
    max_seconds: float = 120.0,
    payload: str = "npy",
    python: str | None = None,
) -> LoadResult:
    """Run locust against ``url`` in a subprocess until ``requests`` answers or ``max_seconds``.

    ``spawn_rate`` users are started per second (default: all at once). The subprocess is
    killed if it outlives ``max_seconds`` by a minute.
    """
    url = check_loopback(url)
    spawn_rate = float(spawn_rate or users)
    if users < 1 or requests < 1 or max_seconds <= 0 or spawn_rate <= 0:
        raise InputError("users, requests, max_seconds and spawn_rate must be positive")
    if payload not in PAYLOADS:
        raise InputError(f"payload must be one of {', '.join(PAYLOADS)}, not {payload!r}")
    with tempfile.TemporaryDirectory(prefix="mllab-load-") as folder:
        out = Path(folder) / "load.json"
        command = [
            python or sys.executable, "-m", "mllab.experiments.load", url,
            "--users", str(users), "--spawn-rate", str(spawn_rate), "--requests", str(requests),
            "--max-seconds", str(max_seconds), "--payload", payload, "--out", str(out),
        ]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=max_seconds + 60, check=False
        )
        if done.returncode != 0 or not out.exists():
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-10:])
            raise MllabError(f"the locust run failed (exit {done.returncode}):\n{tail}")
        raw = json.loads(out.read_text())
    return result_of(raw)


def result_of(raw: dict[str, Any]) -> LoadResult:
    """A :class:`LoadResult` from the subprocess's JSON (per-request records -> figures)."""
    records = raw["records"]  # [t_s since start, response ms, failed 0/1]
    times = np.asarray([r[0] for r in records], dtype=np.float64)
    ms = np.asarray([r[1] for r in records], dtype=np.float64)
    failed = np.asarray([r[2] for r in records], dtype=bool)
    ok = ms[~failed]
    duration = raw["duration_s"]

    def pct(q: float) -> float | None:
        return float(np.percentile(ok, q)) if ok.size else None

    return LoadResult(
        url=raw["url"],
        users=raw["users"],
        spawn_rate=raw["spawn_rate"],
        payload=raw["payload"],
        requests=len(records),
        failures=int(failed.sum()),
        duration_s=duration,
        rps=len(records) / duration if duration > 0 else math.nan,
        p50_ms=pct(50),
        p95_ms=pct(95),
        p99_ms=pct(99),
        max_ms=float(ok.max()) if ok.size else None,
        mean_ms=float(ok.mean()) if ok.size else None,
        stopped_by=raw["stopped_by"],
        locust=raw["locust"],
        errors=raw["errors"],
        timeline=timeline(times, ms, failed),
        latencies_ms=[float(v) for v in ms],
    )


def timeline(
    times: np.ndarray, ms: np.ndarray, failed: np.ndarray, step_s: float = 1.0
) -> list[dict[str, float]]:
    """Per ``step_s`` window: requests/s, p50/p95/p99 of the requests that finished in it."""
    rows = []
    if times.size == 0:
        return rows
    end = float(times.max())
    edges = list(np.arange(0.0, end, step_s))
    if len(edges) > 1 and end - edges[-1] < 0.25 * step_s:
        edges.pop()  # a sliver of a window would give a noisy rate: fold it into the last one
    edges.append(end)
    for i, (start, stop) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = i == len(edges) - 2
        inside = (times >= start) & ((times < stop) | (last & (times == stop)))
        span = stop - start
        window = ms[inside & ~failed]
        row = {"t_s": float(stop), "rps": float(inside.sum() / span) if span > 0 else math.nan}
        row["failures"] = float((inside & failed).sum())
        for q in (50, 95, 99):
            row[f"p{q}_ms"] = float(np.percentile(window, q)) if window.size else math.nan
        rows.append(row)
    return rows


def plot_load(results: list[LoadResult] | LoadResult, labels: list[str] | None = None):
    """RPS and p50/p95/p99 against time, one line per run."""
    import matplotlib.pyplot as plt

    results = [results] if isinstance(results, LoadResult) else list(results)
    labels = labels or [f"{r.users} users" for r in results]
    fig, (rps, lat) = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (result, label) in enumerate(zip(results, labels, strict=True)):
        t = [row["t_s"] for row in result.timeline]
        rps.plot(t, [row["rps"] for row in result.timeline], "o-", ms=3, color=f"C{i}", label=label)
        for q, style in ((50, "-"), (95, "--"), (99, ":")):
            values = [row[f"p{q}_ms"] for row in result.timeline]
            lat.plot(t, values, style, color=f"C{i}", label=f"{label} p{q}")
    rps.set(xlabel="time, s", ylabel="requests/s", title="throughput (RPS)")
    rps.legend(fontsize=8)
    lat.set(xlabel="time, s", ylabel="ms", title="latency percentiles per second")
    lat.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


# --- gevent: why locust runs in a subprocess -------------------------------------------------

_GEVENT_PROBE = r"""
import ctypes, json, sys, threading, time
if sys.argv[1] == "locust":
    import locust  # noqa: F401  (monkey-patches on import)
libc = ctypes.CDLL(None)
def work():  # a blocking C call that releases the GIL, as session.run does; needs no CPU
    libc.usleep(200_000)
def both():
    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()
def timed(fn):
    start = time.perf_counter(); fn(); return time.perf_counter() - start
one, two = timed(work), timed(both)
from gevent import monkey
print(json.dumps({"one_s": one, "two_threads_s": two, "threading_patched":
    monkey.is_module_patched("threading"), "socket_patched": monkey.is_module_patched("socket")}))
"""


def gevent_effect(python: str | None = None) -> dict[str, Any]:
    """Two threads each blocking 200 ms in a C call, in a plain interpreter and in one that
    imported locust.

    Real OS threads wait side by side (``two_threads_s`` ≈ ``one_s``, ``parallelism`` ≈ 2);
    after locust's monkey-patching ``threading.Thread`` is a greenlet on one OS thread, a
    blocking C call stops every greenlet, and the two run one after the other (≈ 2 × ``one_s``,
    ``parallelism`` ≈ 1). A notebook's background threads (the docker stats monitor) and
    ``session.run`` in a thread pool would suffer the same: hence the subprocess. The test
    needs no free core, so a busy machine does not blur it.
    """
    found = {}
    for mode in ("plain", "locust"):
        done = subprocess.run(
            [python or sys.executable, "-c", _GEVENT_PROBE, mode],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise MllabError(f"the gevent probe failed ({mode}):\n{done.stderr[-1500:]}")
        line = [x for x in done.stdout.splitlines() if x.startswith("{")][-1]
        data = json.loads(line)
        data["parallelism"] = 2 * data["one_s"] / data["two_threads_s"]
        found[mode] = data
    return found


# --- the subprocess: locust itself ---------------------------------------------------------------


def _payload(kind: str) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, path, body, headers) of one request."""
    if kind == "health":
        return "GET", "/health", b"", {}
    if kind == "image":
        from mllab.model.preprocess import sample_images

        data = sample_images()[0].read_bytes()
        boundary = "mllab-load-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n'
                f"Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return (
            "POST",
            "/predict",
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    from mllab.serve.app import npy_bytes

    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    headers = {"Content-Type": "application/x-npy", "Accept": "application/x-npy"}
    return "POST", "/predict", npy_bytes(x), headers


def _locust_main(args: argparse.Namespace) -> int:
    """Runs in the subprocess: gevent-patched from here on."""
    import gevent
    import gevent.event
    from locust import FastHttpUser, constant, events, task
    from locust.env import Environment

    method, path, body, headers = _payload(args.payload)

    class ModelUser(FastHttpUser):
        host = args.url
        wait_time = constant(0)
        network_timeout = 120.0
        connection_timeout = 30.0

        @task
        def predict(self) -> None:
            if method == "GET":
                self.client.get(path, name=path)
            else:
                self.client.request(method, path, data=body, headers=headers, name=path)

    env = Environment(user_classes=[ModelUser], events=events)
    records: list[tuple[float, float, int]] = []
    errors: dict[str, int] = {}
    done = gevent.event.Event()
    start = time.monotonic()

    def on_request(response_time, exception, **_kw):
        records.append((time.monotonic() - start, float(response_time), int(exception is not None)))
        if exception is not None:
            key = f"{type(exception).__name__}: {exception}"[:200]
            errors[key] = errors.get(key, 0) + 1
        if len(records) >= args.requests:
            done.set()

    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    runner.start(args.users, spawn_rate=args.spawn_rate)
    stopped_by = "requests" if done.wait(timeout=args.max_seconds) else "time"
    duration = time.monotonic() - start
    runner.quit()
    total = env.stats.total
    bucketed = {  # locust rounds response times into buckets; kept for comparison
        "num_requests": total.num_requests,
        "num_failures": total.num_failures,
        "median_ms": total.median_response_time,
        "p95_ms": total.get_response_time_percentile(0.95),
        "p99_ms": total.get_response_time_percentile(0.99),
        "total_rps": total.total_rps,
    }
    kept = records[: args.requests]  # requests in flight at the stop are not counted twice
    Path(args.out).write_text(
        json.dumps(
            {
                "url": args.url,
                "users": args.users,
                "spawn_rate": args.spawn_rate,
                "payload": args.payload,
                "duration_s": kept[-1][0] if kept and stopped_by == "requests" else duration,
                "stopped_by": stopped_by,
                "records": kept,
                "errors": errors,
                "locust": bucketed,
                "pid": os.getpid(),
            }
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m mllab.experiments.load URL --users 8 --requests 300 --out load.json``."""
    parser = argparse.ArgumentParser(
        prog="python -m mllab.experiments.load", description=__doc__.splitlines()[0]
    )
    parser.add_argument("url")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--spawn-rate", type=float, default=None)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--payload", choices=PAYLOADS, default="npy")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        args.url = check_loopback(args.url)
    except InputError as error:
        parser.error(str(error))
    args.spawn_rate = args.spawn_rate or float(args.users)
    return _locust_main(args)


if __name__ == "__main__":
    sys.exit(main())
