"""The model integrity gate: θ must be the θ that was exported (``<model>.sha256`` travels with
it). One flipped byte must stop a build before Docker sees it (:func:`build_with_gate`), a
build whose staged file changed (the Dockerfile's ``RUN sha256sum --check``,
:func:`dockerfile_refuses`), the server on the host (:func:`server_refuses`) and the server
in the container (:func:`container_refuses`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from mllab.containers.buildlog import BuildResult
from mllab.containers.docker_cli import ContainerFailed
from mllab.containers.run import run
from mllab.core.errors import BuildError, IntegrityError, MllabError
from mllab.experiments.reproducibility.rebuilds import docker_build, slim_context
from mllab.model.integrity import verify_model
from mllab.serve.process import start_server


@dataclass
class Gate:
    """One gate tried with a tampered model: did it refuse, and the line that says why."""

    gate: str
    refused: bool
    message: str


@dataclass
class IntegrityGates:
    """Lab 06's record of the gates."""

    SCHEMA_VERSION: ClassVar[int] = 1

    gates: list[Gate] = field(default_factory=list)


def build_with_gate(model: str | Path, tag: str, context_name: str = "slim-gated") -> BuildResult:
    """Build the slim image with ``model`` only if it matches its ``.sha256``.

    The check runs before anything is staged or sent to Docker, so a tampered model leaves no
    image and no context behind (:class:`~mllab.core.errors.IntegrityError`). The Dockerfile
    checks again inside the build (``RUN sha256sum --check``), which catches a file changed
    after staging.
    """
    verify_model(model)
    return docker_build(slim_context(context_name, model=model), tag)


def tampered_copy(model: str | Path, folder: str | Path) -> Path:
    """A copy of ``model`` and its digest file in ``folder`` with one byte of the model
    flipped: the digest no longer matches (for demonstrating the gates)."""
    model, folder = Path(model), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / model.name
    shutil.copyfile(model, copy)
    shutil.copyfile(model.with_name(model.name + ".sha256"), folder / (model.name + ".sha256"))
    with copy.open("r+b") as handle:
        handle.seek(copy.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return copy


def tamper_in_context(context: Path) -> None:
    """Flip one byte of the staged ``model.onnx`` (its ``.sha256`` unchanged): what the
    Dockerfile's ``RUN sha256sum --check`` has to stop."""
    path = context / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _last_error_line(text: str) -> str:
    """The line of a log that names the refusal (IntegrityError ...), else the last line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if "refusing" in line or "IntegrityError" in line or "sha256" in line:
            return line
    return lines[-1] if lines else ""


def server_refuses(model: str | Path, timeout: float = 60.0) -> Gate:
    """Start the server (``python -m mllab.serve.app``) on ``model``: refused when it exits
    before serving, with the reason it gave; a server that starts is stopped."""
    try:
        with start_server(model, timeout=timeout):
            pass
    except MllabError as error:
        return Gate("server", True, _last_error_line(str(error)))
    return Gate("server", False, "the server started and answered /ready")


def container_refuses(image: str, model: str | Path, timeout: float = 60.0) -> Gate:
    """Run ``image`` with ``model`` mounted over its ``/app/model.onnx`` (the image's digest
    file stays): refused when the container exits before it is ready."""
    volumes = {str(Path(model).resolve()): {"bind": "/app/model.onnx", "mode": "ro"}}
    try:
        with run(image, volumes=volumes, timeout=timeout):
            pass
    except ContainerFailed as error:
        return Gate("container", True, _last_error_line(str(error)))
    return Gate("container", False, "the container started and answered /ready")


def build_refuses(model: str | Path, tag: str) -> Gate:
    """:func:`build_with_gate` with ``model``: refused before Docker sees it?"""
    try:
        build_with_gate(model, tag)
    except IntegrityError as error:
        return Gate("build_with_gate", True, str(error)[:160])
    return Gate("build_with_gate", False, f"{tag} was built")


def dockerfile_refuses(model: str | Path, tag: str) -> Gate:
    """A staged context whose model changed after staging: does ``RUN sha256sum --check``
    stop the build?"""
    context = slim_context("slim-tampered", model)
    tamper_in_context(context)
    try:
        docker_build(context, tag)
    except BuildError as error:
        return Gate("dockerfile", True, str(error).splitlines()[0][:160])
    return Gate("dockerfile", False, f"{tag} was built")
