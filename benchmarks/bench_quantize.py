"""INT8 vs fp32 ResNet-50 on ONNX Runtime's CPU provider: latency and size ratios, one run.

Takes the cached fp32 export (``mllab.model.artifacts.default_model``) and its cached INT8
model (``mllab.model.quantize.default_int8_model``), or the files given, and times both on the
same batch, interleaved (fp32, int8, fp32, ...) so that both see the same load on a shared
machine: the benchmark suite's INT8 row (``mllab.measure.suite.int8_vs_fp32``) at this batch.
The issue's figures (about 3x faster, 4x smaller on a 2-core CPU) are printed next to what is
measured here, never asserted.

    python benchmarks/bench_quantize.py [--fp32 PATH --int8 PATH] [--batch 8] [--repeats 20]
        [--threads N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mllab.core.errors import MllabError
from mllab.core.tables import format_table
from mllab.measure.drift import compare
from mllab.measure.runners import random_input
from mllab.measure.suite import int8_vs_fp32
from mllab.model.artifacts import default_model
from mllab.model.checks import load_session, run
from mllab.model.metadata import file_size_mb
from mllab.model.quantize import default_int8_model

#: what the issue says was measured on a 2-core CPU, shown for comparison only
EXPECTED = {"speedup": 3.0, "size_ratio": 4.0}


def measure(
    fp32: str, int8: str, batch: int, repeats: int, warmup: int, threads: int | None
) -> dict[str, Any]:
    """The suite's INT8 row at ``batch`` (latency interleaved), the sizes, their ratios and the
    INT8 drift, as one dict."""
    sessions = {
        "fp32": load_session(fp32, device="cpu", threads=threads),
        "int8": load_session(int8, device="cpu", threads=threads),
    }
    row = int8_vs_fp32(sessions["fp32"], sessions["int8"], repeats, batch, warmup)
    x = random_input(sessions["fp32"], batch)  # the batch the row timed
    drift = compare(run(sessions["int8"], x), run(sessions["fp32"], x))
    sizes = {"fp32": file_size_mb(fp32), "int8": file_size_mb(int8)}
    kinds = {kind: {"size_mb": sizes[kind]} for kind in sizes}
    for kind, figures in kinds.items():
        figures |= {f"{q}_ms": row.values[f"{kind}_{q}_ms"] for q in ("p50", "p90")}
    return {
        "batch": batch,
        "repeats": repeats,
        "threads": sessions["fp32"].get_session_options().intra_op_num_threads,
        **kinds,
        "speedup": row.ratio,
        "size_ratio": sizes["fp32"] / sizes["int8"],
        "drift": {"delta": drift.l2, "relative": drift.relative, "top5": drift.top5_agreement},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fp32", help="fp32 ONNX model (default: the cached dynamo export)")
    parser.add_argument("--int8", help="INT8 ONNX model (default: the cached quantized model)")
    parser.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds (default 3)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    try:
        fp32 = args.fp32 or str(default_model())
        int8 = args.int8 or str(default_int8_model())
        result = measure(fp32, int8, args.batch, args.repeats, args.warmup, args.threads)
    except MllabError as error:
        print(f"bench_quantize: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    rounds, threads = result["repeats"], result["threads"]
    print(f"batch {result['batch']}, {rounds} interleaved rounds, {threads} ORT threads")
    print(format_table([{"model": kind, **result[kind]} for kind in ("fp32", "int8")]))
    speed, size = result["speedup"], result["size_ratio"]
    print(f"INT8 is {speed:.2f}x faster (issue: about {EXPECTED['speedup']:g}x)")
    print(f"INT8 is {size:.2f}x smaller (issue: about {EXPECTED['size_ratio']:g}x)")
    d = result["drift"]
    print(f"drift vs fp32 on a random batch: delta {d['delta']:.3g}, relative {d['relative']:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
