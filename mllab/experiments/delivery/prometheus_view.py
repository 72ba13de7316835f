"""Lab 08: what Prometheus (:mod:`mllab.experiments.delivery.prometheus`) saw of each rollout,
set beside what the load generator saw.

What is compared (:func:`compare`), per rollout, over the load's own window:

* **requests**: the increase of ``mllab_http_requests_total{route="/predict"}`` summed over every
  replica that was scraped (a replica started during the window counts from 0; a counter that
  went down started again), against the requests locust sent. nginx sends a request refused by a
  draining replica (503) to another one: the servers count it twice, the client once; requests a
  stopping replica answered after its last scrape are not seen by Prometheus at all.
* **errors**: the servers' 5xx answers against locust's failures.
* **p99**: ``histogram_quantile`` (Prometheus's linear interpolation inside a bucket, computed
  here from the same bucket counters) of ``mllab_http_request_duration_seconds`` over the whole
  window and per second, against locust's p99. The server's time leaves out nginx, the network
  and the client, and a bucket (75-100 ms, 100-150 ms, ...) is coarse: the server's p99 is
  expected below the client's, not equal.

The plotted series are Prometheus's own PromQL over ``/api/v1/query_range`` (``rate``,
``histogram_quantile`` over ``rate`` of the buckets, 3 s windows at a 1 s step), as an operator's
dashboard would show them; the figures of the agreement are computed from the raw counters
(no extrapolation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.experiments.delivery.prometheus import (
    SCRAPE_INTERVAL_S,
    Points,
    PrometheusRun,
    Series,
    query_range,
    stop_prometheus,
)
from mllab.experiments.delivery.rollout import Rollout

if TYPE_CHECKING:  # annotations only: matplotlib is imported when the notebook plots
    from matplotlib.figure import Figure

ROUTE = "/predict"  # what locust posts (mllab.serve.requests.load_request)
REQUESTS = f'mllab_http_requests_total{{route="{ROUTE}"}}'
BUCKETS = f'mllab_http_request_duration_seconds_bucket{{route="{ROUTE}"}}'
#: the plotted PromQL: an operator's dashboard (3 s windows: three scrapes at least)
RATE_QUERY = f"sum(rate({REQUESTS}[3s]))"
ERROR_QUERY = (
    f'sum(rate(mllab_http_requests_total{{route="{ROUTE}",code=~"5.."}}[3s])) or vector(0)'
)
P99_QUERY = f"histogram_quantile(0.99, sum by (le) (rate({BUCKETS}[3s])))"
#: the totals are taken from this long before the load to as long after it (nothing else posts
#: /predict then): the last scrapes of the tail are in, whatever the start's error
MARGIN_S = 2.0
#: a scraped counter holds what was answered up to its scrape, up to one interval before a
#: point: a second of locust's is compared with the servers' second half an interval later
LAG_S = SCRAPE_INTERVAL_S / 2
RAW_STEP_S = 0.25  # the raw counters' resolution (the latest scrape at or before each step)
#: the API's times are in milliseconds: a point this close after a window's start is at it
CLOCK_TOLERANCE_S = 0.002
MIN_ANSWERS = 5  # a second with fewer answers on either side gives no p99 ratio


# --- the agreement maths (pure) ------------------------------------------------------------------


def increase(points: Points, start: float, end: float) -> float:
    """How much a counter series grew from ``start`` to ``end``: from its last value at or before
    ``start`` (0 when the series began later: a new process), every rise counted, and after a
    fall (a restart behind the same address) the new value counted from 0."""
    start += CLOCK_TOLERANCE_S  # the query's start as the API rounded it
    before = [v for t, v in points if t <= start]
    last = before[-1] if before else 0.0
    grown = 0.0
    for _, value in (p for p in points if start < p[0] <= end):
        grown += value - last if value >= last else value
        last = value
    return grown


def total(series: list[Series], start: float, end: float) -> float:
    """The summed increase of every series over ``[start, end]``."""
    return sum(increase(s.points, start, end) for s in series)


def bucket_counts(series: list[Series], start: float, end: float) -> dict[float, float]:
    """Cumulative histogram counts by upper bound ``le`` (``+Inf`` included) over the window."""
    counts: dict[float, float] = {}
    for s in series:
        le = float(s.labels["le"])
        counts[le] = counts.get(le, 0.0) + increase(s.points, start, end)
    return counts


def histogram_quantile(q: float, counts: dict[float, float]) -> float:
    """Prometheus's ``histogram_quantile``: the bucket the ``q``-th observation falls in, linearly
    interpolated inside it (from 0 for the first bucket); the highest finite bound when it falls in
    ``+Inf``; NaN for an empty histogram."""
    bounds = sorted(counts)
    if not bounds or counts[bounds[-1]] <= 0:
        return math.nan
    rank = q * counts[bounds[-1]]
    lower, below = 0.0, 0.0
    for le in bounds:
        if counts[le] >= rank:
            if math.isinf(le):
                return lower
            inside = counts[le] - below
            return lower + (le - lower) * ((rank - below) / inside if inside > 0 else 1.0)
        lower, below = le, counts[le]
    return lower


def quantile_bucket(q: float, counts: dict[float, float]) -> tuple[float, float] | None:
    """The bounds (lower, upper) of the bucket the ``q``-th observation falls in: any value in
    it is as consistent with the histogram as :func:`histogram_quantile`'s interpolation."""
    bounds = sorted(counts)
    if not bounds or counts[bounds[-1]] <= 0:
        return None
    rank, lower = q * counts[bounds[-1]], 0.0
    for le in bounds:
        if counts[le] >= rank:
            return lower, le
        lower = le
    return lower, math.inf


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, or None when either is missing or ``b`` is 0."""
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def quartiles(values: list[float]) -> tuple[float, float, float] | None:
    """25th, 50th and 75th percentiles (linear), or None for no values."""
    if not values:
        return None
    v = sorted(values)

    def at(p: float) -> float:
        x = p * (len(v) - 1)
        i = int(x)
        return v[i] if i + 1 >= len(v) else v[i] + (v[i + 1] - v[i]) * (x - i)

    return at(0.25), at(0.5), at(0.75)


# --- the record ----------------------------------------------------------------------------------


@dataclass
class Agreement:
    """Prometheus's view of one rollout beside the load generator's."""

    kind: str  # the rollout's kind: rolling, failing
    locust_requests: int
    prometheus_requests: float  # /predict answers the servers counted (all codes)
    requests_ratio: float | None  # prometheus / locust
    locust_failures: int
    prometheus_errors: float  # 5xx answers the servers counted
    locust_p99_ms: float | None
    prometheus_p99_ms: float | None  # histogram_quantile over the whole window
    p99_ratio: float | None  # prometheus / locust
    #: the bucket the servers' p99 falls in (ms): the histogram cannot say more than that
    p99_bucket_ms: tuple[float, float] | None
    #: per second with >= MIN_ANSWERS on both sides: quartiles of prometheus p99 / locust p99
    p99_ratio_quartiles: tuple[float, float, float] | None
    seconds_compared: int
    #: the totals' window around the load: seconds before its start and after its end (clipped
    #: where another rollout's load was running)
    margins_s: tuple[float, float] = (0.0, 0.0)
    #: per second, for the plot: t_s (on the load's clock) and PromQL's rps, errors/s, p99 ms
    series: list[dict[str, Any]] = field(default_factory=list, repr=False)


@dataclass
class PrometheusView:
    """Lab 08's record of Prometheus scraping the replicas through the two rollouts.

    ``rows``: one :class:`Agreement` per rollout; ``outcome`` not run (with the reason) when the
    binary is absent or Prometheus could not start."""

    outcome: Outcome
    rows: list[Agreement] = field(default_factory=list)  # one per rollout
    version: str = ""  # Prometheus's own build version
    scrape_interval_s: float = SCRAPE_INTERVAL_S
    start_s: float = 0.0  # starting the service until it scraped a replica

    SCHEMA_VERSION: ClassVar[int] = 1

    def line(self) -> str:
        """One sentence on how well the two views agree, computed from the rows."""
        if self.outcome.status != "ran":
            return f"Prometheus: {self.outcome.status} ({self.outcome.reason})"
        parts = []
        for r in self.rows:
            iqr = r.p99_ratio_quartiles
            per_second = (
                f", per second median {iqr[1]:.2f} (IQR {iqr[0]:.2f}–{iqr[2]:.2f}, "
                f"{r.seconds_compared} s)"
                if iqr
                else ""
            )
            bucket = "n/a" if r.p99_bucket_ms is None else "{:g}–{:g} ms".format(*r.p99_bucket_ms)
            inside = "inside" if _within(r.locust_p99_ms, r.p99_bucket_ms) else "outside"
            parts.append(
                f"{r.kind}: requests {r.prometheus_requests:.0f} counted by the servers / "
                f"{r.locust_requests} sent = {_fmt(r.requests_ratio)}; "
                f"5xx {r.prometheus_errors:.0f} vs {r.locust_failures} failed; "
                f"p99 server/client {_fmt(r.p99_ratio)}{per_second}; client p99 "
                f"{_ms(r.locust_p99_ms)} {inside} the servers' p99 bucket {bucket}"
            )
        return "Prometheus vs locust — " + "; ".join(parts)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _within(value: float | None, bounds: tuple[float, float] | None) -> bool:
    return value is not None and bounds is not None and bounds[0] <= value <= bounds[1]


def agreement(
    rollout: Rollout,
    requests: list[Series],
    buckets: list[Series],
    plotted: dict[str, list[Series]] | None = None,
    margins_s: tuple[float, float] = (MARGIN_S, MARGIN_S),
) -> Agreement:
    """``rollout``'s load beside the raw counters Prometheus scraped over its window (see the
    module), from ``margins_s[0]`` before the load to ``margins_s[1]`` after it; ``plotted``: the
    PromQL series (``rps``, ``errors``, ``p99``) for the plot."""
    t0 = rollout.load_start_unix
    start = t0 - margins_s[0]
    end = t0 + (rollout.timeline[-1]["t_s"] if rollout.timeline else 0.0) + margins_s[1]
    counted = total(requests, start, end)
    errors = total([s for s in requests if s.labels.get("code", "").startswith("5")], start, end)
    whole = bucket_counts(buckets, start, end)
    p99_s = histogram_quantile(0.99, whole)
    bucket = quantile_bucket(0.99, whole)
    p99_ms = None if math.isnan(p99_s) else p99_s * 1000
    ratios, previous = [], 0.0
    for row in rollout.timeline:
        a, b = t0 + previous + LAG_S, t0 + row["t_s"] + LAG_S
        previous = row["t_s"]
        counts = bucket_counts(buckets, a, b)
        answered = row["rps"] * (b - a) - row["failures"]
        server = histogram_quantile(0.99, counts)
        client_p99 = row.get("p99_ms")
        if counts.get(math.inf, 0) >= MIN_ANSWERS and answered >= MIN_ANSWERS:
            r = ratio(server * 1000, client_p99)
            if r is not None:
                ratios.append(r)
    return Agreement(
        kind=rollout.kind,
        locust_requests=rollout.requests,
        prometheus_requests=counted,
        requests_ratio=ratio(counted, rollout.requests),
        locust_failures=rollout.failures,
        prometheus_errors=errors,
        locust_p99_ms=rollout.p99_ms,
        prometheus_p99_ms=p99_ms,
        p99_ratio=ratio(p99_ms, rollout.p99_ms),
        p99_bucket_ms=None if bucket is None else (bucket[0] * 1000, bucket[1] * 1000),
        p99_ratio_quartiles=quartiles(ratios),
        seconds_compared=len(ratios),
        margins_s=margins_s,
        series=plot_series(plotted or {}, t0),
    )


def plot_series(plotted: dict[str, list[Series]], t0: float) -> list[dict[str, Any]]:
    """PromQL's series by time on the load's clock: ``t_s``, ``rps``, ``errors``, ``p99_ms``
    (None where a query gave no value then)."""
    rows: dict[float, dict[str, Any]] = {}
    for name, series in plotted.items():
        for s in series[:1]:  # each query sums into one series
            for t, v in s.points:
                row = rows.setdefault(t, {"t_s": round(t - t0, 3)})
                value = None if math.isnan(v) else v * (1000 if name == "p99" else 1)
                row["p99_ms" if name == "p99" else name] = value
    return [rows[t] for t in sorted(rows)]


def clipped_margins(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Per load ``(start, end)``: :data:`MARGIN_S` before and after it, cut short where another
    load ran then (the two would count each other's requests)."""
    margins = []
    for i, (start, end) in enumerate(spans):
        others = spans[:i] + spans[i + 1 :]
        before = min([MARGIN_S, *(start - e for s, e in others if e <= start)])
        after = min([MARGIN_S, *(s - end for s, e in others if s >= end)])
        margins.append((max(before, 0.0), max(after, 0.0)))
    return margins


def compare(run: PrometheusRun, rollouts: list[Rollout]) -> PrometheusView:
    """Prometheus's view of each rollout's load window (the raw counters for the figures, PromQL
    for the plot), beside the load generator's."""
    for rollout in rollouts:
        if not rollout.load_start_unix or not rollout.timeline:
            raise MllabError(f"the {rollout.kind} rollout has no wall-clock start: rerun it")
    spans = [(r.load_start_unix, r.load_start_unix + r.timeline[-1]["t_s"]) for r in rollouts]
    rows = []
    for rollout, margins in zip(rollouts, clipped_margins(spans), strict=True):
        a = rollout.load_start_unix - MARGIN_S
        b = rollout.load_start_unix + rollout.timeline[-1]["t_s"] + MARGIN_S
        queries = {"rps": RATE_QUERY, "errors": ERROR_QUERY, "p99": P99_QUERY}
        plotted = {name: query_range(run.url, q, a, b) for name, q in queries.items()}
        requests = query_range(run.url, REQUESTS, a, b, RAW_STEP_S)
        buckets = query_range(run.url, BUCKETS, a, b, RAW_STEP_S)
        rows.append(agreement(rollout, requests, buckets, plotted, margins))
    return PrometheusView(Outcome.ran(), rows, run.version, SCRAPE_INTERVAL_S, run.start_s)


def view_of(watching: PrometheusRun | Outcome, rollouts: list[Rollout]) -> PrometheusView:
    """What Prometheus saw of ``rollouts`` beside the load generator (:func:`compare`), then the
    service removed; the outcome as it is when it did not run."""
    if isinstance(watching, Outcome):
        return PrometheusView(watching)
    try:
        return compare(watching, rollouts)
    finally:
        stop_prometheus(watching, wait=False)  # the lab goes on meanwhile


def plot_view(view: PrometheusView, rollouts: list[Rollout]) -> Figure:
    """Per rollout (a column): answers/s, failures/s and p99 against time, Prometheus's PromQL
    beside locust's per-second timeline."""
    import matplotlib.pyplot as plt  # deferred: start-up time; only the notebook plots

    fig, axes = plt.subplots(3, len(rollouts), figsize=(11, 7), sharex="col", squeeze=False)
    for col, (row, rollout) in enumerate(zip(view.rows, rollouts, strict=True)):
        t = [r["t_s"] for r in rollout.timeline]
        locust = {
            "rps": [r["rps"] for r in rollout.timeline],
            "errors": [r["failures"] for r in rollout.timeline],
            "p99_ms": [r.get("p99_ms") for r in rollout.timeline],
        }
        tp = [r["t_s"] for r in row.series]
        for i, (key, unit) in enumerate(
            (("rps", "req/s"), ("errors", "errors/s"), ("p99_ms", "p99, ms"))
        ):
            ax = axes[i][col]
            ax.plot(t, locust[key], "o-", ms=2, label="locust (client)")
            ax.plot(
                tp, [r.get(key) for r in row.series], "-", label="Prometheus (servers, 3 s windows)"
            )
            ax.axvline(rollout.update_start_s, ls="--", color="grey")
            ax.set_ylabel(unit)
            ax.set_ylim(bottom=0)  # from zero: a dip reads at its true size
        axes[0][col].set_title(f"{rollout.kind} update: {rollout.update_state}")
        axes[-1][col].set_xlabel("time since the load started, s")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig
