"""Lab 02's overload demo: more concurrent requests than the server admits (``MAX_IN_FLIGHT``).

A server that queued every request would let latency and memory grow without bound; the kit's
answers what it cannot take at once with ``503 Service Unavailable`` and ``Retry-After``, and
stays ready. :func:`overload` starts the server with a small ``MAX_IN_FLIGHT``, sends a burst of
v2 binary ``infer`` requests from ``concurrency`` threads at once, and then asks
``/v2/health/ready``; :class:`Overload` is what it saw (no verdict: the lab prints the numbers).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx
import numpy as np

from mllab.core.outcome import Outcome
from mllab.measure.stats import summarize
from mllab.serve.process import start_server
from mllab.serve.v2_binary import DEFAULT_MODEL_NAME, binary_request

#: seconds one request of the burst may take before it counts as an error
REQUEST_TIMEOUT = 60.0


@dataclass
class Overload:
    """A burst of ``requests`` v2 requests from ``concurrency`` threads against a server that
    admits ``max_in_flight`` at a time, and how the server answered."""

    outcome: Outcome
    max_in_flight: int
    concurrency: int
    requests: int
    #: HTTP status (as text, "error" for a failed connection) -> how many requests got it
    statuses: dict[str, int] = field(default_factory=dict)
    #: the distinct ``Retry-After`` values of the 503 answers
    retry_after: list[str] = field(default_factory=list)
    #: median client-side latency (ms) per status: a 503 should come back at once
    p50_ms: dict[str, float] = field(default_factory=dict)
    #: ``GET /v2/health/ready`` right after the burst (None: no answer) and the process alive
    ready_status: int | None = None
    alive_after: bool = False
    seconds: float = 0.0

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def rejected(self) -> int:
        return self.statuses.get("503", 0)

    @property
    def served(self) -> int:
        return self.statuses.get("200", 0)


@dataclass
class _Answer:
    status: str
    retry_after: str | None
    start: float
    end: float


def overload(
    model: str | Path,
    max_in_flight: int = 2,
    concurrency: int = 12,
    requests: int = 24,
    batch: int = 1,
    threads: int | None = None,
) -> Overload:
    """Start the server on ``model`` with ``MAX_IN_FLIGHT=max_in_flight``, send the burst, then
    ask readiness; the server is stopped at the end whatever happens."""
    env = {"MAX_IN_FLIGHT": str(max_in_flight), "MODEL_NAME": DEFAULT_MODEL_NAME}
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    with start_server(model, threads=threads, env=env) as server:
        meta = httpx.get(f"{server.url}/v2/models/{DEFAULT_MODEL_NAME}", timeout=30).json()
        body, headers = binary_request(x, meta["inputs"][0]["name"], meta["outputs"][0]["name"])
        url = f"{server.url}/v2/models/{DEFAULT_MODEL_NAME}/infer"
        start = time.perf_counter()
        answers = burst(url, body, headers, concurrency, requests)
        seconds = time.perf_counter() - start
        ready = _status(f"{server.url}/v2/health/ready")
        alive = server.alive()
    statuses = Counter(a.status for a in answers)
    return Overload(
        outcome=Outcome.ran(),
        max_in_flight=max_in_flight,
        concurrency=concurrency,
        requests=requests,
        statuses=dict(sorted(statuses.items())),
        retry_after=sorted({a.retry_after for a in answers if a.retry_after is not None}),
        p50_ms={
            s: summarize([a.end - a.start for a in answers if a.status == s]).p50_ms
            for s in statuses
        },
        ready_status=ready,
        alive_after=alive,
        seconds=seconds,
    )


def burst(
    url: str, body: bytes, headers: dict[str, str], concurrency: int, requests: int
) -> list[_Answer]:
    """``requests`` POSTs from ``concurrency`` threads released together by a barrier."""
    barrier = threading.Barrier(concurrency)
    share = [requests // concurrency + (i < requests % concurrency) for i in range(concurrency)]

    def worker(count: int) -> list[_Answer]:
        answers = []
        with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
            barrier.wait()
            for _ in range(count):
                answers.append(_post(client, url, body, headers))
        return answers

    with ThreadPoolExecutor(concurrency) as pool:
        return [a for part in pool.map(worker, share) for a in part]


def _post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> _Answer:
    start = time.perf_counter()
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError:  # a reset or a timeout: counted, not raised
        return _Answer("error", None, start, time.perf_counter())
    status = str(response.status_code)
    return _Answer(status, response.headers.get("retry-after"), start, time.perf_counter())


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=30).status_code
    except httpx.HTTPError:
        return None
