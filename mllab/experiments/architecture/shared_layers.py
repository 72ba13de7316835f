"""One image, N containers: the disk each container adds (claim C19, lecture line 265: "общий
базовый слой … может быть использован десятками контейнеров без дублирования").

:func:`shared_layers` starts ``n`` containers of one image (by default the kit's local Debian +
Python base, the stand-in for the lecture's ``python:3.10-slim``; ``n`` = 5 stands in for the
lecture's "dozens", and the judge extrapolates), each writing one small file of ``write_kb`` KiB
into its own writable layer. Then, per container:

* the SIZE column of ``docker system df -v`` (the writable layer, as the student sees it) and
  ``docker container inspect --size`` (``SizeRw`` in bytes, and ``SizeRootFs``, the virtual size
  with the image's layers counted again for every container);
* the host's view: the disk blocks (``du``) of the container's own directories under the
  engine's data root (its upper and work directories and its ``-init`` layer; never ``merged``,
  the mounted view of the image), ``not run`` where that root is not readable here;
* its ``LowerDir`` (``docker inspect`` GraphDriver) without the ``-init`` layer: the same list of
  directories for every container means one copy of the image's layers on disk.

The free bytes of the data root's file system, before and after, are recorded too: on a shared
machine other writers move them, so they are shown and never judged. The containers are named
``mllab-arch-cow-shared-*`` and removed at the end, also when a step fails.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mllab.containers.base import base_image, image_size_mb
from mllab.containers.docker_cli import docker
from mllab.core.errors import InputError, MllabError
from mllab.core.outcome import Outcome
from mllab.experiments.architecture.overlay import PREFIX, graph_driver, upper_problem

#: the lecture's "dozens", for the stand-in's label
STAND_IN = "N = {n} containers stand in for the lecture's 'dozens'"
#: docker's human sizes (go-units HumanSize: decimal, "4.1kB", "191MB")
UNITS = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}


@dataclass
class ContainerDisk:
    """What one container adds: ``docker system df -v`` SIZE as shown, ``SizeRw`` (bytes in
    its writable layer), ``SizeRootFs`` (virtual: the image counted again) and the host's disk
    blocks of its own directories (None: not read here)."""

    name: str
    df_size: str
    size_rw_bytes: int
    virtual_bytes: int
    layer_disk_bytes: int | None = None

    @property
    def added_bytes(self) -> int:
        """The larger of the engine's and the host's count: what this container adds."""
        return max(self.size_rw_bytes, self.layer_disk_bytes or 0)


@dataclass
class SharedLayers:
    """C19's measurement (module docstring). ``same_lower``: every container's image layers
    are the same directories; ``image_layer_dirs``: how many."""

    SCHEMA_VERSION: ClassVar[int] = 1

    outcome: Outcome
    image: str
    image_bytes: int
    n: int
    write_kb: int
    stand_in: str
    containers: list[ContainerDisk] = field(default_factory=list)
    same_lower: bool | None = None
    image_layer_dirs: int = 0
    host: Outcome = field(default_factory=lambda: Outcome.not_run("no container ran"))
    free_before: int | None = None
    free_after: int | None = None
    seconds: float = 0.0

    @property
    def added_bytes(self) -> int:
        return sum(c.added_bytes for c in self.containers)


# --- pure parts --------------------------------------------------------------------------------


def parse_human_size(text: str) -> int:
    """docker's human size (``4.1kB``, ``191MB``, ``0B``; ``12kB (virtual 124MB)``) in bytes."""
    match = re.match(r"\s*([0-9.]+)\s*([kMGTP]?B)\b", text)
    if match is None:
        raise InputError(f"not a docker size: {text!r}")
    return round(float(match.group(1)) * UNITS[match.group(2)])


def df_sizes(document: dict[str, Any], names: list[str]) -> dict[str, str]:
    """``docker system df -v --format '{{json .}}'``: the SIZE shown for each of ``names``."""
    sizes = {}
    for row in document.get("Containers") or []:
        name = str(row.get("Names") or "")
        if name in names:
            sizes[name] = str(row.get("Size") or "")
    return sizes


def image_lowers(lower_dirs: list[str]) -> list[str]:
    """A container's LowerDir without its own ``-init`` layer: the image's layers."""
    return [d for d in lower_dirs if not Path(d).parent.name.endswith("-init")]


def disk_bytes(*folders: str | Path) -> int:
    """Disk blocks (``du``, bytes) under ``folders``: every entry once, links not followed."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            for name in [".", *dirs, *files]:
                st = os.lstat(os.path.join(root, name))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total


def free_bytes(folder: str) -> int | None:
    """Free bytes of the file system holding ``folder`` (None: not on this machine)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


# --- the measurement ---------------------------------------------------------------------------


def _data_root() -> str:
    return docker(["info", "--format", "{{.DockerRootDir}}"], timeout=30).stdout.strip()


def _own_dirs(lower_dirs: list[str], upper_dir: str, work_dir: str) -> list[str]:
    """The container's own directories: upper, work and the ``-init`` layer's diff."""
    init = [d for d in lower_dirs if Path(d).parent.name.endswith("-init")]
    return [upper_dir, work_dir, *init]


def _measure(record: SharedLayers, names: list[str]) -> None:
    """Per container: df SIZE, inspect --size, LowerDir, and the host's du."""
    document = json.loads(docker(["system", "df", "-v", "--format", "{{json .}}"]).stdout)
    shown = df_sizes(document, names)
    lowers = []
    host = Outcome.ran()
    for name in names:
        sizes = docker(["container", "inspect", "--size", "-f", "{{json .}}", name]).stdout
        attrs = json.loads(sizes)
        driver = graph_driver(name)
        lowers.append(image_lowers(driver.lower_dirs))
        disk = ContainerDisk(
            name, shown.get(name, ""), int(attrs.get("SizeRw") or 0), int(attrs["SizeRootFs"])
        )
        if why := upper_problem(driver.upper_dir):
            host = Outcome.not_run(why)
        else:
            own = _own_dirs(driver.lower_dirs, driver.upper_dir, driver.work_dir)
            disk.layer_disk_bytes = disk_bytes(*own)
        record.containers.append(disk)
    record.host = host
    record.same_lower = all(lower == lowers[0] for lower in lowers)
    record.image_layer_dirs = len(lowers[0])


def shared_layers(n: int = 5, write_kb: int = 4, image: str | None = None) -> SharedLayers:
    """C19's measurement (module docstring): ``n`` containers of ``image`` (default the kit's
    local base), each writing ``write_kb`` KiB; a kit error is a failed outcome."""
    if n < 2 or write_kb < 1:
        raise InputError(f"need n >= 2 containers and write_kb >= 1, not {n} and {write_kb}")
    image = image or base_image()
    record = SharedLayers(
        Outcome.ran(),
        image,
        round(image_size_mb(image) * 1e6),
        n,
        write_kb,
        STAND_IN.format(n=n),
    )
    names = [f"{PREFIX}shared-{os.getpid()}-{i}" for i in range(n)]
    write = f"head -c {write_kb * 1024} /dev/urandom > /mine.bin"
    start = time.perf_counter()
    try:
        root = _data_root()
        record.free_before = free_bytes(root)
        for name in names:
            docker(["run", "-d", "--name", name, image, "sleep", "600"], timeout=60)
            docker(["exec", name, "sh", "-c", write], timeout=30)
        _measure(record, names)
        record.free_after = free_bytes(root)
    except MllabError as error:  # DockerCliError, ...
        record.outcome = Outcome.failed(error)
    finally:
        docker(["rm", "-f", *names], timeout=120, check=False)
    record.seconds = round(time.perf_counter() - start, 2)
    return record


def shared_rows(record: SharedLayers) -> list[dict[str, object]]:
    """One row per container (what it adds, against the image), then the N together, the
    image itself (on disk once) and the data root's free bytes (other writers included)."""
    image = record.image_bytes
    rows: list[dict[str, object]] = []
    for c in record.containers:
        du = c.layer_disk_bytes if c.layer_disk_bytes is not None else str(record.host)
        rows.append(
            {
                "container": c.name,
                "SIZE (docker system df -v)": c.df_size,
                "SizeRw B": c.size_rw_bytes,
                "own dirs on disk (du) B": du,
                "adds B": c.added_bytes,
                "% of the image": _percent(c.added_bytes, image),
                "virtual MB (image counted again)": round(c.virtual_bytes / 1e6, 1),
            }
        )
    total = record.added_bytes
    rows.append(
        {
            "container": f"all {len(record.containers)} together",
            "adds B": total,
            "% of the image": _percent(total, image),
        }
    )
    rows.append({"container": "the image (on disk once)", "adds B": image})
    if record.free_before is not None and record.free_after is not None:
        change = record.free_before - record.free_after
        rows.append({"container": "data root: bytes used (any writer)", "adds B": change})
    return rows


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 4) if whole else None
