"""The build context of an image: the mllab wheel, and a folder holding only what the kind's
Dockerfile copies (so the context sent to the engine is small and its digest meaningful)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from mllab import __version__
from mllab.containers.base import base_image
from mllab.containers.kinds import LogFn, kind
from mllab.containers.wheelhouse import locked_wheels, naive_wheelhouse, pip, wheelhouse
from mllab.core.errors import InputError
from mllab.core.hashing import sha256_file
from mllab.core.paths import ARTIFACTS, DATA, DOCKER, ROOT, artifact, exclusive
from mllab.model.integrity import verify_model


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
    with exclusive(artifact("images", "dist", ".lock")):  # two kinds staged at once: one builds
        return _built_wheel(files, out, on_log)


def _built_wheel(files: list[Path], out: Path, on_log: LogFn | None) -> Path:
    """The wheel in ``out``, built there from a copy of ``files`` when it is not yet."""
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
        pip(["wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(Path(tmp, "src"))])
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
    """The cached default export (exported on first use)."""
    from mllab.model.artifacts import default_model  # deferred: exporting imports torch

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
            digest.update(f"{rel}:{sha256_file(path)}".encode())
    return digest.hexdigest()


def build_args(context: str | Path) -> dict[str, str]:
    """The build arguments of the server's Dockerfiles for a staged context: ``BASE_IMAGE``
    (:func:`base_image`), ``MODEL_SHA256`` (from ``model.onnx.sha256``), ``VERSION``."""
    sha_file = Path(context) / "model.onnx.sha256"
    if not sha_file.is_file():
        raise InputError(f"{sha_file} is missing: stage the context with stage_context()")
    sha = sha_file.read_text().split()[0]
    return {"BASE_IMAGE": base_image(), "MODEL_SHA256": sha, "VERSION": __version__}
