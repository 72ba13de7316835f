"""OverlayFS seen from both sides: an image's layers, a container's upper directory, ``docker
diff`` and whiteouts (lecture, "Файловые системы и OverlayFS", lines 253–265).

What is built, on the kit's local base (:func:`mllab.containers.base.base_image`)::

    FROM ${BASE_IMAGE}
    RUN mkdir -p /data && head -c 64M /dev/urandom > /data/big.bin && ...   # one layer
    RUN rm /data/big.bin                                 # the "deleted" variant only

The deleted variant is the same image plus one layer that removes the large file: its size, from
``docker image inspect``, does not shrink, because the file's bytes stay in the lower layer and
the new layer only holds a whiteout. :func:`overlay_tour` then runs a container of the kept
variant, reads its ``GraphDriver`` (LowerDir, UpperDir, MergedDir), writes a new file, appends to
a file of a lower layer and deletes another, and shows the result twice: ``docker diff`` (A, C,
D) and, on the host, the upper directory itself: the copied-up file (whole, not only the bytes
written) and the whiteout of the deleted one (a character device 0/0). The host side needs
read access to the engine's data root (root on the engine's machine); elsewhere that step is
``not run`` with the reason. Everything is named ``mllab-arch-cow-*`` and removed at the end.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mllab.containers.base import base_image
from mllab.containers.build import build, remove_image
from mllab.containers.docker_cli import docker
from mllab.containers.layers import inspect
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome

PREFIX = "mllab-arch-cow-"
#: the image's files: one large file, a small one, one to modify and one to delete
DATA = "/data"
BIG, SMALL, NOTE, GONE, NEW = "big.bin", "small.bin", "note.txt", "gone.txt", "new.txt"
DOCKERFILE = f"""\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
ARG BIG_MB=64
RUN mkdir -p {DATA} && head -c "${{BIG_MB}}M" /dev/urandom > {DATA}/{BIG} \\
 && head -c 4096 /dev/urandom > {DATA}/{SMALL} \\
 && echo "from a lower layer" > {DATA}/{NOTE} && echo "deleted later" > {DATA}/{GONE}
"""
#: the variant whose later layer deletes the large file
DELETE = f"RUN rm {DATA}/{BIG}\n"
#: what the container does to its file system (one shell line, run with docker exec)
WRITES = (
    f"echo new > {DATA}/{NEW} && echo appended >> {DATA}/{NOTE} && rm {DATA}/{GONE}",
    {"A": f"{DATA}/{NEW}", "C": f"{DATA}/{NOTE}", "D": f"{DATA}/{GONE}"},
)
DIFF_KINDS = {"A": "added", "C": "changed", "D": "deleted"}


@dataclass
class DiffEntry:
    """One line of ``docker diff``: A (added), C (changed) or D (deleted), and the path."""

    kind: str
    path: str


@dataclass
class UpperEntry:
    """One entry of the container's upper directory as the host sees it: a regular file (its
    size), a directory, or a whiteout (a character device, ``device`` "0/0")."""

    path: str  # as the container sees it: /data/note.txt
    kind: str  # "file", "directory", "whiteout", "char device", "other"
    size_bytes: int
    device: str = ""  # "major/minor" of a character device


@dataclass
class LayerSize:
    """One layer of ``docker history``: the instruction that made it and its size in MB."""

    instruction: str
    size_mb: float


@dataclass
class GraphDriver:
    """A container's ``docker inspect`` GraphDriver: the driver and its directories. The first
    lower directory is the container's own ``-init`` layer (/etc/hosts, resolv.conf), the
    others are the image's layers."""

    name: str
    lower_dirs: list[str]
    upper_dir: str
    merged_dir: str
    work_dir: str


@dataclass
class OverlayTour:
    """Section 3's tour: the two image variants' sizes and layers, a container's GraphDriver,
    ``docker diff`` after three writes, the upper directory seen from the host, and whether the
    modified lower file was copied up whole and the deleted one left a whiteout."""

    SCHEMA_VERSION: ClassVar[int] = 1

    outcome: Outcome
    base: str
    big_mb: int
    kept_mb: float | None = None
    deleted_mb: float | None = None
    kept_layers: list[LayerSize] = field(default_factory=list)
    deleted_layers: list[LayerSize] = field(default_factory=list)
    driver: GraphDriver | None = None
    writes: str = WRITES[0]
    diff: list[DiffEntry] = field(default_factory=list)
    host: Outcome = field(default_factory=lambda: Outcome.not_run("no container ran"))
    upper: list[UpperEntry] = field(default_factory=list)
    lower_size_bytes: int | None = None  # the modified file's size in the lower layer
    copied_up: bool | None = None  # the modified file is in the upper dir, whole
    whiteout: bool | None = None  # the deleted file is a character device 0/0 there


# --- pure parts: docker's answers read, the upper directory classified --------------------------


def parse_diff(text: str) -> list[DiffEntry]:
    """``docker diff`` output (``C /data``, ``A /data/new.txt``) as entries."""
    entries = []
    for line in text.splitlines():
        kind, _, path = line.strip().partition(" ")
        if kind in DIFF_KINDS and path:
            entries.append(DiffEntry(kind, path.strip()))
    return entries


def parse_graph_driver(document: dict[str, Any]) -> GraphDriver:
    """``docker inspect -f '{{json .GraphDriver}}'`` as a :class:`GraphDriver`."""
    data = document.get("Data") or {}
    lower = [d for d in str(data.get("LowerDir") or "").split(":") if d]
    return GraphDriver(
        name=str(document.get("Name") or ""),
        lower_dirs=lower,
        upper_dir=str(data.get("UpperDir") or ""),
        merged_dir=str(data.get("MergedDir") or ""),
        work_dir=str(data.get("WorkDir") or ""),
    )


def classify(path: str, mode: int, size: int, rdev: int) -> UpperEntry:
    """One upper-directory entry from its ``lstat`` fields. overlayfs marks a file deleted
    above a lower layer with a character device numbered 0/0 (a whiteout)."""
    if stat.S_ISCHR(mode):
        device = f"{os.major(rdev)}/{os.minor(rdev)}"
        kind = "whiteout" if device == "0/0" else "char device"
        return UpperEntry(path, kind, 0, device)
    if stat.S_ISDIR(mode):
        return UpperEntry(path, "directory", 0)
    if stat.S_ISREG(mode):
        return UpperEntry(path, "file", size)
    return UpperEntry(path, "other", size)


def scan_upper(upper_dir: str | Path) -> list[UpperEntry]:
    """Every entry under a container's upper directory, as the container names it."""
    root = Path(upper_dir)
    entries = []
    for folder, dirs, files in os.walk(root):
        for name in sorted(dirs) + sorted(files):
            full = Path(folder, name)
            st = full.lstat()
            inside = "/" + str(full.relative_to(root))
            entries.append(classify(inside, st.st_mode, st.st_size, st.st_rdev))
    return entries


def upper_problem(upper_dir: str) -> str | None:
    """None when this process can read ``upper_dir``; else why not, in words."""
    if not upper_dir:
        return "the engine reported no UpperDir (not the overlay2 driver)"
    if not os.path.isdir(upper_dir):
        return f"{upper_dir} is not on this machine (an engine elsewhere, or rootless)"
    if not os.access(upper_dir, os.R_OK | os.X_OK):
        return f"{upper_dir} is not readable by this process (needs root on the engine's host)"
    return None


def judge_upper(tour: OverlayTour) -> OverlayTour:
    """Set ``copied_up`` and ``whiteout`` from the scanned upper directory."""
    by_path = {e.path: e for e in tour.upper}
    note, gone = by_path.get(f"{DATA}/{NOTE}"), by_path.get(f"{DATA}/{GONE}")
    lower = tour.lower_size_bytes
    tour.copied_up = (
        note is not None
        and note.kind == "file"
        and lower is not None
        and note.size_bytes > lower  # the whole file and the appended line, not the line alone
    )
    tour.whiteout = gone is not None and gone.kind == "whiteout"
    return tour


# --- the images and the container -------------------------------------------------------------


def dockerfile(delete: bool = False, tail: str = "") -> str:
    """The layered image's Dockerfile; ``delete``: with the later layer that deletes the large
    file; ``tail``: more instructions (the copy-up measurement adds its probe)."""
    return DOCKERFILE + (DELETE if delete else "") + tail


def build_layered(
    tag: str,
    big_mb: int,
    base: str,
    delete: bool = False,
    tail: str = "",
    files: tuple[Path, ...] = (),
) -> str:
    """Build the layered image under ``tag`` (``files`` copied into the context); its tag."""
    with tempfile.TemporaryDirectory(prefix=PREFIX) as tmp:
        context = Path(tmp)
        (context / "Dockerfile").write_text(dockerfile(delete, tail))
        for path in files:
            (context / path.name).write_bytes(path.read_bytes())
        buildargs = {"BASE_IMAGE": base, "BIG_MB": str(big_mb)}
        build(context / "Dockerfile", tag, context, buildargs, on_log=None)
    return tag


def layer_sizes(tag: str) -> tuple[float, list[LayerSize]]:
    """``docker image inspect`` size (MB) and ``docker history`` layers of ``tag``."""
    info = inspect(tag)
    layers = [LayerSize(layer.instruction, round(layer.size_mb, 3)) for layer in info.layers]
    return round(info.size_mb, 3), layers


@contextmanager
def container(image: str, name: str, *options: str) -> Iterator[str]:
    """A detached container of ``image`` that sleeps, removed (with -f) at the end."""
    try:
        docker(["run", "-d", "--name", name, *options, image, "sleep", "600"], timeout=60)
        yield name
    finally:
        docker(["rm", "-f", name], timeout=60, check=False)


def graph_driver(name: str) -> GraphDriver:
    """``docker inspect`` GraphDriver of container ``name``."""
    done = docker(["inspect", "-f", "{{json .GraphDriver}}", name], timeout=30)
    return parse_graph_driver(json.loads(done.stdout))


def overlay_tour(big_mb: int = 64, base: str | None = None) -> OverlayTour:
    """The whole tour (module docstring); a kit error on the way is a failed outcome with
    what was seen until then. Images and the container are removed whatever happens."""
    base = base or base_image()
    tour = OverlayTour(Outcome.ran(), base, big_mb)
    tags = {"kept": f"{PREFIX}tour:kept", "deleted": f"{PREFIX}tour:deleted"}
    try:
        build_layered(tags["kept"], big_mb, base)
        build_layered(tags["deleted"], big_mb, base, delete=True)
        tour.kept_mb, tour.kept_layers = layer_sizes(tags["kept"])
        tour.deleted_mb, tour.deleted_layers = layer_sizes(tags["deleted"])
        with container(tags["kept"], f"{PREFIX}tour-{os.getpid()}") as name:
            _look_inside(tour, name)
    except MllabError as error:  # BuildError, DockerCliError, ...
        tour.outcome = Outcome.failed(error)
    finally:
        for tag in tags.values():
            remove_image(tag)
    return tour


def _look_inside(tour: OverlayTour, name: str) -> None:
    """GraphDriver, the three writes, ``docker diff`` and the upper directory of ``name``."""
    tour.driver = graph_driver(name)
    size = docker(["exec", name, "stat", "-c", "%s", f"{DATA}/{NOTE}"], timeout=30)
    tour.lower_size_bytes = int(size.stdout.strip())
    docker(["exec", name, "sh", "-c", WRITES[0]], timeout=30)
    tour.diff = parse_diff(docker(["diff", name], timeout=30).stdout)
    if why := upper_problem(tour.driver.upper_dir):
        tour.host = Outcome.not_run(why)
        return
    try:
        tour.upper = scan_upper(tour.driver.upper_dir)
    except OSError as error:
        tour.host = Outcome.failed(error)
        return
    tour.host = Outcome.ran()
    judge_upper(tour)


# --- the lab's tables ---------------------------------------------------------------------------


def image_rows(tour: OverlayTour) -> list[dict[str, object]]:
    """The two variants side by side: size and the layers above the base."""
    rows: list[dict[str, object]] = []
    for variant, size, layers in (
        ("large file kept", tour.kept_mb, tour.kept_layers),
        ("large file deleted in a later layer", tour.deleted_mb, tour.deleted_layers),
    ):
        above = [
            f"{x.instruction[:40]} ({x.size_mb:g} MB)"
            for x in layers[1:]
            if x.size_mb or x.instruction.startswith("RUN")
        ]
        rows.append(
            {
                "image": variant,
                "size_mb (docker image inspect)": size,
                "layers": len(layers),
                "RUN layers above the base (docker history)": "; ".join(above),
            }
        )
    return rows


def overlay_rows(tour: OverlayTour) -> list[dict[str, object]]:
    """Each write: what the container did, what ``docker diff`` says, what the upper dir holds."""
    diff = {(e.kind, e.path) for e in tour.diff}
    upper = {e.path: e for e in tour.upper}
    rows: list[dict[str, object]] = []
    for kind, path in WRITES[1].items():
        entry = upper.get(path)
        if not tour.host.ok:
            seen: object = tour.host
        elif entry is None:
            seen = "absent"
        else:
            seen = entry.kind + (f" {entry.device}" if entry.device else "")
            seen = f"{seen}, {entry.size_bytes} B" if entry.kind == "file" else seen
        rows.append(
            {
                "write": DIFF_KINDS[kind],
                "path": path,
                "docker diff": kind if (kind, path) in diff else "absent",
                "in UpperDir (host)": seen,
            }
        )
    return rows


def driver_rows(tour: OverlayTour) -> list[dict[str, object]]:
    """GraphDriver in one row: driver, how many lower dirs (the init layer and the image's)."""
    d = tour.driver
    if d is None:
        return [{"driver": str(tour.outcome)}]
    return [
        {
            "driver": d.name,
            "LowerDir": f"{len(d.lower_dirs)} (1 init + {len(d.lower_dirs) - 1} image layers)",
            "UpperDir": d.upper_dir,
            "MergedDir": d.merged_dir,
        }
    ]
