"""Copy-on-write measured (claim C18, lecture lines 259–263: "При записи создаётся копия в
верхнем слое"): the first small write to a large file of a lower layer against the same write
elsewhere.

One image (:func:`mllab.experiments.architecture.overlay.build_layered`: a ``big_mb`` MiB file
and a 4 KiB file in one layer, on the kit's local base, with
:mod:`~mllab.experiments.architecture.write_probe` copied in). Each round is a fresh container
(a copy-up happens once per container), with a named volume on ``/vol`` and a tmpfs on
``/tmpfs``; the probe times, in an order rotated from round to round:

* the first write (open for writing, ``write_kb`` KiB, fsync) to the large lower file: overlayfs
  copies the whole file up before the write;
* the second write to it (already in the upper layer);
* the first write to the small lower file: the size control (a copy-up too, of 4 KiB);
* the first write to a file of the same size on the volume and on tmpfs (no layers);
* MB/s of a sequential write of ``big_mb`` MiB (fsync) to a new file on the writable layer, the
  volume and tmpfs.

After each round, while the stopped container still exists, the host reads the size of the
large file in its upper directory: the whole file is there, not the 4 KiB written (``not run``
where the engine's data root is not readable here). The rounds' min, median and max are kept;
a difference counts only beyond that spread. Image, containers and volume are removed at the
end, also when a step fails.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import ClassVar

from mllab.containers.base import base_image
from mllab.containers.build import remove_image
from mllab.containers.docker_cli import docker, last_json_line
from mllab.core.errors import InputError, MllabError
from mllab.core.outcome import Outcome
from mllab.experiments.architecture import write_probe
from mllab.experiments.architecture.overlay import (
    BIG,
    DATA,
    PREFIX,
    SMALL,
    build_layered,
    graph_driver,
    upper_problem,
)
from mllab.measure.stats import summarize

PROBE = Path(write_probe.__file__)
PROBE_IN = "/opt/mllab-probe/write_probe.py"
PROBE_COPY = f"COPY {PROBE.name} {PROBE_IN}\n"
PATHS = {
    "big": f"{DATA}/{BIG}",
    "small": f"{DATA}/{SMALL}",
    "volume": "/vol/same-size.bin",
    "tmpfs": "/tmpfs/same-size.bin",
    "layer": f"{DATA}/sequential.bin",
}
ORDER = tuple(write_probe.GROUPS)
#: what each target is, for tables and verdicts
TARGETS = {
    "lower_big_first": "lower layer, large file, 1st write (copy-up)",
    "lower_big_second": "lower layer, large file, 2nd write (already up)",
    "lower_small_first": "lower layer, 4 KiB file, 1st write (control)",
    "volume_first": "volume, same-size file, 1st write",
    "tmpfs_first": "tmpfs, same-size file, 1st write",
}
PLACES = {"layer": "writable layer", "volume": "volume", "tmpfs": "tmpfs"}


@dataclass
class TargetTiming:
    """One target's first-write times over the rounds (ms) and their min, median, max."""

    target: str  # a key of TARGETS
    label: str
    first_ms: list[float]
    min_ms: float
    median_ms: float
    max_ms: float

    @property
    def spread_ms(self) -> float:
        return self.max_ms - self.min_ms


@dataclass
class PlaceSpeed:
    """A sequential write of ``big_mb`` MiB to a new file on one place: MB/s per round."""

    place: str
    mbps: list[float]
    median_mbps: float
    min_mbps: float
    max_mbps: float


@dataclass
class CopyUp:
    """C18's measurement (module docstring). ``upper_big_bytes``: per round, the large file's
    size in the container's upper directory after the round (None: not seen); ``copied_up``:
    every round's upper directory held the whole file."""

    SCHEMA_VERSION: ClassVar[int] = 1

    outcome: Outcome
    base: str
    big_mb: int
    write_kb: int
    rounds: int
    targets: list[TargetTiming] = field(default_factory=list)
    sequential: list[PlaceSpeed] = field(default_factory=list)
    host: Outcome = field(default_factory=lambda: Outcome.not_run("no round ran"))
    big_bytes: int = 0
    upper_big_bytes: list[int | None] = field(default_factory=list)
    copied_up: bool | None = None

    def target(self, key: str) -> TargetTiming | None:
        return next((t for t in self.targets if t.target == key), None)


def rotated(round_index: int, order: tuple[str, ...] = ORDER) -> list[str]:
    """The groups' order in round ``round_index``: rotated by one each round (interleaving)."""
    shift = round_index % len(order)
    return list(order[shift:] + order[:shift])


def timing(key: str, values: list[float]) -> TargetTiming:
    """Min, median and max of one target's rounds (the kit's one statistics module)."""
    stats = summarize([v / 1000.0 for v in values], name=key)
    return TargetTiming(key, TARGETS[key], values, stats.min_ms, stats.median_ms, max(values))


def speed(place: str, values: list[float]) -> PlaceSpeed:
    """Median, min and max MB/s of one place's sequential writes."""
    # rates, not durations: the median of the rates themselves (summarize() takes seconds)
    return PlaceSpeed(PLACES[place], values, median(values), min(values), max(values))


def aggregate(record: CopyUp, rounds: list[dict[str, dict[str, float]]]) -> CopyUp:
    """Fill ``targets`` and ``sequential`` from the probe's per-round answers."""
    if not rounds:  # the first round failed: nothing to aggregate (the outcome says why)
        return record
    record.targets = [timing(key, [r["first_ms"][key] for r in rounds]) for key in TARGETS]
    record.sequential = [speed(p, [r["sequential_mbps"][p] for r in rounds]) for p in PLACES]
    if record.upper_big_bytes and record.host.ok:
        record.copied_up = all(size == record.big_bytes for size in record.upper_big_bytes)
    return record


def _upper_size(name: str) -> tuple[Outcome, int | None]:
    """The large file's size in container ``name``'s upper directory (None: not there)."""
    upper = graph_driver(name).upper_dir
    if why := upper_problem(upper):
        return Outcome.not_run(why), None
    copy = Path(upper) / PATHS["big"].lstrip("/")
    return Outcome.ran(), copy.stat().st_size if copy.is_file() else None


def _one_round(tag: str, volume: str, record: CopyUp, index: int) -> dict[str, dict[str, float]]:
    """One fresh container running the probe once; the upper directory read after it."""
    spec = {
        "paths": PATHS,
        "big_mb": record.big_mb,
        "write_kb": record.write_kb,
        "order": rotated(index),
    }
    name = f"{PREFIX}copyup-{os.getpid()}-{index}"
    tmpfs = f"/tmpfs:size={record.big_mb + 16}m"
    try:
        done = docker(
            ["run", "--name", name, "-v", f"{volume}:/vol", "--tmpfs", tmpfs, tag]
            + ["python3", PROBE_IN, json.dumps(spec)],
            timeout=180,
        )
        answer: dict[str, dict[str, float]] = last_json_line(done.stdout)
        record.host, size = _upper_size(name)
        record.upper_big_bytes.append(size)
    finally:
        docker(["rm", "-f", name], timeout=60, check=False)
    return answer


def copy_up_timing(
    big_mb: int = 64, write_kb: int = 4, rounds: int = 3, base: str | None = None
) -> CopyUp:
    """C18's measurement at these sizes (module docstring). A kit error on the way is a failed
    outcome with the rounds measured until then; everything is removed at the end."""
    if big_mb < 1 or write_kb < 1 or rounds < 2:
        raise InputError(
            f"need big_mb, write_kb >= 1 and rounds >= 2 (a spread), not "
            f"{big_mb}, {write_kb}, {rounds}"
        )
    base = base or base_image()
    record = CopyUp(Outcome.ran(), base, big_mb, write_kb, rounds, big_bytes=big_mb * 1024**2)
    tag, volume = f"{PREFIX}copyup:{os.getpid()}", f"{PREFIX}vol-{os.getpid()}"
    answers: list[dict[str, dict[str, float]]] = []
    try:
        build_layered(tag, big_mb, base, tail=PROBE_COPY, files=(PROBE,))
        docker(["volume", "create", volume], timeout=60)
        for index in range(rounds):
            answers.append(_one_round(tag, volume, record, index))
    except MllabError as error:  # BuildError, DockerCliError, ContainerFailed
        record.outcome = Outcome.failed(error)
    finally:
        docker(["volume", "rm", "-f", volume], timeout=60, check=False)
        remove_image(tag)
    return aggregate(record, answers)


def copy_up_rows(record: CopyUp) -> list[dict[str, object]]:
    """The copy-up table: each target's first write (ms: median, min–max over the rounds)
    and, for the places with one, the sequential write's MB/s (median, min–max)."""
    rows: list[dict[str, object]] = []
    places = {"volume_first": "volume", "tmpfs_first": "tmpfs"}
    speeds = {s.place: s for s in record.sequential}
    for t in record.targets:
        place = speeds.get(PLACES.get(places.get(t.target, ""), ""))
        rows.append(_row(t.label, t, place))
    if "writable layer" in speeds:
        rows.append(_row("writable layer, new file", None, speeds["writable layer"]))
    return rows


def _row(label: str, t: TargetTiming | None, place: PlaceSpeed | None) -> dict[str, object]:
    return {
        "target": label,
        "write ms (median)": round(t.median_ms, 3) if t else None,
        "min–max ms": f"{t.min_ms:.3g}–{t.max_ms:.3g}" if t else "",
        "seq. write MB/s (median)": round(place.median_mbps) if place else None,
        "min–max MB/s": f"{place.min_mbps:.0f}–{place.max_mbps:.0f}" if place else "",
    }
