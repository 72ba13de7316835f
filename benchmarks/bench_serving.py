"""HTTP / in-process latency of the inference server, per body kind, at batch 1.

Starts ``python -m mllab.serve.app`` on the model (default: the cached ResNet-50), then times
the same input over HTTP and with ``session.run`` in this process, interleaved, in one run
(``mllab.serve.client.http_overhead``). The goal, ratio ≤ 1.15 for the image and binary
bodies, is printed as measured here, never asserted: the JSON list body is there to show what
3 MB of text costs.

    python benchmarks/bench_serving.py [--model PATH] [--repeats 20] [--threads N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from mllab.measure.drift import format_table
from mllab.core.errors import MllabError
from mllab.serve.client import http_overhead, overhead_rows

#: HTTP / in-process at batch 1 that the image and binary bodies should stay under
GOAL = 1.15
GOAL_KINDS = ("image", "npy", "raw")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="ONNX model (default: the cached ResNet-50)")
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds (default 3)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads on both sides")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        table = http_overhead(args.model, args.repeats, args.warmup, args.threads)
    except MllabError as error:
        print(f"bench_serving: error: {error}", file=sys.stderr)
        return 2
    goals = {kind: table[kind]["ratio"] <= GOAL for kind in GOAL_KINDS}
    if args.json:
        print(json.dumps({"overhead": table, "goal": GOAL, "goal_met": goals}, indent=2))
        return 0
    print(format_table(overhead_rows(table)))
    print()
    for kind in GOAL_KINDS:
        verdict = "meets" if goals[kind] else "MISSES"
        print(f"{kind:>5}: HTTP / in-process = {table[kind]['ratio']:.3f} ({verdict} ≤ {GOAL})")
    print(f" json: HTTP / in-process = {table['json']['ratio']:.2f} (the lecture's JSON list)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
