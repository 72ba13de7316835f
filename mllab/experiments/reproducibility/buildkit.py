"""BuildKit's way to a reproducible image: ``rewrite-timestamp=true`` (Docker >= 25, buildx).

Every file mtime in the layers is clamped to ``SOURCE_DATE_EPOCH`` when the image is exported.
Where BuildKit cannot do it here, the comparison says why and shows the command: never
silently skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from mllab.containers.context import build_args
from mllab.containers.docker_cli import DockerCliError, buildx_available, docker
from mllab.containers.engine import client, engine_version
from mllab.core.errors import BuildError
from mllab.core.outcome import Outcome
from mllab.core.paths import ARTIFACTS
from mllab.experiments.reproducibility.buildah import EPOCH, repro_context
from mllab.experiments.reproducibility.rebuilds import PREFIX, RebuildComparison


def buildkit_command(context: Path, tag: str, epoch: int = EPOCH) -> list[str]:
    """The BuildKit way to a reproducible image (Docker ≥ 25 with buildx ≥ 0.13): every file
    mtime in the layers is clamped to ``SOURCE_DATE_EPOCH`` when the image is exported."""
    return [
        "docker",
        "buildx",
        "build",
        "--no-cache",
        "--build-arg",
        f"SOURCE_DATE_EPOCH={epoch}",
        "--output",
        f"type=docker,name={tag},rewrite-timestamp=true",
        "-f",
        str(context / "Dockerfile"),
        str(context),
    ]


def buildkit_status() -> str | None:
    """None when ``docker buildx`` and an engine ≥ 25 are here; otherwise why not."""
    version = engine_version() or "none"
    number = re.match(r"\d+", version)
    major = int(number.group()) if number else 0
    missing = []
    if not buildx_available():
        missing.append("without buildx")
    if major < 25:
        missing.append("older than 25")
    return f"Docker {version} {' and '.join(missing)}" if missing else None


def buildkit_rewrite_timestamp(
    prefix: str = PREFIX, model: str | Path | None = None
) -> RebuildComparison:
    """Two BuildKit builds with ``rewrite-timestamp=true``: same ID or not (``command`` is
    the build command, shown also where BuildKit cannot run here)."""
    tag = f"{prefix}/slim-buildkit"
    if status := buildkit_status():
        shown = buildkit_command(ARTIFACTS / "repro" / "slim-buildah", f"{tag}:run1")
        return RebuildComparison(Outcome.not_run(status), command=" ".join(shown))
    context = repro_context(model)
    ids, command = [], []
    for run in ("run1", "run2"):
        command = buildkit_command(context, f"{tag}:{run}")
        for key, value in build_args(context).items():
            command[3:3] = ["--build-arg", f"{key}={value}"]
        try:
            docker(command[1:])  # the command as shown, without its leading "docker"
        except DockerCliError as error:
            failed = Outcome.failed(BuildError(f"the BuildKit build failed: {error}"))
            return RebuildComparison(failed, command=" ".join(command))
        ids.append(client().images.get(f"{tag}:{run}").attrs["Id"])  # .id is typed optional
    return RebuildComparison(
        Outcome.ran(), same=ids[0] == ids[1], ids=ids, command=" ".join(command)
    )
