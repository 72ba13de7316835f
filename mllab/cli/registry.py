"""``mllab registry up|down|ls``: the kit's Docker registry on 127.0.0.1 (lab 08).

``up`` starts Debian's ``docker-registry`` with its storage under ``artifacts/registry`` (or
reports the registry that already answers, or the one ``REGISTRY=host:port`` names); ``down``
stops the registry the kit started (never another one); ``ls`` lists repositories, tags and the
digest under each tag.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from mllab.core.tables import format_table
from mllab.experiments.delivery.registry import (
    DEFAULT_PORT,
    default_storage,
    external_registry,
    registry_address,
    registry_down,
    registry_up,
)
from mllab.experiments.delivery.registry_api import RepoTags, registry_ls


def ls_rows(repos: list[RepoTags]) -> list[dict[str, str]]:
    """One row per tag: repository, tag, digest."""
    return [
        {"repository": r.repository, "tag": tag, "digest": r.digests.get(tag, "")}
        for r in repos
        for tag in r.tags
    ] or [{"repository": "(empty)", "tag": "", "digest": ""}]


def _cmd_up(args: argparse.Namespace) -> int:
    state = registry_up(port=args.port)
    if state.external:
        print(f"REGISTRY={state.address} answers; the kit uses it and never starts or stops it")
    elif state.started:
        print(
            f"registry {state.version or ''} started at {state.address} (pid {state.pid}, "
            f"{state.seconds:.1f} s); storage {state.storage}, log {state.log}"
        )
    elif state.managed:
        print(f"the kit's registry already runs at {state.address} (pid {state.pid})")
    else:
        print(f"a registry already answers at {state.address} (not the kit's: left alone)")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    if registry_down():
        print(f"the kit's registry stopped (its data stay under {default_storage() / 'data'})")
    else:
        print("the kit's registry was not running: nothing to stop")
    if external := external_registry():
        print(f"REGISTRY={external} is yours: the kit never stops it")
    return 0


def _cmd_ls(args: argparse.Namespace) -> int:
    address = registry_address(args.port)
    repos = registry_ls(address)
    if args.json:
        print(json.dumps({"registry": address, "repositories": [asdict(r) for r in repos]}))
    else:
        print(f"registry {address}")
        print(format_table(ls_rows(repos)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """``mllab registry up|down|ls``."""
    parser = sub.add_parser("registry", help="the kit's Docker registry on 127.0.0.1 (lab 08)")
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start docker-registry (storage under artifacts/registry)")
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    up.set_defaults(func=_cmd_up)
    down = actions.add_parser("down", help="stop the registry the kit started")
    down.set_defaults(func=_cmd_down)
    ls = actions.add_parser("ls", help="repositories, tags and the digest under each tag")
    ls.add_argument("--port", type=int, help="default: the kit's running registry, else 5000")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=_cmd_ls)
