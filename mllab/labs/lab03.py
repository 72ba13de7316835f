"""Lab 03 — Docker's architecture: the kit, as the notebook uses it.

The lab opens up what a container is on the real engine, with the slim server image of lab 04:
namespaces one at a time (claim C17), capabilities, OverlayFS and copy-on-write (C18) and one
image's layers shared by N containers (C19), the network modes and the server's latency through
each (C20), a server beside a loaded neighbour under limits and pinning (C21), PID 1 and
``docker stop`` for each form of CMD and ENTRYPOINT, and the lecture's base images built offline
as equivalents with a software bill of materials (C22).

Groups: the engine and the image; namespaces and capabilities; OverlayFS; networks and
neighbours; PID 1 and signals; base images; records, tables and claims; the exercise checks;
the clean-up.
"""

from __future__ import annotations

from typing import Any

from mllab.containers.build import build_slim_logged as build_slim
from mllab.containers.engine import ensure_engine
from mllab.core.records import load_all, record, results_dir
from mllab.core.tables import format_table, labelled
from mllab.exercises.hidden import hidden_tests
from mllab.exercises.lab03 import check_isolations, check_setup, measured_tables
from mllab.exercises.lab03_stop import check_stop
from mllab.experiments.architecture.base_images import BaseImages, base_rows, measure_bases
from mllab.experiments.architecture.base_tradeoff import measure_tradeoff, tradeoff_rows
from mllab.experiments.architecture.capabilities import (
    Capabilities,
    capability_rows,
    capability_sets,
    server_rows,
)
from mllab.experiments.architecture.cleanup import cleanup
from mllab.experiments.architecture.copy_up import copy_up_rows, copy_up_timing
from mllab.experiments.architecture.namespaces import (
    NamespaceViews,
    namespace_rows,
    namespace_views,
    view_rows,
)
from mllab.experiments.architecture.neighbours import Neighbours, neighbour_rows, neighbours
from mllab.experiments.architecture.networks import (
    Latency,
    NetworkModes,
    fact_rows,
    mode_rows,
    network_modes,
)
from mllab.experiments.architecture.overlay import (
    driver_rows,
    image_rows,
    overlay_rows,
    overlay_tour,
)
from mllab.experiments.architecture.sbom import sbom_rows
from mllab.experiments.architecture.shared_layers import shared_layers, shared_rows
from mllab.experiments.architecture.signals import (
    entrypoint_rows,
    stop_rows,
    stop_summary,
    stop_times,
)
from mllab.model.artifacts import default_model
from mllab.report.claims import judge
from mllab.report.lab_summary import lab_pages

plan, summary = lab_pages("03")  # every lab's opening and closing cells (kit-wide)

__all__ = [
    # the engine, the model and the slim server image (lab 04's)
    "ensure_engine",
    "default_model",
    "build_slim",
    # namespaces (C17) and capabilities
    "namespace_views",
    "namespace_rows",
    "view_rows",
    "listings",
    "capability_sets",
    "capability_rows",
    "server_rows",
    "capability_notes",
    # OverlayFS: layers, copy-up (C18), N containers of one image (C19)
    "overlay_tour",
    "image_rows",
    "driver_rows",
    "overlay_rows",
    "copy_up_timing",
    "copy_up_rows",
    "shared_layers",
    "shared_rows",
    # networks (C20) and a loaded neighbour (C21)
    "network_modes",
    "mode_rows",
    "fact_rows",
    "neighbours",
    "neighbour_rows",
    "setup_rows",
    # PID 1 and signals
    "stop_times",
    "stop_rows",
    "entrypoint_rows",
    "stop_summary",
    # base images (C22)
    "base_images",
    "base_rows",
    "sbom_rows",
    "measure_tradeoff",
    "tradeoff_rows",
    # records, tables and claims
    "record",
    "load_all",
    "labelled",
    "format_table",
    "judge",
    # the exercise checks
    "check_isolations",
    "check_setup",
    "measured_tables",
    "check_stop",
    "hidden_tests",
    # the clean-up
    "cleanup",
]


def listings(views: NamespaceViews) -> list[tuple[str, dict[str, int], dict[str, int]]]:
    """Exercise 1's measured cases: ``(variant, container_ns, host_ns)`` per container that
    ran, namespace name → inode, as section 1 read them."""
    out = []
    for view in views.variants:
        if not view.outcome.ok:
            continue
        inside = {n.namespace: n.container for n in view.namespaces if n.container is not None}
        host = {n.namespace: n.host for n in view.namespaces if n.host is not None}
        out.append((view.variant, inside, host))
    return out


def base_images(build_heavy: bool = False, starts: int = 3) -> BaseImages:
    """Section 7: every base equivalent measured, its CycloneDX SBOM written beside this run's
    records (``sbom/``); the torch/CUDA and CUDA ones only when ``build_heavy``."""
    return measure_bases(results_dir() / "sbom", starts=starts, build_heavy=build_heavy)


def capability_notes(caps: Capabilities) -> list[str]:
    """The whole text of what the table cuts: a setting that failed (the engine's words) and a
    stand-in run in its place (what it stands in for)."""
    notes = [f"{s.setting}: {s.outcome}" for s in caps.sets if not s.outcome.ok]
    return notes + [f"{s.setting}: {s.stand_in}" for s in caps.sets if s.stand_in]


def setup_rows(modes: NetworkModes, crowd: Neighbours) -> list[dict[str, Any]]:
    """Exercise 2's table from this run: each network mode unpinned (``/predict`` p99 and the
    spread of its rounds' p50s, measured alone), and the pinned setting of section 5 (the
    default bridge, ``--cpuset-cpus``, measured beside the loaded neighbour)."""
    rows = [_setting(m.mode, False, m.predict) for m in modes.modes if m.outcome.ok and m.predict]
    pinned = crowd.setting("--cpuset-cpus")
    if pinned is not None and pinned.outcome.ok and pinned.latency:
        rows.append(_setting("bridge", True, pinned.latency))
    return rows


def _setting(network: str, pinned: bool, latency: Latency) -> dict[str, Any]:
    return {
        "network": network,
        "pinned": pinned,
        "p99_ms": round(latency.p99_ms, 1),
        "spread_ms": round(latency.spread_ms, 1),
    }
