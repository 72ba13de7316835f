"""Naive vs multi-stage slim image: the size ratio, measured in one run from the images as built.

Builds (idempotently: an image already built from the same inputs is reused) the naive
single-stage image (``docker/Dockerfile.naive``) and the multi-stage slim one
(``docker/Dockerfile``), optionally the CUDA one, and prints their sizes, layer counts and
naive/slim. The goal (≥ 10×) and the lecture's claim (multi-stage + slim base + cache cleanup
make an image 2–3× smaller, claim C3) are printed beside the measured ratio, never asserted.

    python benchmarks/bench_images.py [--no-build] [--cuda] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from mllab.containers import images
from mllab.measure.drift import format_table
from mllab.core.errors import MllabError

#: the issue's goal for naive / slim
GOAL = 10.0
#: the lecture's "в 2–3 раза" (section "Инженерные принципы минимизации размера")
LECTURE = (2.0, 3.0)


def measure(build: bool, cuda: bool) -> dict:
    """Sizes and ratios of the images (built first unless ``build`` is False)."""
    names = ["naive", "slim"] + (["cuda"] if cuda else [])
    tags = {}
    for name in names:
        tag = images.KINDS[name].tag
        if build:
            seconds = _timed_build(name)
            print(f"{tag}: ready ({seconds:.0f} s)", file=sys.stderr)
        tags[name] = tag
    tags["base"] = images.base_image()
    rows = images.size_rows(tags)
    sizes = {name: images.image_size_mb(tag) for name, tag in tags.items()}  # unrounded
    return {
        "rows": rows,
        "sizes_mb": sizes,
        "naive_over_slim": sizes["naive"] / sizes["slim"],
        "slim_over_base": sizes["slim"] / sizes["base"],
        "goal": GOAL,
        "lecture": list(LECTURE),
    }


def _timed_build(name: str) -> float:
    import time

    start = time.perf_counter()
    images.build_kind(name, on_log=None)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="measure the images as they are")
    parser.add_argument("--cuda", action="store_true", help="include the CUDA image")
    parser.add_argument("--json", action="store_true", help="print the measurement as JSON")
    args = parser.parse_args(argv)
    try:
        result = measure(build=not args.no_build, cuda=args.cuda)
    except MllabError as error:
        print(f"bench_images: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(format_table(result["rows"], ["image", "tag", "size_mb", "layers", "x_slim"]))
    ratio = result["naive_over_slim"]
    verdict = "meets" if ratio >= GOAL else "misses"
    print(
        f"\nnaive / slim = {ratio:.1f}x  (goal >= {GOAL:g}x: {verdict} it; "
        f"the lecture claims {LECTURE[0]:g}-{LECTURE[1]:g}x)"
    )
    print(f"slim / base  = {result['slim_over_base']:.1f}x  (the venv and the model on the base)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
