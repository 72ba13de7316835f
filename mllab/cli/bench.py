"""``mllab bench``: a batch sweep with the T(n) fit on one verified device, or the suite.

``mllab bench [--model PATH] [--device D] [--batches 1,2,4,8] [--repeats N]
[--latency-bound MS] [--json]`` and ``mllab bench --suite [--json]``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mllab.core.errors import InputError
from mllab.experiments.environment.fingerprint import cpu_info
from mllab.experiments.serving.http_overhead import HttpOverhead, http_overhead
from mllab.measure.bench import check_device, run_bench
from mllab.measure.harness import parse_batches
from mllab.measure.runners import torch_runner
from mllab.measure.suite import Workloads, format_suite, run_suite
from mllab.model.artifacts import default_model
from mllab.model.quantize import default_int8_model
from mllab.model.resnet import load_resnet50
from mllab.runtime.sessions import create_session


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mllab bench``."""
    bench = sub.add_parser(
        "bench",
        help="latency/throughput of a model on one device, or the benchmark suite",
        description="Batch sweep with T(n) = n/(a + bn) fit on one verified device; "
        "--suite measures the lecture's ratios side by side.",
    )
    bench.add_argument("--model", type=Path, default=None, help="ONNX file (default: ResNet-50)")
    bench.add_argument(
        "--device",
        choices=["cpu", "cuda", "tensorrt", "auto"],
        default="cpu",
        help="cuda/tensorrt fail (exit 2) unless ONNX Runtime really uses the GPU",
    )
    bench.add_argument("--batches", default="1,2,4,8", help="comma-separated batch sizes")
    bench.add_argument("--repeats", type=int, default=None, help="timed runs per measurement")
    bench.add_argument(
        "--latency-bound", type=float, default=None, metavar="MS", help="pick n* under this bound"
    )
    bench.add_argument("--suite", action="store_true", help="run the benchmark suite instead")
    bench.add_argument("--json", action="store_true", help="print JSON (no progress bars)")
    bench.set_defaults(func=cmd_bench)


def suite_workloads(model: Path) -> Workloads:
    """The suite's workloads for ``model`` (ResNet-50): PyTorch eager at batch 1, the cached
    INT8 model, a server started for the HTTP rows, and this machine's CPU name."""

    def torch_fn() -> Callable[[], Any]:
        return torch_runner(load_resnet50, 1, "cpu")[0]

    def http(repeats: int) -> HttpOverhead:
        return http_overhead(model, repeats=repeats, warmup=2)

    return Workloads(
        torch=torch_fn,
        int8=lambda: create_session(default_int8_model()),
        http=http,
        cpu=cpu_info()["model"],
    )


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the suite or the single-device benchmark and print it (table or JSON)."""
    if args.repeats is not None and args.repeats < 1:
        raise InputError(f"--repeats must be >= 1, not {args.repeats}")
    if args.model is not None and not args.model.is_file():
        raise InputError(f"no such model file: {args.model}")
    if args.suite:
        model = args.model or default_model()
        rows = run_suite(model, suite_workloads(model), args.repeats, progress=not args.json)
        if args.json:
            print(json.dumps([r.to_dict() for r in rows], indent=2, default=str))
        else:
            print(format_suite(rows))
        return 0
    batches = parse_batches(args.batches)  # bad input fails before any work
    device = check_device(args.device)  # a missing GPU fails before the model is exported
    report = run_bench(
        args.model or default_model(),
        device,
        batches,
        repeats=args.repeats or 10,
        latency_bound_ms=args.latency_bound,
        progress=not args.json,
    )
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return 0
