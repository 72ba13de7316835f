"""mllab serve against its peer, side by side: one run, one machine, one model, one thread budget.

Targets: ``mllab serve`` (``/predict`` with ``.npy`` and the v2 binary tensor extension, dynamic
batching off and on), KServe's Python ``ModelServer`` (PyPI ``kserve``, in its own virtual
environment under ``artifacts/``) wrapping the same ONNX Runtime session, and ONNX Runtime in
this process. Load: locust headless in its own process (closed loop, batch-1 requests), at each
concurrency, in rounds of rotating order with every server up side by side; the CPU seconds
locust itself used are printed beside each point. Printed: the
table, then the ratios against the issue's goals, as measured here — never asserted.

    python benchmarks/bench_servers.py [--model PATH] [--threads 2] [--requests 20] [--rounds 2]
                                       [--quick]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from mllab.core.errors import MllabError
from mllab.core.tables import format_table
from mllab.experiments.serving.batching import api_request, server_settings
from mllab.experiments.serving.peer import Point, in_process, start_kserve
from mllab.measure.load import run_load
from mllab.serve.process import start_server

CONCURRENCY = (1, 4, 16)
QUICK_CONCURRENCY = (1, 4)
#: the issue's goals (printed against, never asserted)
PEER_THROUGHPUT, IN_PROCESS_THROUGHPUT = 1.0, 0.9


def load(url: str, target: str, api: str, x: np.ndarray, c: int, n: int) -> Point:
    """``n`` batch-1 requests of ``api`` from ``c`` locust users: one point of ``target``."""
    r = run_load(url, replace(api_request(api, x), label=target), c, requests=n)
    return Point(target, c, r.requests, r.failures, r.rps, r.p50_ms, r.p99_ms, r.load_cpu_s)


def median_point(points: list[Point]) -> Point:
    """One point from the rounds: requests and errors summed, the figures' medians."""

    def med(values: list[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return float(np.median(kept)) if kept else None

    first = points[0]
    return Point(
        first.target,
        first.concurrency,
        sum(p.requests for p in points),
        sum(p.errors for p in points),
        float(np.median([p.throughput for p in points])),
        med([p.p50_ms for p in points]),
        med([p.p99_ms for p in points]),
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
) -> list[Point]:
    """Every target at every concurrency, in ``rounds`` rounds whose order rotates: the servers
    all run side by side (idle ones do not spin), so a busy moment of this shared machine
    falls on each target in turn instead of on whichever ran last."""
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    off, on = (server_settings(size, delay, max(concurrency)) for size in (0, batch))
    with (
        start_server(model, threads=threads, env=off) as plain,
        start_server(model, threads=threads, env=on) as batched,
        start_kserve(model, threads=threads) as kserve,
    ):
        targets: dict[str, Callable[..., Point]] = {
            "onnxruntime in-process": lambda c: in_process(model, x, threads, c, requests)
        }
        for server, size in ((plain, 0), (batched, batch)):
            for api in ("predict", "v2"):
                name = f"mllab {api} batch {'≤' + str(size) if size else 'off'}"
                targets[name] = partial(load, server.url, name, api, x, n=requests)
        targets["kserve v2"] = partial(load, kserve.url, "kserve v2", "v2", x, n=requests)
        runs: dict[tuple[str, int], list[Point]] = {}
        names = list(targets)
        for round_ in range(rounds):
            for c in concurrency:
                for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                    runs.setdefault((name, c), []).append(targets[name](c=c))
    return [median_point(runs[name, c]) for name in names for c in concurrency]


def ratios(points: list[Point], concurrency: Sequence[int]) -> list[dict[str, Any]]:
    """Per concurrency: each mllab target against KServe and against in-process."""
    rows = []
    for c in concurrency:
        at = {p.target: p for p in points if p.concurrency == c}
        peer, floor = at["kserve v2"], at["onnxruntime in-process"]
        for name, p in at.items():
            if not name.startswith("mllab"):
                continue
            rows.append(
                {
                    "concurrency": c,
                    "target": name,
                    "thr/kserve": p.throughput / peer.throughput,
                    "p99/kserve": p.p99_ms / peer.p99_ms if p.p99_ms and peer.p99_ms else None,
                    "thr/in-process": p.throughput / floor.throughput,
                    "p50/in-process": p.p50_ms / floor.p50_ms
                    if p.p50_ms and floor.p50_ms
                    else None,
                }
            )
    return rows


def goals_line(rows: list[dict[str, Any]]) -> str:
    """Whether every row met the issue's goals against KServe and against in-process."""
    peer = all(r["thr/kserve"] >= PEER_THROUGHPUT and (r["p99/kserve"] or 9) <= 1 for r in rows)
    floor = all(r["thr/in-process"] >= IN_PROCESS_THROUGHPUT for r in rows)
    best = [r for r in rows if "off" in r["target"]]
    peer_off = all(r["thr/kserve"] >= PEER_THROUGHPUT and (r["p99/kserve"] or 9) <= 1 for r in best)
    said = {True: "met", False: "not met"}
    return (
        f"goal mllab >= {PEER_THROUGHPUT}x KServe throughput and <= its p99 (every row): "
        f"{said[peer]}; batching-off rows only: {said[peer_off]}\n"
        f"goal mllab >= {IN_PROCESS_THROUGHPUT}x in-process throughput (every row): "
        f"{said[floor]}"
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
        "--quick", action="store_true", help="CI-sized: c 1, 4; 8 requests, 1 round"
    )
    args = parser.parse_args(argv)
    concurrency = QUICK_CONCURRENCY if args.quick else CONCURRENCY
    requests, rounds = (8, 1) if args.quick else (args.requests, args.rounds)
    model = args.model
    if model is None:
        from mllab.model.artifacts import default_model  # onnx + torch (~0.5 s): only here

        model = default_model()
    try:
        points = measure(
            model, args.threads, concurrency, requests, args.batch, args.delay_ms, rounds
        )
    except MllabError as error:
        print(f"bench_servers: error: {error}", file=sys.stderr)
        return 2
    print(format_table([asdict(p) for p in points]))
    print()
    rows = ratios(points, concurrency)
    print(format_table(rows))
    print(goals_line(rows))
    print(
        f"(threads {args.threads} everywhere; {requests} requests per point in each of {rounds} "
        "round(s), medians over rounds; load_cpu_s = CPU seconds locust itself used)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
