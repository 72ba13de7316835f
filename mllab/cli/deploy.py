"""``mllab deploy up|update|scale|down|ps``: lab 08's stack ``mllab08`` on Docker Swarm.

``up`` makes a one-node swarm when the engine is in none (and remembers that the kit made it),
builds the kit's nginx image if missing and deploys ``docker/swarm/stack.yml``; ``down``
removes the stack and leaves the swarm only if the kit made it. The docker SDK is imported when
a handler runs, so that ``mllab --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from mllab.core.tables import format_table


def _cmd_up(args: argparse.Namespace) -> int:
    from mllab.experiments.delivery.swarm import deploy_up  # deferred: docker SDK

    deployment = deploy_up(
        args.image, replicas=args.replicas, port=args.port, cpus=args.cpus, memory=args.memory
    )
    if args.json:
        print(json.dumps(asdict(deployment), indent=2))
    else:
        print(
            f"{deployment.stack}: {deployment.replicas} x {deployment.image} "
            f"(version {deployment.version}) at {deployment.url} in {deployment.seconds:.1f} s"
        )
    return 0


def _cmd_update(args: argparse.Namespace) -> int:
    from mllab.experiments.delivery.swarm import DEFAULT_PORT, deploy_update  # deferred: docker SDK

    url = f"http://127.0.0.1:{args.port or DEFAULT_PORT}"
    update = deploy_update(args.image, timeout=args.timeout, check=False, url=url)
    if args.json:
        print(json.dumps({**asdict(update), "ok": update.ok}, indent=2))
    else:
        print(
            f"update to {update.image}: {update.state} ({update.message}) after "
            f"{update.seconds:.1f} s; answering version {update.version}"
        )
    return 0 if update.ok else 1


def _cmd_scale(args: argparse.Namespace) -> int:
    from mllab.experiments.delivery.swarm import deploy_scale  # deferred: docker SDK

    seconds = deploy_scale(args.replicas, timeout=args.timeout)
    print(f"{args.replicas} replica(s) healthy after {seconds:.1f} s")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    from mllab.experiments.delivery.swarm import deploy_down, swarm_state  # deferred: docker SDK

    removed = deploy_down(leave=not args.keep_swarm)
    print(f"stack {'removed' if removed else 'was not deployed'}; swarm now {swarm_state()}")
    return 0


def _cmd_ps(args: argparse.Namespace) -> int:
    from mllab.experiments.delivery.swarm import service_tasks, update_state  # deferred: docker SDK

    rows = [{k: v for k, v in asdict(t).items() if k != "container_id"} for t in service_tasks()]
    print(format_table(rows[: args.last]))
    print(f"last update: {update_state()}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, not {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """``mllab deploy up|update|scale|down|ps``."""
    parser = sub.add_parser("deploy", help="the model server on Docker Swarm (stack mllab08)")
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="swarm init if none, then N replicas behind nginx")
    up.add_argument("image", help="host:port/repo@sha256:… (or a local tag on one node)")
    up.add_argument("--replicas", type=_positive, default=2)
    up.add_argument("--port", type=int, default=8087, help="nginx's port (host mode)")
    up.add_argument("--cpus", type=float, default=1.0, help="CPU limit of each replica")
    up.add_argument("--memory", default="1g", help="memory limit of each replica")
    up.add_argument("--json", action="store_true")
    up.set_defaults(func=_cmd_up)
    update = actions.add_parser("update", help="rolling update (start-first, auto rollback)")
    update.add_argument("image")
    update.add_argument("--port", type=int, help="nginx's port, to ask the version (8087)")
    update.add_argument("--timeout", type=float, default=300.0)
    update.add_argument("--json", action="store_true")
    update.set_defaults(func=_cmd_update)
    scale = actions.add_parser("scale", help="N replicas, waits until they are healthy")
    scale.add_argument("replicas", type=_positive)
    scale.add_argument("--timeout", type=float, default=240.0)
    scale.set_defaults(func=_cmd_scale)
    down = actions.add_parser("down", help="remove the stack; leave the swarm if the kit made it")
    down.add_argument("--keep-swarm", action="store_true", help="stay in a swarm the kit made")
    down.set_defaults(func=_cmd_down)
    ps = actions.add_parser("ps", help="the server's tasks, newest first, and the last update")
    ps.add_argument("--last", type=int, default=10)
    ps.set_defaults(func=_cmd_ps)
