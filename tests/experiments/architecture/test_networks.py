"""Lab 03, section 4: Docker's networks (``mllab.experiments.architecture.networks``);
one Docker test of lab 03's run."""

from __future__ import annotations

import pytest

from mllab.core.errors import InputError
from mllab.core.outcome import Outcome
from mllab.experiments.architecture.networks import (
    Latency,
    ModeLatency,
    NetworkModes,
    fact_rows,
    forwarder,
    latency_of,
    mode_rows,
    network_modes,
)
from mllab.measure.stats import summarize


def test_latency_pools_the_rounds_and_keeps_the_spread_of_their_medians():
    rounds = [summarize([0.010, 0.012, 0.014]), summarize([0.020, 0.021, 0.022])]
    lat = latency_of(rounds)
    assert lat.round_p50_ms == pytest.approx([12.0, 21.0])
    assert lat.spread_ms == pytest.approx(9.0)
    assert lat.p50_ms == pytest.approx(17.0)  # pooled: the median of all six
    assert lat.p99_ms == pytest.approx(21.95)
    assert lat.requests == 6
    with pytest.raises(InputError):
        latency_of([])


def test_forwarder_names_the_docker_proxy_of_the_port_else_nat(tmp_path):
    proxy = tmp_path / "4242"
    proxy.mkdir()
    words = ["/usr/bin/docker-proxy", "-proto", "tcp", "-host-port", "32771", "-container-port"]
    (proxy / "cmdline").write_bytes("\0".join(words).encode())
    (tmp_path / "self").mkdir()  # not a pid: ignored
    assert forwarder(32771, tmp_path).startswith("docker-proxy (userland, pid 4242)")
    assert "iptables DNAT" in forwarder(32772, tmp_path)


def test_rows_say_what_each_mode_measured_and_isolates():
    host = ["lo", "eth0", "docker0"]
    record = NetworkModes(
        Outcome.ran(),
        modes=[
            ModeLatency("bridge", "p", Outcome.ran(), Latency(80.0, 95.0, 4.0, [78.0, 82.0], 20)),
            ModeLatency("host", "h", Outcome.failed("ConnectError: refused")),
        ],
        host_interfaces=host,
        host_mode_interfaces=list(reversed(host)),
        none_interfaces=["lo"],
        none_reach="OSError: [Errno 101] Network is unreachable",
        offline=Outcome.ran(),
        offline_top1=7,
        server_top1=7,
        offline_max_abs_diff=0.0,
        dns={"address": "172.18.0.2", "health": 200},
        dns_default={"error": "gaierror: [Errno -2] Name or service not known"},
    )
    rows = mode_rows(record)
    assert rows[0]["predict p50 ms"] == 80.0 and rows[0]["p50 spread ms"] == 4.0
    assert rows[1]["predict p50 ms"] is None and rows[1]["outcome"].startswith("failed")
    facts = {row["fact"]: row["seen"] for row in fact_rows(record)}
    assert facts["--network host container sees"].endswith("(the host's)")
    assert facts["--network none container sees"] == "1: lo"
    assert "top-1 7, the same as the server's" in facts["--network none batch job"]
    assert "gaierror" in facts["DNS by name, default bridge"]
    record.host_mode_interfaces = ["lo", "eth0"]
    record.offline_top1 = 8
    facts = {row["fact"]: row["seen"] for row in fact_rows(record)}
    assert "(the host's)" not in facts["--network host container sees"]
    assert "NOT the same" in facts["--network none batch job"]


def test_network_modes_refuses_bad_arguments_before_docker():
    with pytest.raises(InputError):
        network_modes("never-built", requests=0)
    with pytest.raises(InputError):
        network_modes("never-built", rounds=0)


@pytest.mark.docker
@pytest.mark.slow
def test_the_three_paths_answer_and_each_mode_isolates_as_measured(executed_lab):
    """Lab 03's run (issue 17: not repeated here): every mode served every request; host mode
    sees the host's interfaces and bridge does not (the control); DNS by name only on the
    user-defined network; none has only lo; the offline run answers as the server did."""
    record = executed_lab("03").record("NetworkModes")
    assert record["outcome"]["status"] == "ran", record["outcome"]
    assert [m["mode"] for m in record["modes"]] == ["bridge", "host", "user-defined"]
    timed = record["requests"] * record["rounds"]
    for mode in record["modes"]:
        assert mode["outcome"]["status"] == "ran", mode["outcome"]
        assert mode["predict"] and mode["predict"]["requests"] == timed
    assert set(record["host_interfaces"]) <= set(record["host_mode_interfaces"])
    assert not set(record["bridge_interfaces"]) >= set(record["host_interfaces"])  # the control
    assert record["dns"]["address"] == record["server_address"] and record["dns"]["health"] == 200
    assert "error" in record["dns_default"]  # the default bridge has no DNS by name
    assert record["none_interfaces"] == ["lo"] and record["none_reach"] != "connected"
    assert record["offline"]["status"] == "ran"
    assert record["offline_top1"] == record["server_top1"]
