"""Claim C22: "the smaller the base layer, the faster the build, but the more dependencies to
install by hand" (lecture, "Базовые образы", line 413), measured on the cheap bases.

One small app (``docker/architecture/app.py``: it needs ONNX Runtime and numpy) is built on
each base with one Dockerfile (``Dockerfile.app``): its ``deps`` stage installs what the base
lacks (the app's requirements less the distributions the base's own Python lists) and the
shared libraries their extension modules load; the final stage copies both onto the base. Only
the base differs between the builds, so it is the cause the claim names.

- **Build time**: ``docker build --no-cache`` of that Dockerfile on each base, in interleaved
  rounds (the order rotates each round), so every base meets the machine's slow and fast
  moments; the spread (max − min over the rounds) is kept, and a difference counts only
  beyond it. What is timed is the build from the base on; pulling the base (what a smaller
  base saves when it is not yet local) cannot be measured offline, and the record says so.
- **By hand**: what the app image has and its base has not, asked of the images' own Python:
  Python distributions and shared libraries (by file name).
"""

from __future__ import annotations

import re
import shutil
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from packaging.utils import canonicalize_name

from mllab.containers.base import base_image, has_image, image_size_mb
from mllab.containers.build import build, remove_image
from mllab.containers.docker_cli import docker
from mllab.containers.engine import client
from mllab.containers.locks import wheel_name_version
from mllab.core.errors import InputError, MllabError
from mllab.core.outcome import Outcome
from mllab.core.paths import ARTIFACTS
from mllab.experiments.architecture.base_images import (
    FILES,
    build_cheap,
    ort_wheels,
    probe,
    stage,
    tag_of,
)

BASES = ("minimal", "python-slim", "onnxruntime")
NOT_TIMED = (
    "pulling the base is not timed: no registry answers here, and every base is already local"
)


@dataclass
class TradeoffBase:
    """The app on one base: the base's size, what was installed by hand (``packages`` asked of
    pip; ``added_dists`` and ``added_libs`` found in the app image and not in the base), every
    round's build time and whether the app ran."""

    base: str
    base_mb: float
    packages: list[str]
    added_dists: list[str] = field(default_factory=list)
    added_libs: list[str] = field(default_factory=list)
    build_s: list[float] = field(default_factory=list)
    app: Outcome = field(default_factory=lambda: Outcome.not_run("not built"))
    app_output: str = ""

    @property
    def added(self) -> int:
        """Everything added by hand: distributions and shared libraries."""
        return len(self.added_dists) + len(self.added_libs)

    @property
    def median_s(self) -> float | None:
        return round(statistics.median(self.build_s), 2) if self.build_s else None

    @property
    def spread_s(self) -> float | None:
        """max − min over the rounds (0 with one round: no spread was seen)."""
        return round(max(self.build_s) - min(self.build_s), 2) if self.build_s else None


@dataclass
class BaseTradeoff:
    """C22's measurement: the app on each base, ``rounds`` interleaved cold builds."""

    SCHEMA_VERSION: ClassVar[int] = 1

    outcome: Outcome
    bases: list[TradeoffBase]
    rounds: int
    app_needs: list[str]
    not_timed: str = NOT_TIMED


def ensure_base(name: str, base: str) -> str:
    """The cheap base ``name`` under its ``mllab-arch-base`` tag (built or aliased when
    missing); its tag."""
    tag = tag_of(name)
    if not has_image(tag):
        if name == "python-slim":
            client().images.get(base).tag(tag)
        else:
            outcome, _, _ = build_cheap(name, base)
            if not outcome.ok:
                raise InputError(f"the base {name} could not be built: {outcome.reason}")
    return tag


def lacking(needs: list[str], dists: list[str]) -> list[str]:
    """The app's requirements (canonical names) that the base's distributions lack."""
    have = {canonicalize_name(d) for d in dists}
    return [n for n in needs if canonicalize_name(n) not in have]


def libraries(files: list[str]) -> set[str]:
    """Shared library file names by soname (``libstdc++.so.6.0.30`` and its link
    ``libstdc++.so.6`` are one library: ``libstdc++.so.6``)."""
    return {re.sub(r"(\.so(?:\.\d+)?)(?:\.\d+)*$", r"\1", f) for f in files}


def rotated(names: list[str], round_: int) -> list[str]:
    """``names`` started at ``round_`` (mod len): each base goes first in its turn."""
    shift = round_ % len(names) if names else 0
    return names[shift:] + names[:shift]


def measure_tradeoff(rounds: int = 2, bases: tuple[str, ...] = BASES) -> BaseTradeoff:
    """Build the app on every base in ``bases``, ``rounds`` times each without the cache,
    interleaved; find what was added by hand. The app images are removed at the end, also
    when a step fails (the bases stay for the lab; see base_images.cleanup)."""
    if rounds < 1 or len(bases) < 2:
        raise InputError(f"need rounds >= 1 and two bases or more, not {rounds} and {bases}")
    local = base_image()
    wheels = ort_wheels()
    needs = [str(canonicalize_name(wheel_name_version(w)[0])) for w in wheels]
    context = stage(
        [FILES / "Dockerfile.app", FILES / "app.py"],
        wheels,
        ARTIFACTS / "architecture" / "base-tradeoff",
    )
    builder = ensure_base("python-slim", local)
    rows: dict[str, TradeoffBase] = {}
    probes: dict[str, Any] = {}
    try:
        for name in bases:
            tag = ensure_base(name, local)
            probes[name] = probe(tag)
            packages = lacking(needs, probes[name].dists)
            rows[name] = TradeoffBase(name, round(image_size_mb(tag), 1), packages)
        for round_ in range(rounds):
            for name in rotated(list(bases), round_):
                args = {
                    "BASE_IMAGE": tag_of(name),
                    "BUILDER_IMAGE": builder,
                    "PACKAGES": " ".join(rows[name].packages),
                }
                start = time.perf_counter()
                build(context / "Dockerfile.app", app_tag(name), context, args, True, None)
                rows[name].build_s.append(round(time.perf_counter() - start, 2))
        for name in bases:
            added = probe(app_tag(name))
            rows[name].added_dists = sorted(set(added.dists) - set(probes[name].dists))
            rows[name].added_libs = sorted(libraries(added.libs) - libraries(probes[name].libs))
            rows[name].app, rows[name].app_output = run_app(app_tag(name))
        outcome = Outcome.ran()
    except MllabError as error:
        outcome = Outcome.failed(error)
    finally:
        for name in bases:
            remove_image(app_tag(name))
        shutil.rmtree(context, ignore_errors=True)
    return BaseTradeoff(outcome, list(rows.values()), rounds, needs)


def app_tag(base: str) -> str:
    """The app image built on ``base`` (removed when the measurement ends)."""
    return f"{tag_of('app')}:{base}"


def run_app(tag: str) -> tuple[Outcome, str]:
    """Run the app once: did it import what it needs, and what did it print."""
    try:
        done = docker(["run", "--rm", "--network", "none", tag], timeout=120)
    except MllabError as error:
        return Outcome.failed(error), ""
    return Outcome.ran(), done.stdout.strip()[-200:]


def tradeoff_rows(record: BaseTradeoff) -> list[dict[str, Any]]:
    """One row per base, smallest first: size, build time (median, spread), what was added."""
    rows = []
    for b in sorted(record.bases, key=lambda b: b.base_mb):
        rows.append(
            {
                "base": b.base,
                "base_mb": b.base_mb,
                "build_s": b.median_s,
                "spread_s": b.spread_s,
                "by_hand": b.added,
                "python_added": ", ".join(b.added_dists) or "none",
                "libs_added": ", ".join(b.added_libs) or "none",
                "app": str(b.app),
            }
        )
    return rows
