"""``mllab images {base,build,wheelhouse,lock,inspect}``: the kit's Docker images."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mllab.containers.base import (
    LOCAL_BASE,
    build_base,
    has_image,
    image_id,
    image_size_mb,
    local_base,
    record_base,
)
from mllab.containers.build import build_kind
from mllab.containers.context import mllab_wheel
from mllab.containers.kinds import KINDS, PYTHON_VERSION, kind
from mllab.containers.layers import inspect
from mllab.containers.wheelhouse import (
    lock,
    locked_wheels,
    naive_wheelhouse,
    wheelhouse,
    wheelhouse_dir,
)
from mllab.core.paths import DOCKER
from mllab.core.tables import format_table


def _cmd_base(args: argparse.Namespace) -> int:
    if args.record:  # accept what the engine holds as this machine's base
        record_base(args.tag)
    elif args.rebuild or not has_image(args.tag):
        build_base(args.tag, args.tarball)
    else:  # the check every build makes: the engine's image is the recorded one
        local_base(args.tag)
    print(f"{args.tag}  {image_id(args.tag)}  {image_size_mb(args.tag):.1f} MB")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    tag = build_kind(args.kind, model=args.model, tag=args.tag, nocache=args.no_cache)
    info = inspect(tag)
    print(f"{tag}  {info.id}  {info.size_mb:.1f} MB  ({time.perf_counter() - start:.0f} s)")
    return 0


def _cmd_wheelhouse(args: argparse.Namespace) -> int:
    for name in KINDS if args.kind == "all" else [args.kind]:
        spec = kind(name)
        if spec.lock:
            house = wheelhouse(DOCKER / spec.lock)
            files = locked_wheels(DOCKER / spec.lock, house)[0]
        else:
            files = naive_wheelhouse(mllab_wheel())
        size = sum(f.stat().st_size for f in files) / 1e6
        print(f"{name}: {len(files)} wheels, {size:.0f} MB in {wheelhouse_dir(name)}")
    return 0


def _cmd_lock(args: argparse.Namespace) -> int:
    names = [n for n, k in KINDS.items() if k.lock] if args.kind == "all" else [args.kind]
    for name in names:
        lock(name, python=args.python)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    info = inspect(args.tag)
    print(f"{info.tag}  {info.id}  {info.size_mb:.1f} MB  user={info.user or 'root'}")
    print(f"cmd={info.cmd}  ports={info.exposed_ports}  healthcheck={bool(info.healthcheck)}")
    for key, value in sorted(info.labels.items()):
        print(f"  label {key}={value}")
    print(format_table(info.layer_rows(min_mb=0.0 if args.all_layers else 0.001)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """``mllab images {base,build,wheelhouse,lock,inspect}``."""
    images = sub.add_parser("images", help="the kit's Docker images")
    actions = images.add_subparsers(dest="action", required=True)
    base = actions.add_parser("base", help="build the offline base image (mmdebstrap + import)")
    base.add_argument("--tag", default=LOCAL_BASE)
    base.add_argument("--tarball", help="keep the root filesystem tarball at this path")
    base.add_argument("--rebuild", action="store_true", help="build even if the tag exists")
    base.add_argument(
        "--record", action="store_true", help="accept the tag's image as this machine's base"
    )
    base.set_defaults(func=_cmd_base)

    build_ = actions.add_parser("build", help="build the server's slim, naive or CUDA image")
    build_.add_argument("kind", choices=sorted(KINDS))
    build_.add_argument("--tag", help="image tag (default: mllab/serve:<kind>)")
    build_.add_argument("--model", type=Path, help="ONNX model (default: the cached ResNet-50)")
    build_.add_argument("--no-cache", action="store_true", help="ignore Docker's layer cache")
    build_.set_defaults(func=_cmd_build)

    house = actions.add_parser("wheelhouse", help="download the wheels an image installs")
    house.add_argument("kind", nargs="?", default="slim", choices=[*sorted(KINDS), "all"])
    house.set_defaults(func=_cmd_wheelhouse)

    lock_ = actions.add_parser("lock", help="resolve docker/requirements-*.in into hashed locks")
    lock_.add_argument("kind", nargs="?", default="all", choices=["slim", "cuda", "all"])
    lock_.add_argument("--python", default=PYTHON_VERSION, help="the image's Python version")
    lock_.set_defaults(func=_cmd_lock)

    inspect_ = actions.add_parser("inspect", help="size, layers, labels, user of an image")
    inspect_.add_argument("tag")
    inspect_.add_argument("--all-layers", action="store_true", help="metadata layers too")
    inspect_.set_defaults(func=_cmd_inspect)
