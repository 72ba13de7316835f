"""Container overhead η and the server under load: the figures of lab 06, measured in one run.

η = T_container / T_native (lecture, "Сравнение инференса внутри и вне контейнера": 0.95 on CPU,
0.98 on GPU): the same ``session.run`` probe on the same model file with the same threads, in
the slim image and natively, alternated A B A B … (``mllab.experiments.resources.overhead``). Then the slim
server in a container under a bounded locust load (``mllab.experiments.load``), with ``docker stats``
sampled during it (``mllab.containers.monitor``). The issue's goal (η ≥ 0.97) and the lecture's figure are
printed beside what is measured, never asserted.

    python benchmarks/bench_overhead.py [--rounds 6] [--repeats 20] [--threads N]
        [--users 8] [--requests 300] [--no-load] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from mllab.measure.drift import format_table
from mllab.core.errors import MllabError

#: the issue's goal for η on CPU
GOAL = 0.97
#: the lecture's η on CPU (claim C5)
LECTURE = 0.95


def measure(args: argparse.Namespace) -> dict:
    """η over interleaved rounds, then (unless ``--no-load``) one locust run with docker stats."""
    from mllab.containers import images
    from mllab.experiments.resources import overhead, slim_image

    tag = slim_image()
    eta = overhead(tag, threads=args.threads, rounds=args.rounds, repeats=args.repeats)
    result = {"image": tag, "overhead": eta.to_dict(), "goal": GOAL, "lecture": LECTURE}
    if args.no_load:
        return result
    from mllab.experiments.load import run_load
    from mllab.containers.monitor import StatsMonitor

    with images.run(tag, name="mllab06-bench-load", read_only=True) as server:
        with StatsMonitor(server.container) as monitor:
            load = run_load(server.url, users=args.users, requests=args.requests)
    result["load"] = load.summary()
    result["docker_stats"] = monitor.summary()
    return result


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
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    eta = result["overhead"]
    rows = [
        {"round": i + 1, "container_per_s": c, "native_per_s": n, "ratio": c / n}
        for i, (c, n) in enumerate(
            zip(eta["container_throughput"], eta["native_throughput"], strict=True)
        )
    ]
    print(format_table(rows))
    verdict = "meets" if eta["eta"] >= GOAL else "misses"
    print(
        f"\neta = T_container / T_native = {eta['eta']:.3f} (median of rounds; pooled "
        f"{eta['eta_pooled']:.3f}, from median calls {eta['eta_median']:.3f}, from fastest "
        f"calls {eta['eta_best']:.3f}), "
        f"{eta['threads']} threads\n  goal >= {GOAL}: {verdict} it; the lecture says "
        f"{LECTURE} on CPU; spread of the rounds {min(eta['ratios']):.3f}..{max(eta['ratios']):.3f}"
    )
    if "load" in result:
        load, stats = result["load"], result["docker_stats"]
        print(
            f"\nload: {load['users']} users, {load['requests']} requests in "
            f"{load['duration_s']:.1f} s: {load['rps']:.2f} req/s, p50 {load['p50_ms']:.0f} ms, "
            f"p95 {load['p95_ms']:.0f} ms, p99 {load['p99_ms']:.0f} ms, "
            f"{load['failures']} failures"
        )
        print(
            f"docker stats: CPU max {stats['cpu_percent_max']:.0f} % "
            f"(mean {stats['cpu_percent_mean']:.0f} %), memory max {stats['memory_mib_max']:.0f} "
            f"MiB, GPU fields: {stats['gpu_fields'] or 'none'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
