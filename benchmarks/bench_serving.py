"""HTTP / in-process latency of the inference server, per body kind, at batch 1.

Starts ``python -m mllab.serve.app`` on the model (default: the cached ResNet-50), then times
the same input over HTTP and with ``session.run`` in this process, interleaved, in one run
(``mllab.experiments.serving.http_overhead.http_overhead``). The goal, ratio ≤ 1.15 for the image
and binary bodies, is the benchmark suite's (``mllab.measure.suite.http_goals``, the same rows
as ``mllab bench --suite``), printed as measured here, never asserted: the JSON list body is
there to show what 3 MB of text costs.

    python benchmarks/bench_serving.py [--model PATH] [--repeats 20] [--threads N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from mllab.core.errors import MllabError
from mllab.core.tables import format_table
from mllab.experiments.serving.http_overhead import http_overhead
from mllab.measure.suite import HTTP_OVER_IN_PROCESS_GOAL as GOAL
from mllab.measure.suite import http_goals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="ONNX model (default: the cached ResNet-50)")
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds (default 3)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads on both sides")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        overhead = http_overhead(args.model, args.repeats, args.warmup, args.threads)
    except MllabError as error:
        print(f"bench_serving: error: {error}", file=sys.stderr)
        return 2
    rows = overhead.by_body()
    goals = http_goals(overhead)
    if args.json:
        report = {"overhead": asdict(overhead), "goal": GOAL, "goal_met": goals}
        print(json.dumps(report, indent=2))
        return 0
    print(format_table(overhead.bodies))
    print()
    for kind in goals:
        verdict = "meets" if goals[kind] else "MISSES"
        print(f"{kind:>5}: HTTP / in-process = {rows[kind].ratio:.3f} ({verdict} ≤ {GOAL})")
    print(f" json: HTTP / in-process = {rows['json'].ratio:.2f} (the lecture's JSON list)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
