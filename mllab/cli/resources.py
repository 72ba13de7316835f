"""``mllab resources cpus|oom|overhead|scale``: lab 07's experiments from the command line.

Heavy modules (the docker SDK, onnxruntime) are imported when a handler runs, so that
``mllab --help`` stays instant.
"""

from __future__ import annotations

import argparse

from mllab.core.tables import format_table
from mllab.experiments.resources.container_limits import CPUS
from mllab.experiments.resources.probe import THREAD_POLICIES


def _cmd_cpus(args: argparse.Namespace) -> int:
    from mllab.experiments.resources.cpu_sweep import cpu_sweep  # deferred: docker SDK, onnxruntime
    from mllab.experiments.resources.lc_fit import fit_sweep  # (same reason)

    sweep = cpu_sweep(
        cpus=args.cpus, policies=args.threads, repeats=args.repeats, rounds=args.rounds
    )
    print(format_table(sweep.rows()))
    for policy in args.threads:
        fit = fit_sweep(sweep.runs, policy)
        if not fit.outcome.ok:
            print(f"L(c) fit ({policy}): {fit.outcome}")
            continue
        knee = "" if fit.identified else " (c_opt >= the largest c)"
        print(
            f"L(c) fit ({policy}): c_opt={fit.c_opt:.2f} scale={fit.scale_ms:.1f} ms "
            f"R²={fit.r2:.3f}{knee}"
        )
    return 0


def _cmd_oom(args: argparse.Namespace) -> int:
    from mllab.experiments.resources.oom import oom_demo  # deferred: docker SDK

    print(oom_demo(memory=args.memory).message)
    return 0


def _cmd_overhead(args: argparse.Namespace) -> int:
    from mllab.experiments.resources.overhead import overhead  # deferred: docker SDK, onnxruntime

    result = overhead(
        threads=args.threads,
        rounds=args.rounds,
        repeats=args.repeats,
        match_cgroups=not args.unmatched,
    )
    print(
        f"eta = T_container / T_native = {result.eta_cpu:.3f} (pooled {result.eta_pooled:.3f}) "
        f"over {len(result.rounds)} interleaved rounds; per inference: native "
        f"{result.native_ms:.1f} ms, container {result.container_ms:.1f} ms"
    )
    return 0


def _cmd_scale(args: argparse.Namespace) -> int:
    from mllab.experiments.resources.scaleout import scale_out  # deferred: docker SDK

    result = scale_out(args.replicas, users=args.users, requests=args.requests, cpus=args.cpus)
    print(format_table(result.rows()))
    return 0


def _float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers such as 0.5,1,2, not {text!r}"
        ) from None


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers such as 1,2, not {text!r}") from None


def _policy_list(text: str) -> list[str | int]:
    return [int(v) if v.strip().isdigit() else v.strip() for v in text.split(",") if v.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    """``mllab resources cpus|oom|overhead|scale``."""
    parser = sub.add_parser("resources", help="--cpus/--memory limits, overhead η, scale-out")
    actions = parser.add_subparsers(dest="action", required=True)
    cpus = actions.add_parser("cpus", help="latency under --cpus quotas, throttling, L(c) fit")
    cpus.add_argument("--cpus", type=_float_list, default=list(CPUS), help="e.g. 0.5,1,2")
    cpus.add_argument(
        "--threads",
        type=_policy_list,
        default=list(THREAD_POLICIES),
        help="thread policies: host,quota or counts",
    )
    cpus.add_argument("--repeats", type=int, default=30)
    cpus.add_argument("--rounds", type=int, default=2, help="keep each point's best round")
    cpus.set_defaults(func=_cmd_cpus)
    oom = actions.add_parser("oom", help="the server under a memory limit below its need")
    oom.add_argument("--memory", default="150m")
    oom.set_defaults(func=_cmd_oom)
    over = actions.add_parser("overhead", help="η = container / native throughput")
    over.add_argument("--threads", type=int)
    over.add_argument("--rounds", type=int, default=4)
    over.add_argument("--repeats", type=int, default=20)
    over.add_argument(
        "--unmatched", action="store_true", help="native side in the host's own CPU cgroup"
    )
    over.set_defaults(func=_cmd_overhead)
    scale = actions.add_parser("scale", help="1..N replicas behind nginx under locust load")
    scale.add_argument("--replicas", type=_int_list, default=[1, 2])
    scale.add_argument("--users", type=int, default=8)
    scale.add_argument("--requests", type=int, default=300)
    scale.add_argument("--cpus", type=float, help="--cpus of each replica (default: all cores)")
    scale.set_defaults(func=_cmd_scale)
