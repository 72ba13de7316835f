"""Lab 02: dynamic batching in the server — throughput and p50/p99 against concurrency, on/off.

:func:`batching_sweep` starts ``python -m mllab.serve.app`` twice on the same model, once with
batching off (``BATCH_MAX_SIZE=0``) and once on, and loads each with locust
(:func:`mllab.measure.load.run_load`) at each concurrency: closed loop, each user posts
one batch-1 request after the other. The server's ``/metadata`` counts the batches it ran, so
each point also says how many rows a batch held on average. :func:`plot_batching` draws it.
Each API is loaded with its request kind of :func:`mllab.serve.requests.load_request`
(:data:`API_PAYLOADS`; the benchmarks use the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import numpy as np

from mllab.core.errors import InputError
from mllab.measure.load import LoadRequest, run_load
from mllab.serve.process import start_server
from mllab.serve.requests import load_request

if TYPE_CHECKING:  # annotations only: matplotlib is imported when the notebook plots
    from matplotlib.figure import Figure

#: the request kind (:data:`mllab.serve.requests.PAYLOADS`) each loaded API is sent
API_PAYLOADS = {"predict": "npy", "v2": "v2"}
APIS = tuple(API_PAYLOADS)
#: admission control must not refuse the load itself: room for the largest concurrency
IN_FLIGHT_HEADROOM = 4


@dataclass
class BatchingPoint:
    """One server setting at one concurrency."""

    batching: bool
    concurrency: int
    requests: int
    errors: int
    throughput: float  # requests/s (each one image)
    p50_ms: float | None
    p99_ms: float | None
    mean_batch_rows: float | None  # rows per session.run (None with batching off)
    load_cpu_s: float  # CPU the load generator used


@dataclass
class BatchingSweep:
    """Throughput and latency against concurrency, batching off and on, one API."""

    api: str
    batch_max_size: int
    max_queue_delay_ms: float
    threads: int | None
    points: list[BatchingPoint] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1

    def rows(self) -> list[dict[str, Any]]:
        """Table rows, one per point."""
        return [asdict(point) for point in self.points]

    def of(self, batching: bool) -> list[BatchingPoint]:
        """The points of one setting, by concurrency."""
        return sorted(
            (p for p in self.points if p.batching == batching), key=lambda p: p.concurrency
        )


def api_request(api: str, x: np.ndarray) -> LoadRequest:
    """The binary request ``api`` is loaded with (``x`` as ``.npy`` to ``/predict``, or through
    the v2 binary tensor extension), labelled with the API's name."""
    if api not in API_PAYLOADS:
        raise InputError(f"api must be one of {', '.join(APIS)}, not {api!r}")
    return replace(load_request(API_PAYLOADS[api], x), label=api)


def server_settings(batch_max_size: int, delay_ms: float, concurrency: int) -> dict[str, str]:
    """The ENV of a server under this load: batching as asked, admission wide enough."""
    return {
        "BATCH_MAX_SIZE": str(batch_max_size),
        "BATCH_MAX_QUEUE_DELAY_MS": str(delay_ms),
        "MAX_IN_FLIGHT": str(concurrency + IN_FLIGHT_HEADROOM),
    }


def batching_counters(url: str) -> dict[str, float] | None:
    """The server's batch counters from ``/metadata`` (None when batching is off)."""
    return httpx.get(f"{url}/metadata", timeout=30.0).json().get("batching")


def load_point(
    url: str, api: str, x: np.ndarray, concurrency: int, requests: int, batching: bool
) -> BatchingPoint:
    """One locust run against a running server, with the batches it caused."""
    before = batching_counters(url)
    r = run_load(url, api_request(api, x), concurrency, requests=requests)
    after = batching_counters(url)
    rows = None
    if before is not None and after is not None and after["batches"] > before["batches"]:
        rows = (after["rows"] - before["rows"]) / (after["batches"] - before["batches"])
    return BatchingPoint(
        batching, concurrency, r.requests, r.failures, r.rps, r.p50_ms, r.p99_ms, rows, r.load_cpu_s
    )


def batching_sweep(
    model: str | Path,
    concurrencies: Sequence[int] = (1, 4, 16),
    requests: int = 60,
    batch_max_size: int = 8,
    max_queue_delay_ms: float = 2.0,
    threads: int | None = None,
    api: str = "predict",
) -> BatchingSweep:
    """Batching off, then on, each at every concurrency (``requests`` requests per point)."""
    if api not in APIS or batch_max_size < 1 or requests < 1 or not concurrencies:
        raise InputError("need api in predict|v2, batch_max_size >= 1, requests >= 1")
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    sweep = BatchingSweep(api, batch_max_size, max_queue_delay_ms, threads)
    for batching in (False, True):
        size = batch_max_size if batching else 0
        env = server_settings(size, max_queue_delay_ms, max(concurrencies))
        with start_server(model, threads=threads, env=env) as server:
            for concurrency in concurrencies:
                point = load_point(server.url, api, x, concurrency, requests, batching)
                sweep.points.append(point)
    return sweep


def plot_batching(sweep: BatchingSweep) -> Figure:
    """Throughput and p99 against concurrency, batching off and on."""
    import matplotlib.pyplot as plt  # deferred: plotting only in the notebook

    fig, (rate, tail) = plt.subplots(1, 2, figsize=(10, 3.6))
    for batching, style in ((False, "o-"), (True, "s--")):
        points = sweep.of(batching)
        label = f"batching on (≤ {sweep.batch_max_size})" if batching else "batching off"
        c = [p.concurrency for p in points]
        rate.plot(c, [p.throughput for p in points], style, label=label)
        tail.plot(c, [p.p99_ms for p in points], style, label=f"{label} p99")
        tail.plot(c, [p.p50_ms for p in points], style, alpha=0.4, label=f"{label} p50")
    rate.set(xlabel="concurrent clients", ylabel="requests/s", title=f"throughput ({sweep.api})")
    tail.set(xlabel="concurrent clients", ylabel="ms", title="latency")
    for axis in (rate, tail):
        axis.set_xscale("log", base=2)
        axis.set_ylim(bottom=0)  # from zero: a 20 % change must look like one, not like 3x
        axis.legend(fontsize=8)
    fig.tight_layout()
    return fig
