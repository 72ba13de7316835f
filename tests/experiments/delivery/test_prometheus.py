"""Lab 08's Prometheus beside locust: parsing the query API's answers (recorded JSON in
Prometheus's own format), the counter and histogram maths, the agreement, and (Docker) a
Prometheus service on a swarm network finding its target through swarm's DNS."""

from __future__ import annotations

import json
import math
import subprocess

import httpx
import pytest
import yaml

from mllab.containers.nginx import build_nginx
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.experiments.delivery import prometheus as prom
from mllab.experiments.delivery import prometheus_view as pview
from mllab.experiments.delivery.rollout import Rollout
from mllab.experiments.delivery.swarm_node import swarm_session

T0 = 1_765_000_000.0  # the load's start on the wall clock

# /api/v1/query_range?query=mllab_http_requests_total{route="/predict"}&step=1, as Prometheus 2.42
# answers it: replica A (10.0.1.5) ran before the load (60 requests) and stopped at T0+3; B was
# started by the update at T0+2 and counted from 0; a 503 of A's (nginx retried it elsewhere).
REQUESTS_JSON = """
{"status":"success","data":{"resultType":"matrix","result":[
 {"metric":{"__name__":"mllab_http_requests_total","code":"200","instance":"10.0.1.5:8080",
   "job":"mllab08_server","method":"POST","route":"/predict"},
  "values":[[1764999999,"60"],[1765000000,"60"],[1765000001,"65"],[1765000002,"70"],
            [1765000003,"72"]]},
 {"metric":{"__name__":"mllab_http_requests_total","code":"503","instance":"10.0.1.5:8080",
   "job":"mllab08_server","method":"POST","route":"/predict"},
  "values":[[1765000002,"1"],[1765000003,"1"]]},
 {"metric":{"__name__":"mllab_http_requests_total","code":"200","instance":"10.0.1.9:8080",
   "job":"mllab08_server","method":"POST","route":"/predict"},
  "values":[[1765000002,"3"],[1765000003,"8"],[1765000004,"14"],[1765000005,"14"]]}
]}}
"""


def _buckets(instance: str, points: dict[str, list[tuple[float, float]]]) -> list[dict]:
    metric = {"__name__": "mllab_http_request_duration_seconds_bucket", "instance": instance}
    return [
        {"metric": {**metric, "le": le}, "values": [[t, str(v)] for t, v in values]}
        for le, values in points.items()
    ]


def _matrix(result: list[dict]) -> dict:
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_a_query_range_answer_is_read_as_series():
    series = prom.parse_matrix(json.loads(REQUESTS_JSON))
    assert [s.labels["code"] for s in series] == ["200", "503", "200"]
    assert series[0].points[2] == (T0 + 1, 65.0)


def test_an_error_answer_raises_with_prometheus_message():
    answer = {"status": "error", "errorType": "bad_data", "error": 'parse error at char 5: "]"'}
    with pytest.raises(MllabError, match="bad_data: parse error"):
        prom.parse_matrix(answer)
    with pytest.raises(MllabError, match="vector"):
        prom.parse_matrix({"status": "success", "data": {"resultType": "vector", "result": []}})


def test_a_counter_grows_from_its_value_before_the_window_or_from_zero_when_new():
    old = [(T0 - 1, 60.0), (T0, 60.0), (T0 + 1, 65.0), (T0 + 3, 72.0)]
    assert pview.increase(old, T0, T0 + 5) == 12  # 60 were answered before the window
    assert pview.increase(old, T0 + 1, T0 + 3) == 7
    new = [(T0 + 2, 3.0), (T0 + 3, 8.0)]
    assert pview.increase(new, T0, T0 + 5) == 8  # a new process: its first value counts
    # the API rounds the query's start to ms: a point just after it is the baseline, not new
    assert pview.increase([(T0 + 0.0004, 300.0), (T0 + 1, 310.0)], T0, T0 + 5) == 10
    restarted = [(T0, 50.0), (T0 + 1, 55.0), (T0 + 2, 4.0), (T0 + 3, 9.0)]
    assert pview.increase(restarted, T0, T0 + 5) == 5 + 4 + 5  # a fall is a restart from 0


def test_the_totals_sum_every_replica_and_pick_the_5xx():
    series = prom.parse_matrix(json.loads(REQUESTS_JSON))
    assert pview.total(series, T0, T0 + 5) == 12 + 1 + 14
    errors = [s for s in series if s.labels["code"].startswith("5")]
    assert pview.total(errors, T0, T0 + 5) == 1


def test_histogram_quantile_interpolates_as_prometheus_does():
    counts = {0.1: 50.0, 0.25: 90.0, 0.5: 100.0, math.inf: 100.0}
    assert pview.histogram_quantile(0.99, counts) == pytest.approx(0.25 + 0.25 * 9 / 10)
    assert pview.histogram_quantile(0.5, counts) == pytest.approx(0.1)
    assert pview.histogram_quantile(0.2, counts) == pytest.approx(0.1 * 20 / 50)
    beyond = {0.1: 10.0, 0.25: 10.0, math.inf: 20.0}  # the rank falls in +Inf
    assert pview.histogram_quantile(0.99, beyond) == 0.25
    assert math.isnan(pview.histogram_quantile(0.99, {0.1: 0.0, math.inf: 0.0}))


def test_quartiles_and_ratios():
    assert pview.quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 3.0, 4.0)
    assert pview.quartiles([]) is None
    assert pview.ratio(3.0, 4.0) == 0.75
    assert pview.ratio(3.0, 0.0) is None and pview.ratio(None, 1.0) is None


def _rollout(requests: int, failures: int, p99_ms: float) -> Rollout:
    timeline = [
        {"t_s": float(t), "rps": 10.0, "failures": 0, "p99_ms": p99_ms, "versions": {"a": 10}}
        for t in range(1, 5)
    ]
    return Rollout(
        kind="rolling",
        from_version="1.0.0",
        to_version="1.1.0",
        final_version="1.1.0",
        rolled_back=False,
        requests=requests,
        failures=failures,
        errors={},
        seconds=3.0,
        timeline=timeline,
        update_state="completed",
        p99_ms=p99_ms,
        load_start_unix=T0,
    )


def _steady(per_second: int, slow_share: float) -> tuple[list[prom.Series], list[prom.Series]]:
    """One replica answering ``per_second`` requests a second from T0 to T0+4, a share of them
    in the 100-150 ms bucket and the rest in 50-75 ms; scraped every second."""
    times = [T0 - 1 + i for i in range(8)]
    done = [per_second * min(max(t - T0, 0), 4) for t in times]
    slow = [n * slow_share for n in done]
    requests = _matrix(
        [
            {
                "metric": {"code": "200"},
                "values": [[t, str(n)] for t, n in zip(times, done, strict=True)],
            }
        ]
    )
    buckets = _matrix(
        _buckets(
            "10.0.1.5:8080",
            {
                "0.05": [(t, 0.0) for t in times],
                "0.075": [(t, n - s) for t, n, s in zip(times, done, slow, strict=True)],
                "0.1": [(t, n - s) for t, n, s in zip(times, done, slow, strict=True)],
                "0.15": list(zip(times, done, strict=True)),
                "+Inf": list(zip(times, done, strict=True)),
            },
        )
    )
    return prom.parse_matrix(requests), prom.parse_matrix(buckets)


def test_agreement_counts_what_both_saw_and_can_show_a_shortfall():
    requests, buckets = _steady(10, slow_share=0.1)
    same = pview.agreement(_rollout(40, 0, 140.0), requests, buckets)
    assert same.prometheus_requests == 40 and same.requests_ratio == 1.0
    # rank 0.99*40 = 39.6 of 40, in 100-150 ms with 4 inside: 100 + 50 * 3.6 / 4 = 145 ms
    assert same.prometheus_p99_ms == pytest.approx(145.0)
    assert same.p99_ratio == pytest.approx(145.0 / 140.0)
    assert same.seconds_compared >= 3 and same.p99_ratio_quartiles is not None
    # the client sent 50 but the servers counted 40 (a replica gone before its last scrape)
    short = pview.agreement(_rollout(50, 2, 140.0), requests, buckets)
    assert short.requests_ratio == pytest.approx(0.8) and short.locust_failures == 2
    # no slow answers: the server's p99 falls in 50-75 ms, far below a client's 140 ms
    fast = pview.agreement(_rollout(40, 0, 140.0), *_steady(10, slow_share=0.0))
    assert fast.p99_ratio is not None and fast.p99_ratio < 0.6


def test_the_plotted_series_are_on_the_load_clock_in_ms():
    plotted = {
        "rps": prom.parse_matrix(_matrix([{"metric": {}, "values": [[T0 + 1, "9.5"]]}])),
        "p99": prom.parse_matrix(_matrix([{"metric": {}, "values": [[T0 + 1, "NaN"]]}])),
        "errors": prom.parse_matrix(_matrix([{"metric": {}, "values": [[T0 + 1, "0"]]}])),
    }
    assert pview.plot_series(plotted, T0) == [
        {"t_s": 1.0, "rps": 9.5, "p99_ms": None, "errors": 0.0}
    ]


def test_the_line_is_computed_from_the_rows_and_says_why_not_run():
    requests, buckets = _steady(10, slow_share=0.1)
    row = pview.agreement(_rollout(50, 0, 140.0), requests, buckets)
    line = pview.PrometheusView(Outcome.ran(), [row]).line()
    assert "requests 40 counted by the servers / 50 sent = 0.80" in line
    assert "p99 server/client 1.04" in line
    missing = pview.PrometheusView(Outcome.not_run("not installed")).line()
    assert missing == "Prometheus: not run (not installed)"


def test_watch_records_not_run_when_switched_off_or_not_installed(monkeypatch):
    assert prom.watch(False) == Outcome.not_run("switched off (PROMETHEUS = False)")
    monkeypatch.setattr(prom.shutil, "which", lambda name: None)
    off = prom.watch(True)
    assert isinstance(off, Outcome) and off.status == "not run" and "apt-get" in off.reason
    view = pview.view_of(off, [])
    assert view.outcome == off and view.rows == []


def test_the_config_scrapes_swarm_dns_every_second():
    config = yaml.safe_load(prom.prometheus_config("tasks.x", 8080, 1.0))
    assert config["global"]["scrape_interval"] == "1s"
    sd = config["scrape_configs"][0]["dns_sd_configs"][0]
    assert sd == {"names": ["tasks.x"], "type": "A", "port": 8080, "refresh_interval": "1s"}


NETWORK = "mllab-prometheus-test"
SERVICE = "mllab-prometheus-test"


@pytest.mark.docker
@pytest.mark.slow
def test_prometheus_finds_its_target_through_swarm_dns_and_answers_query_range():
    """Prometheus on a swarm overlay network scrapes itself, found as ``tasks.<service>``."""
    if prom.binary() is None:
        pytest.skip("needs Debian's prometheus (apt-get install prometheus)")
    build_nginx()  # the image Prometheus runs in (cached)
    with swarm_session():  # left afterwards if the kit made it
        subprocess.run(
            ["docker", "network", "create", "-d", "overlay", NETWORK],
            check=True,
            capture_output=True,
        )
        try:
            _scrape_self()
        finally:
            subprocess.run(["docker", "network", "rm", NETWORK], check=False, capture_output=True)


def _scrape_self() -> None:
    """Prometheus on NETWORK, scraping itself, answers query_range with its own ``up``."""
    run = prom.start_prometheus(
        timeout=25, network=NETWORK, target=f"tasks.{SERVICE}", target_port=9090, name=SERVICE
    )
    try:
        assert run.version.startswith("2.")
        end = httpx.get(f"{run.url}/api/v1/query", params={"query": "time()"}).json()
        now = float(end["data"]["result"][0])
        series = prom.query_range(run.url, 'up{job="mllab08_server"}', now - 5, now, 1.0)
        assert series and series[0].labels["instance"].endswith(":9090")
        assert series[0].points[-1][1] == 1.0
    finally:
        prom.stop_prometheus(run)


def test_the_p99_bucket_bounds_what_the_histogram_can_say():
    counts = {0.1: 50.0, 0.25: 90.0, 0.5: 100.0, math.inf: 100.0}
    assert pview.quantile_bucket(0.99, counts) == (0.25, 0.5)
    assert pview.quantile_bucket(0.5, counts) == (0.0, 0.1)
    assert pview.quantile_bucket(0.99, {0.1: 10.0, math.inf: 20.0}) == (0.1, math.inf)
    assert pview.quantile_bucket(0.99, {math.inf: 0.0}) is None
    requests, buckets = _steady(10, slow_share=0.1)
    row = pview.agreement(_rollout(40, 0, 140.0), requests, buckets)
    assert row.p99_bucket_ms == (100.0, 150.0)
    assert "client p99 140 ms inside the servers' p99 bucket 100–150 ms" in (
        pview.PrometheusView(Outcome.ran(), [row]).line()
    )
    far = pview.agreement(_rollout(40, 0, 400.0), requests, buckets)
    assert "outside the servers' p99 bucket" in pview.PrometheusView(Outcome.ran(), [far]).line()


def test_margins_stop_where_the_next_load_began():
    spans = [(100.0, 130.0), (130.5, 160.0), (170.0, 180.0)]
    assert pview.clipped_margins(spans) == [(2.0, 0.5), (0.5, 2.0), (2.0, 2.0)]
