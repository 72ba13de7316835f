"""Load generation with locust, headless, in its own process, bounded by requests or seconds.

Lecture, "Контейнеры в нагрузочном тестировании": many users send the containerised server the
same request; what matters is requests per second, the latency percentiles p50/p95/p99, the
failures, and what the load generator itself costs the machine it shares.

Locust runs on gevent and monkey-patches ``socket``, ``threading``, ``time``… when it is
imported. Imported in a notebook kernel or in pytest, that would turn the docker SDK's threads
(the ``docker stats`` monitor) and any blocking C call into cooperative greenlets of one OS
thread. So :func:`run_load` starts ``python -m mllab.measure.locust_run`` in a subprocess, which
imports locust, runs the load and writes JSON (with its own CPU seconds); :func:`gevent_effect`
measures what the patching does (``python -m mllab.measure.gevent_probe``).

The load generator knows no server: the caller says what to send (:class:`LoadRequest`: method,
path, body, headers), e.g. :func:`mllab.serve.requests.load_request`. Only loopback addresses
are accepted: this kit loads servers it started itself, never a host on the network.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from mllab.core.errors import InputError, MllabError
from mllab.measure.gevent_probe import MODES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LOOPBACK = ("127.0.0.1", "localhost", "::1")
METHODS = ("GET", "POST", "PUT")


@dataclass(frozen=True)
class LoadRequest:
    """The one request every locust user sends, again and again: ``method`` to ``path`` with
    ``body`` and ``headers``; ``label`` names it in the results (default: the path)."""

    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        if self.method not in METHODS or not self.path.startswith("/"):
            raise InputError(
                f"a load request is one of {', '.join(METHODS)} to a path starting with '/', "
                f"not {self.method} {self.path!r}"
            )

    @property
    def name(self) -> str:
        """What the results call this request: its label, else its path."""
        return self.label or self.path


@dataclass
class LoadResult:
    """One bounded locust run: totals, exact percentiles, a per-second timeline, and the CPU
    seconds the load generator itself used."""

    url: str
    users: int
    spawn_rate: float
    payload: str  # the request's label (LoadRequest.name)
    requests: int
    failures: int
    duration_s: float
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None
    stopped_by: str  # "requests", "time" or "stop" (the caller's stop file appeared)
    load_cpu_s: float  # user + system CPU seconds of the locust process during the load
    locust: dict[str, Any] = field(default_factory=dict)  # locust's own (bucketed) figures
    errors: dict[str, int] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list, repr=False)
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    header: str | None = None  # the response header recorded per request, if one was asked
    header_values: list[str | None] = field(default_factory=list, repr=False)

    SCHEMA_VERSION: ClassVar[int] = 1

    def row(self) -> dict[str, Any]:
        """The headline figures, for one table row."""
        keys = ("users", "requests", "failures", "duration_s", "rps", "p50_ms", "p95_ms")
        return {key: getattr(self, key) for key in (*keys, "p99_ms", "max_ms")}


def check_loopback(url: str) -> str:
    """``url`` without a trailing slash, if it points at this machine's loopback; else an error."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            f"the load target must be an http URL such as http://127.0.0.1:8080, not {url!r}"
        )
    if parts.hostname not in LOOPBACK:
        raise InputError(
            f"load tests only go to servers this kit started on this machine (127.0.0.1 or "
            f"localhost), not {parts.hostname!r}"
        )
    return url.rstrip("/")


def run_load(
    url: str,
    request: LoadRequest,
    users: int = 8,
    spawn_rate: float | None = None,
    requests: int = 300,
    max_seconds: float = 120.0,
    header: str | None = None,
    python: str | None = None,
    stop_file: Path | None = None,
) -> LoadResult:
    """``users`` concurrent locust users (a closed loop: concurrency ``users``) send ``request``
    to ``url`` in a subprocess until ``requests`` answers or ``max_seconds``.

    ``spawn_rate`` users are started per second (default: all at once). The subprocess is
    killed if it outlives ``max_seconds`` by a minute. ``header`` (e.g. ``X-Model-Version``):
    that response header is kept per request (``header_values``) and counted per second in the
    timeline (``by_header``): which build answered, during a rolling update. ``stop_file``:
    the load also ends as soon as that file exists (``stopped_by`` "stop").
    """
    url = check_loopback(url)
    rate = float(spawn_rate or users)
    if users < 1 or requests < 1 or max_seconds <= 0 or rate <= 0:
        raise InputError("users, requests, max_seconds and spawn_rate must be positive")
    with tempfile.TemporaryDirectory(prefix="mllab-load-") as folder:
        body_file = Path(folder) / "body.bin"
        body_file.write_bytes(request.body)
        settings: dict[str, Any] = {
            "users": users,
            "spawn_rate": rate,
            "method": request.method,
            "path": request.path,
            "body_file": str(body_file),
            "headers": request.headers,
            "label": request.name,
        }
        if header:
            settings["header"] = header
        if stop_file is not None:
            settings["stop_file"] = str(stop_file)
        return result_of(_locust(url, requests, max_seconds, settings, python))


def _locust(
    url: str, requests: int, max_seconds: float, settings: dict[str, Any], python: str | None
) -> dict[str, Any]:
    """:mod:`mllab.measure.locust_run` in a subprocess; the JSON it wrote."""
    with tempfile.TemporaryDirectory(prefix="mllab-load-out-") as folder:
        out = Path(folder) / "load.json"
        settings = {
            **settings,
            "url": url,
            "requests": requests,
            "max_seconds": max_seconds,
            "out": str(out),
        }
        command = [python or sys.executable, "-m", "mllab.measure.locust_run"]
        done = subprocess.run(
            [*command, json.dumps(settings)],
            capture_output=True,
            text=True,
            timeout=max_seconds + 60,
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-10:])
            raise MllabError(f"the locust run failed (exit {done.returncode}):\n{tail}")
        raw: dict[str, Any] = json.loads(out.read_text())
        return raw


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
        load_cpu_s=float(raw["cpu_s"]),
        locust=raw["locust"],
        errors=raw["errors"],
        timeline=timeline(times, ms, failed, values=raw.get("header_values")),
        latencies_ms=[float(v) for v in ms],
        header=raw.get("header"),
        header_values=list(raw.get("header_values") or []),
    )


def timeline(
    times: npt.NDArray[np.float64],
    ms: npt.NDArray[np.float64],
    failed: npt.NDArray[np.bool_],
    step_s: float = 1.0,
    values: list[str | None] | None = None,
) -> list[dict[str, Any]]:
    """Per ``step_s`` window: requests/s, p50/p95/p99 of the requests that finished in it, and
    with ``values`` (a header per request) ``by_header``: how many answers carried each value
    (``"none"`` for answers without it)."""
    rows: list[dict[str, Any]] = []
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
        row: dict[str, Any] = {
            "t_s": float(stop),
            "rps": float(inside.sum() / span) if span > 0 else math.nan,
        }
        row["failures"] = float((inside & failed).sum())
        for q in (50, 95, 99):
            row[f"p{q}_ms"] = float(np.percentile(window, q)) if window.size else math.nan
        if values is not None:
            counts: dict[str, int] = {}
            for index in np.flatnonzero(inside):
                key = values[index] or "none"
                counts[key] = counts.get(key, 0) + 1
            row["by_header"] = counts
        rows.append(row)
    return rows


def plot_load(results: list[LoadResult] | LoadResult, labels: list[str] | None = None) -> Figure:
    """RPS and p50/p95/p99 against time, one line per run."""
    import matplotlib.pyplot as plt  # deferred: start-up time; only notebooks plot

    runs = [results] if isinstance(results, LoadResult) else list(results)
    labels = labels or [f"{r.users} users" for r in runs]
    fig, (rps, lat) = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (result, label) in enumerate(zip(runs, labels, strict=True)):
        t = [row["t_s"] for row in result.timeline]
        rps.plot(t, [row["rps"] for row in result.timeline], "o-", ms=3, color=f"C{i}", label=label)
        for q, style in ((50, "-"), (95, "--"), (99, ":")):
            values = [row[f"p{q}_ms"] for row in result.timeline]
            lat.plot(t, values, style, color=f"C{i}", label=f"{label} p{q}")
    rps.set(xlabel="time, s", ylabel="requests/s", title="throughput (RPS)")
    for axis in (rps, lat):  # from zero: a dip must look as deep as it is
        axis.set_ylim(bottom=0)
    rps.legend(fontsize=8)
    lat.set(xlabel="time, s", ylabel="ms", title="latency percentiles per second")
    lat.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


@dataclass
class GeventRun:
    """Two threads each blocking 200 ms in a C call, in one interpreter."""

    interpreter: str  # "plain" or "locust" (after ``import locust``)
    one_s: float
    two_threads_s: float
    threading_patched: bool
    socket_patched: bool

    @property
    def parallelism(self) -> float:
        """≈ 2 when the two threads block side by side, ≈ 1 when one after the other."""
        return 2 * self.one_s / self.two_threads_s


@dataclass
class GeventEffect:
    """Why locust runs in a subprocess: threads before and after its import."""

    runs: list[GeventRun]

    SCHEMA_VERSION: ClassVar[int] = 1

    def rows(self) -> list[dict[str, Any]]:
        """Table rows, one per interpreter, with the parallelism."""
        return [{**asdict(run), "parallelism": run.parallelism} for run in self.runs]

    def of(self, interpreter: str) -> GeventRun:
        """The run of ``interpreter`` (``plain`` or ``locust``)."""
        return next(run for run in self.runs if run.interpreter == interpreter)


def gevent_effect(python: str | None = None) -> GeventEffect:
    """:mod:`mllab.measure.gevent_probe` in a plain interpreter and in one that imported
    locust: real OS threads wait side by side; after locust's monkey-patching
    ``threading.Thread`` is a greenlet on one OS thread, a blocking C call stops every
    greenlet, and the two run one after the other. A notebook's background threads (the docker
    stats monitor) would suffer the same: hence the subprocess."""
    runs: list[GeventRun] = []
    for mode in MODES:
        done = subprocess.run(
            [python or sys.executable, "-m", "mllab.measure.gevent_probe", mode],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise MllabError(f"the gevent probe failed ({mode}):\n{done.stderr[-1500:]}")
        line = [x for x in done.stdout.splitlines() if x.startswith("{")][-1]
        runs.append(GeventRun(mode, **json.loads(line)))
    return GeventEffect(runs)
