"""The lecture's base images ("Базовые образы"), built offline as equivalents, side by side.

The lecture names four bases: ``python:3.10-slim`` (CPU inference), ``pytorch/pytorch``
(CUDA and cuDNN preinstalled), ``onnxruntime/onnxruntime`` (inference) and ``nvidia/cuda``
(full control over CUDA). No image can be pulled here, so each is an equivalent built from
what the kit has, and says so (``stands_for``):

- ``python-slim``: the kit's local base (Debian bookworm + python3, :func:`base_image`);
- ``onnxruntime``: that base plus the CPU ONNX Runtime wheel and its dependencies from the
  kit's wheelhouse (``docker/architecture/Dockerfile.onnxruntime``);
- ``pytorch``: the naive image (torch + CUDA wheels, ~10 GB, minutes to build) and ``cuda``:
  the kit's CUDA image (~3 GB). Both only when the engine already has them or ``build_heavy``
  asks; otherwise their row says "not built" and why;
- ``minimal``: the interpreter, its stdlib and the shared libraries they load copied into
  ``FROM scratch`` (``Dockerfile.minimal``): no shell, no pip, and still ``python -c``.

For each: size, filesystem layers, this run's build (cached or not, and its time), container
start time (``docker run --rm … python -c pass``, the median of ``starts``), whether it has a
shell and pip (asked of the image's own Python, so a shell-less image answers too), and the
packages its SBOM lists (:mod:`mllab.experiments.architecture.sbom`). The images are tagged
``mllab-arch-base/<name>`` for the lab to reuse; :func:`cleanup` removes them.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mllab.containers.base import base_image, has_image
from mllab.containers.build import build, build_kind, remove_image
from mllab.containers.docker_cli import docker
from mllab.containers.engine import client
from mllab.containers.kinds import kind
from mllab.containers.locks import wheel_name_version
from mllab.containers.wheelhouse import locked_wheels, wheelhouse
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.core.paths import ARTIFACTS, DOCKER
from mllab.experiments.architecture.sbom import NO_SCAN, ImageSbom, sbom

PREFIX = "mllab-arch-base"
FILES = DOCKER / "architecture"
NAMES = ("python-slim", "onnxruntime", "pytorch", "cuda", "minimal")
#: what each equivalent stands for (the lecture's name) and what it is made of here
STANDS_FOR = {
    "python-slim": ("python:3.10-slim", "the kit's local base: Debian bookworm + python3"),
    "onnxruntime": ("onnxruntime/onnxruntime", "python-slim + the ONNX Runtime CPU wheels"),
    "pytorch": ("pytorch/pytorch", "the naive image: torch + CUDA wheels, JupyterLab"),
    "cuda": ("nvidia/cuda", "the kit's CUDA image: onnxruntime-gpu + NVIDIA's CUDA wheels"),
    "minimal": ("(distroless-like)", "python3.11, its stdlib and libraries FROM scratch"),
}
#: the images built here, cheap enough to build (and cold-build) in a lab run
CHEAP = ("onnxruntime", "minimal")
#: the kit's images that stand for the heavy bases, and what building one costs
HEAVY = {"pytorch": ("naive", "~10 GB, ~3 min cold"), "cuda": ("cuda", "~3 GB, ~1 min cold")}
#: asked of each image's own Python (stdlib only): shells and pip on its PATH, the installed
#: distributions and the shared libraries in the standard library folders
PROBE = (
    "import glob, importlib.metadata as m, importlib.util as u, json, os, shutil; "
    "dirs = ('/lib', '/usr/lib', '/lib64', '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu'); "
    "print(json.dumps({'shells': [s for s in ('sh', 'bash', 'dash') if shutil.which(s)], "
    "'pip': bool(shutil.which('pip') or shutil.which('pip3') or u.find_spec('pip')), "
    "'dists': sorted({d.metadata['Name'] for d in m.distributions() if d.metadata['Name']}), "
    "'libs': sorted({os.path.basename(p) for d in dirs for p in glob.glob(d + '/*.so*')})}))"
)


def tag_of(name: str) -> str:
    """``mllab-arch-base/<name>``: where the lab finds each base."""
    return f"{PREFIX}/{name}"


@dataclass
class Probe:
    """What an image's own Python says about it: shells and pip on its PATH, the Python
    distributions it has and the shared libraries' file names."""

    shells: list[str]
    pip: bool
    dists: list[str]
    libs: list[str]


@dataclass
class BaseImage:
    """One base: what it stands for, how this run got it, and what it is."""

    name: str
    stands_for: str
    made_of: str
    tag: str
    build: Outcome
    cached: bool | None = None
    build_s: float | None = None
    size_mb: float | None = None
    layers: int | None = None
    start_ms: list[float] = field(default_factory=list)
    shells: list[str] | None = None
    pip: bool | None = None
    python_dists: int | None = None
    sbom: ImageSbom | None = None

    @property
    def start_median_ms(self) -> float | None:
        return statistics.median(self.start_ms) if self.start_ms else None


@dataclass
class BaseImages:
    """Lab 03, section "Базовые образы": every base's row, the SBOM folder, the scan note."""

    SCHEMA_VERSION: ClassVar[int] = 1

    outcome: Outcome
    images: list[BaseImage]
    sbom_dir: str
    starts: int
    vulnerability_scan: str = NO_SCAN


# --- staging and building ----------------------------------------------------------------------


def closure(top: str, wheels: list[Path]) -> list[Path]:
    """The wheels ``top`` needs (itself and, transitively, every dependency without an
    extra), read from each wheel's METADATA."""
    by_name: dict[str, Path] = {canonicalize_name(wheel_name_version(w)[0]): w for w in wheels}
    todo, seen = [str(canonicalize_name(top))], set[str]()
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        with zipfile.ZipFile(by_name[name]) as wheel:
            meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
            lines = wheel.read(meta).decode().splitlines()
        for line in lines:
            if line.startswith("Requires-Dist:"):
                req = Requirement(line.split(":", 1)[1].strip())
                if req.marker is None or req.marker.evaluate({"extra": ""}):
                    todo.append(str(canonicalize_name(req.name)))
    return sorted(by_name[n] for n in seen)


def ort_wheels() -> list[Path]:
    """ONNX Runtime's wheels for the image's Python, from the slim wheelhouse (hash-checked
    against docker/requirements.lock)."""
    lock = DOCKER / kind("slim").lock  # type: ignore[operator]  # slim has a lock
    return closure("onnxruntime", locked_wheels(lock, wheelhouse(lock, on_log=None))[0])


def stage(files: list[Path], wheels: list[Path], dest: Path) -> Path:
    """A build context: ``files`` at its top and ``wheels/`` (hard links where possible)."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "wheels").mkdir(parents=True)
    for path in files:
        shutil.copy2(path, dest / path.name)
    for wheel in wheels:
        try:
            (dest / "wheels" / wheel.name).hardlink_to(wheel)
        except OSError:
            shutil.copy2(wheel, dest / "wheels" / wheel.name)
    return dest


def build_cheap(name: str, base: str, cold: bool = False) -> tuple[Outcome, bool | None, float]:
    """Build ``onnxruntime`` or ``minimal`` on ``base`` (``cold``: ``--no-cache``): the outcome,
    whether every step came from the cache, and the build's wall time."""
    context = ARTIFACTS / "architecture" / "base-images" / name
    if name == "onnxruntime":
        stage([FILES / "Dockerfile.onnxruntime"], ort_wheels(), context)
    else:
        stage([FILES / "Dockerfile.minimal", FILES / "collect-minimal.sh"], [], context)
    dockerfile = context / f"Dockerfile.{name}"
    start = time.perf_counter()
    try:
        result = build(dockerfile, tag_of(name), context, {"BASE_IMAGE": base}, cold, None)
    except MllabError as error:
        return Outcome.failed(error), None, time.perf_counter() - start
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return Outcome.ran(), not result.rebuilt, result.seconds


def heavy(name: str, build_heavy: bool) -> tuple[Outcome, bool | None, float | None]:
    """The pytorch/cuda equivalent, only when ``build_heavy`` asks (its SBOM alone takes about
    a minute the first time): the kit's image aliased under our tag (cached when the engine
    has it, else built); otherwise not run with the reason."""
    kit_kind, cost = HEAVY[name]
    source = kind(kit_kind).tag
    seconds: float | None = None
    cached: bool | None = True
    if not build_heavy:
        there = "in the engine" if has_image(source) else "not in the engine"
        why = f"build_heavy is False: {source} ({cost}; {there}) is measured only when asked"
        return Outcome.not_run(why), None, None
    if not has_image(source):
        start = time.perf_counter()
        try:
            build_kind(kit_kind, on_log=None)
        except MllabError as error:
            return Outcome.failed(error), None, None
        seconds, cached = time.perf_counter() - start, False
    client().images.get(source).tag(tag_of(name))
    return Outcome.ran(), cached, seconds


# --- measuring ----------------------------------------------------------------------------


def probe(tag: str) -> Probe:
    """Run :data:`PROBE` in a throw-away container of ``tag`` (no network)."""
    done = docker(["run", "--rm", "--network", "none", tag, "python3", "-c", PROBE], timeout=120)
    return Probe(**json.loads(done.stdout.strip().splitlines()[-1]))


def start_times(
    tag: str, starts: int, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    """``docker run --rm <tag> python3 -c pass`` ``starts`` times: each wall time in ms."""
    times = []
    for _ in range(starts):
        begin = clock()
        docker(["run", "--rm", "--network", "none", tag, "python3", "-c", "pass"], timeout=120)
        times.append(round((clock() - begin) * 1000, 1))
    return times


def describe(row: BaseImage, sbom_dir: Path, starts: int, with_sbom: bool) -> None:
    """Fill ``row``'s size, layers, start times, probe and SBOM from the built image."""
    attrs = client().images.get(row.tag).attrs
    row.size_mb = round(attrs["Size"] / 1e6, 1)
    row.layers = len((attrs.get("RootFS") or {}).get("Layers") or [])
    row.start_ms = start_times(row.tag, starts)
    found = probe(row.tag)
    row.shells, row.pip, row.python_dists = found.shells, found.pip, len(found.dists)
    if with_sbom:
        row.sbom = sbom(row.tag, sbom_dir, row.name)


def measure_bases(
    sbom_dir: str | Path,
    *,
    starts: int = 3,
    cold: bool = False,
    build_heavy: bool = False,
    with_sbom: bool = True,
    names: tuple[str, ...] = NAMES,
) -> BaseImages:
    """Every base in ``names``: built (the cheap ones; ``cold`` rebuilds them without the
    cache), measured and listed. The images stay tagged for the lab (see :func:`cleanup`)."""
    base = base_image()
    rows = []
    for name in names:
        stands_for, made_of = STANDS_FOR[name]
        row = BaseImage(name, stands_for, made_of, tag_of(name), Outcome.ran())
        if name == "python-slim":
            client().images.get(base).tag(tag_of(name))
            row.cached = True  # made by docker/base/build-base, not in this run
        elif name in CHEAP:
            row.build, row.cached, cheap_s = build_cheap(name, base, cold)
            row.build_s = round(cheap_s, 2)
        else:
            row.build, row.cached, heavy_s = heavy(name, build_heavy)
            row.build_s = None if heavy_s is None else round(heavy_s, 2)
        if row.build.ok:
            try:
                describe(row, Path(sbom_dir), starts, with_sbom)
            except MllabError as error:  # built, but a container of it failed: the row says so
                row.build = Outcome.failed(error)
        rows.append(row)
    ran = any(r.build.ok for r in rows)
    outcome = Outcome.ran() if ran else Outcome.not_run("no base image could be built")
    return BaseImages(outcome, rows, str(sbom_dir), starts)


def base_rows(record: BaseImages) -> list[dict[str, Any]]:
    """One table row per base: what it stands for, size, layers, build, start, shell, pip and
    the SBOM's package counts."""
    rows = []
    for r in record.images:
        if not r.build.ok:
            built = str(r.build).replace("not run:", "not built:", 1)
        elif r.cached:
            built = "cached" if r.build_s is None else f"cached ({r.build_s:g} s)"
        else:
            built = f"{r.build_s:g} s"
        s = r.sbom
        rows.append(
            {
                "base": r.name,
                "stands_for": r.stands_for,
                "size_mb": r.size_mb,
                "layers": r.layers,
                "build": built,
                "start_ms": r.start_median_ms,
                "shell": None if r.shells is None else (", ".join(r.shells) or "none"),
                "pip": r.pip,
                "os_packages": s.os_packages if s else None,
                "python_packages": s.python_packages if s else None,
            }
        )
    return rows


def cleanup(names: tuple[str, ...] = NAMES) -> list[str]:
    """Remove the ``mllab-arch-base/*`` images (an alias of a kit image loses only its tag);
    returns the tags removed."""
    return [tag_of(n) for n in names if remove_image(tag_of(n))]
