"""Container overhead η and the server under load: the figures of lab 07, measured in one run.

η = T_container / T_native (lecture, "Сравнение инференса внутри и вне контейнера": 0.95 on CPU,
0.98 on GPU): the same ``session.run`` probe on the same model file with the same threads, in
the slim image and natively, alternated A B A B …
(``mllab.experiments.resources.overhead.overhead``). Then the slim server in a container under
a bounded locust load (``mllab.measure.load.run_load``, the ``.npy`` request of
``mllab.serve.requests``), with ``docker stats`` sampled during it
(``mllab.containers.docker_stats``). The verdict on claim C5 comes from ``mllab.report`` (its one
judge), printed beside what is measured, never asserted.

    python benchmarks/bench_overhead.py [--rounds 6] [--repeats 20] [--threads N]
        [--users 8] [--requests 300] [--no-load] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mllab.core.errors import MllabError
from mllab.core.records import SCHEMA_KEY, Results, as_fields, schema_version
from mllab.core.tables import format_table
from mllab.report.claims import judge


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """η over interleaved rounds, then (unless ``--no-load``) one locust run with docker stats."""
    from mllab.containers.docker_stats import StatsMonitor  # deferred: docker SDK start-up time
    from mllab.containers.run import run
    from mllab.experiments.resources.container_limits import slim_image
    from mllab.experiments.resources.overhead import overhead
    from mllab.measure.load import run_load
    from mllab.serve.requests import load_request

    tag = slim_image()
    eta = overhead(tag, threads=args.threads, rounds=args.rounds, repeats=args.repeats)
    result: dict[str, Any] = {"image": tag, "overhead": eta}
    if args.no_load:
        return result
    with run(tag, name="mllab07-bench-load", read_only=True) as server:
        with StatsMonitor(server.container) as monitor:
            load = run_load(server.url, load_request("npy"), args.users, requests=args.requests)
    result["load"] = load
    result["docker_stats"] = monitor.summary()
    return result


def c5_verdict(eta: Any) -> str:
    """Claim C5 judged by ``mllab.report`` on this run's ``Overhead`` record alone."""
    fields = {SCHEMA_KEY: schema_version(eta), **as_fields(eta)}
    return str(judge("C5", Results(Path("."), {"07": {"Overhead": fields}})))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="A B rounds for η")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per side and round")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: usable CPUs)")
    parser.add_argument("--users", type=int, default=8, help="locust users")
    parser.add_argument("--requests", type=int, default=300, help="requests of the load run")
    parser.add_argument("--no-load", action="store_true", help="η only")
    parser.add_argument("--json", action="store_true", help="print the measurement as JSON")
    args = parser.parse_args(argv)
    try:
        result = measure(args)
    except MllabError as error:
        print(f"bench_overhead: error: {error}", file=sys.stderr)
        return 2
    eta = result["overhead"]
    if args.json:
        result = {
            k: asdict(v) if hasattr(v, "__dataclass_fields__") else v for k, v in result.items()
        }
        print(json.dumps(result, indent=2, default=str))
        return 0
    print(
        format_table(
            [{"round": i + 1, **asdict(r), "ratio": r.ratio} for i, r in enumerate(eta.rounds)]
        )
    )
    print(
        f"\neta = T_container / T_native = {eta.eta_cpu:.3f} (median of rounds; pooled "
        f"{eta.eta_pooled:.3f}, from median calls {eta.eta_median:.3f}, from fastest calls "
        f"{eta.eta_best:.3f}), {eta.threads} threads; spread of the rounds "
        f"{min(eta.ratios):.3f}..{max(eta.ratios):.3f}\n"
    )
    print(c5_verdict(eta))
    if "load" in result:
        load, stats = result["load"], result["docker_stats"]
        print(f"\nload: {load.users} users, {load.requests} requests in {load.duration_s:.1f} s")
        print(format_table([load.row()]))
        print(
            f"docker stats: CPU max {stats['cpu_percent_max']:.0f} % "
            f"(mean {stats['cpu_percent_mean']:.0f} %), memory max {stats['memory_mib_max']:.0f} "
            f"MiB, GPU fields: {stats['gpu_fields'] or 'none'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
