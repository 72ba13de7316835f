"""Naive vs multi-stage slim image: the size ratio, measured in one run from the images as built.

Builds (idempotently: an image already built from the same inputs is reused) the naive
single-stage image (``docker/Dockerfile.naive``) and the multi-stage slim one
(``docker/Dockerfile``), optionally the CUDA one, and prints their sizes, layer counts and
naive/slim beside the issue's goal (≥ 10×). The verdict on the lecture's claim (multi-stage +
slim base + cache cleanup make an image 2–3× smaller, claim C3) is the report's judge of the
same ``ImageSizes`` record lab 04 writes; nothing is asserted here.

    python benchmarks/bench_images.py [--no-build] [--cuda] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mllab.containers.base import base_image, has_image
from mllab.containers.build import build_kind
from mllab.containers.kinds import KINDS
from mllab.containers.layers import ImageSizes, image_sizes, size_rows
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome, attempt
from mllab.core.records import SCHEMA_KEY, Results, as_fields
from mllab.core.tables import format_table
from mllab.report.claims import judge

#: the issue's goal for naive / slim
GOAL = 10.0


def measure(build: bool, cuda: bool) -> tuple[ImageSizes, list[dict]]:
    """The images' sizes (built first unless ``build`` is False) and their table rows."""
    tags, outcomes = {"base": base_image()}, {}
    for name in ["naive", "slim"] + (["cuda"] if cuda else []):
        if build:
            start = time.perf_counter()
            outcomes[name], tag = attempt(build_kind, name, on_log=None)
            print(
                f"{name}: {outcomes[name]} ({time.perf_counter() - start:.0f} s)", file=sys.stderr
            )
        else:
            tag = KINDS[name].tag if has_image(KINDS[name].tag) else None
            outcomes[name] = Outcome.ran() if tag else Outcome.not_run("--no-build and no image")
        if tag:
            tags[name] = tag
    return image_sizes(tags, outcomes), size_rows(tags)


def c3_verdict(sizes: ImageSizes) -> str:
    """The report's judgement of claim C3 on these sizes (as if lab 04 had recorded them)."""
    fields = {SCHEMA_KEY: ImageSizes.SCHEMA_VERSION, **as_fields(sizes)}
    return str(judge("C3", Results(Path("."), {"04": {"ImageSizes": fields}})))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="measure the images as they are")
    parser.add_argument("--cuda", action="store_true", help="include the CUDA image")
    parser.add_argument("--json", action="store_true", help="print the measurement as JSON")
    args = parser.parse_args(argv)
    try:
        sizes, rows = measure(build=not args.no_build, cuda=args.cuda)
    except MllabError as error:
        print(f"bench_images: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**as_fields(sizes), "rows": rows, "goal": GOAL}, indent=2))
        return 0
    print(format_table(rows, ["image", "tag", "size_mb", "layers", "x_slim"]))
    if sizes.naive_mb and sizes.slim_mb:
        print(
            f"\nnaive / slim = {sizes.naive_mb / sizes.slim_mb:.1f}x "
            f"(the issue's goal: >= {GOAL:g}x)"
        )
    print(c3_verdict(sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
