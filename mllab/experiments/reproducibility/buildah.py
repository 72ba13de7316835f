"""Reproducible builds with buildah: the same image ID twice.

``buildah bud --timestamp 0`` writes created = 1970-01-01 into the config and history and
clamps every file's mtime in the layers; ``SOURCE_DATE_EPOCH`` reaches the RUN steps because
:func:`reproducible_dockerfile` declares it. :func:`buildah_twice` builds twice and compares
the IDs; :func:`buildah_to_docker` loads the result into Docker to run it;
:func:`buildah_oci_digest` shows the digest a registry push would give.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.containers import base as bases
from mllab.containers.context import build_args
from mllab.containers.engine import client
from mllab.core.errors import BuildError, MllabError
from mllab.core.hashing import sha256_bytes
from mllab.core.outcome import Outcome, attempt
from mllab.core.paths import ARTIFACTS, DOCKER
from mllab.experiments.reproducibility.rebuilds import PREFIX, RebuildComparison, slim_context

#: buildah keeps its own storage here (git-ignored), apart from any system-wide store
BUILDAH_ROOT = ARTIFACTS / "buildah"
#: the fixed build time of the reproducible builds (1970-01-01, as ``--timestamp 0``)
EPOCH = 0


def reproducible_dockerfile(source: str | Path = DOCKER / "Dockerfile") -> str:
    """The slim Dockerfile with ``ARG SOURCE_DATE_EPOCH`` declared in every stage.

    buildah 1.28 passes ``--build-arg SOURCE_DATE_EPOCH`` to the RUN steps only when the
    Dockerfile declares it; with it, ``useradd`` writes the epoch (not today's date) into
    /etc/shadow. The rest of docker/Dockerfile is already reproducible (no pip cache, no
    timestamps in the unchecked-hash .pyc), so this is the only change.
    """
    lines = []
    for line in Path(source).read_text().splitlines():
        lines.append(line)
        if line.startswith("FROM "):
            lines.append("ARG SOURCE_DATE_EPOCH")
    return "\n".join(lines) + "\n"


class BuildahUnavailable(MllabError):
    """buildah cannot build on this machine (not installed, not root)."""


def buildah_status() -> str | None:
    """None when buildah can build here; otherwise why not."""
    if shutil.which("buildah") is None:
        return "buildah is not installed (apt-get install buildah)"
    if os.geteuid() != 0:
        return "buildah needs root here (rootless buildah needs subuid/subgid set up)"
    return None


def buildah_command(
    args: list[str], driver: str, check: bool = True
) -> subprocess.CompletedProcess:
    """``buildah ARGS`` on the kit's own storage (``BUILDAH_ROOT/driver``); a failure is a
    :class:`BuildError` with buildah's words unless ``check`` is false."""
    root = BUILDAH_ROOT / driver
    command = ["buildah", "--root", str(root / "root"), "--runroot", str(root / "run")]
    command += ["--storage-driver", driver, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise BuildError(f"{' '.join(command[:8])} ... failed:\n{done.stderr.strip()[-1500:]}")
    return done


def storage_driver(preferred: tuple[str, ...] = ("overlay", "vfs")) -> str:
    """The first buildah storage driver that works here (overlay needs a kernel that allows
    overlay mounts from this process; vfs always works but copies every layer in full)."""
    for driver in preferred:
        if buildah_command(["images"], driver, check=False).returncode == 0:
            return driver
    raise MllabError(f"no buildah storage driver of {preferred} works here")


@dataclass
class BuildahBuild:
    """One buildah build: the tag, the image ID (sha256 of the config) and the time."""

    tag: str
    image_id: str
    seconds: float
    driver: str
    options: list[str]


def buildah_build(
    context: Path,
    tag: str,
    timestamp: int | None = EPOCH,
    source_date_epoch: int | None = EPOCH,
    layers: bool = False,
    driver: str | None = None,
    buildargs: dict[str, str] | None = None,
) -> BuildahBuild:
    """``buildah bud`` of ``context/Dockerfile``; the base comes from the Docker engine
    (``docker-daemon:`` transport). ``timestamp`` fixes the created time and every file mtime
    in the layers; ``layers=False`` commits one layer per stage (``--layers`` one per step)."""
    if status := buildah_status():
        raise BuildahUnavailable(status)
    driver = driver or storage_driver()
    args = dict(buildargs or build_args(context))
    base = args["BASE_IMAGE"]
    if "@" in base:  # docker-daemon: takes a name:tag or an image ID, not a digest reference
        base = bases.image_id(base) or base
    args["BASE_IMAGE"] = "docker-daemon:" + base
    if source_date_epoch is not None:
        args["SOURCE_DATE_EPOCH"] = str(source_date_epoch)
    options = ["--no-cache", f"--layers={'true' if layers else 'false'}"]
    if timestamp is not None:
        options.append(f"--timestamp={timestamp}")
    command = ["bud", *options, "-f", str(context / "Dockerfile"), "-t", tag]
    for key, value in sorted(args.items()):
        command += ["--build-arg", f"{key}={value}"]
    start = time.perf_counter()
    buildah_command([*command, str(context)], driver)
    seconds = time.perf_counter() - start
    image_id = buildah_command(
        ["inspect", "--format", "{{.FromImageID}}", tag], driver
    ).stdout.strip()
    return BuildahBuild(tag, "sha256:" + image_id, seconds, driver, options)


def repro_context(model: str | Path | None = None, dockerfile: str | None = None) -> Path:
    """The slim context with ``dockerfile`` (default :func:`reproducible_dockerfile`)."""
    context = slim_context("slim-buildah", model=model)
    (context / "Dockerfile").write_text(dockerfile or reproducible_dockerfile())
    return context


@dataclass
class BuildahTwice:
    """Two buildah builds of the same context: their IDs, tags, times and options."""

    ids: list[str]
    tags: list[str]
    seconds: list[float]
    driver: str
    options: list[str]
    layers: bool
    docker_id: str | None = None  # the ID once loaded into Docker (buildah_to_docker)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def same_id(self) -> bool:
        return self.ids[0] == self.ids[1]

    def comparison(self) -> RebuildComparison:
        return RebuildComparison(Outcome.ran(), same=self.same_id, ids=list(self.ids))


def buildah_twice(
    prefix: str = PREFIX,
    model: str | Path | None = None,
    layers: bool = False,
    driver: str | None = None,
    timestamp: int | None = EPOCH,
    dockerfile: str | None = None,  # lab 06's exercise: the student's recipe
    source_date_epoch: int | None = EPOCH,
) -> BuildahTwice:
    """Two ``buildah bud --no-cache`` builds of the reproducible slim Dockerfile (same
    context): the IDs, the storage driver and the times."""
    context = repro_context(model, dockerfile)
    name = f"localhost/{prefix}/slim-buildah"
    buildah_command(
        ["rmi", "--prune"], driver or storage_driver(), check=False
    )  # earlier leftovers
    runs = [
        buildah_build(context, f"{name}:run{i}", timestamp, source_date_epoch, layers, driver)
        for i in (1, 2)
    ]
    return BuildahTwice(
        ids=[r.image_id for r in runs],
        tags=[r.tag for r in runs],
        seconds=[round(r.seconds, 1) for r in runs],
        driver=runs[0].driver,
        options=runs[0].options,
        layers=layers,
    )


def try_buildah_twice(
    prefix: str = PREFIX, model: str | Path | None = None, **options: Any
) -> tuple[RebuildComparison, BuildahTwice | None]:
    """:func:`buildah_twice` where buildah can build: the comparison (not run with the reason
    where it cannot, failed with the error where a build failed) and the builds."""
    if status := buildah_status():
        return RebuildComparison(Outcome.not_run(status)), None
    outcome, twice = attempt(buildah_twice, prefix, model, **options)
    return (twice.comparison() if twice else RebuildComparison(outcome)), twice


def buildah_to_docker(tag: str, docker_tag: str, driver: str | None = None) -> str:
    """``buildah push tag docker-daemon:docker_tag``; the ID the Docker engine gives it."""
    buildah_command(["push", tag, f"docker-daemon:{docker_tag}"], driver or storage_driver())
    image_id: str = client().images.get(docker_tag).attrs["Id"]  # the SDK types .id optional
    return image_id


def buildah_oci_digest(tag: str, driver: str | None = None) -> dict[str, Any]:
    """Push ``tag`` to an OCI layout folder (what a registry push would upload) and read the
    manifest digest: the digest a registry would list for this push (layers gzip-compressed by
    buildah; another pusher may compress differently and get another digest)."""
    with tempfile.TemporaryDirectory(prefix="mllab-oci-") as tmp:
        buildah_command(["push", tag, f"oci:{tmp}:image"], driver or storage_driver())
        index = json.loads(Path(tmp, "index.json").read_text())
        manifest = index["manifests"][0]
        body = Path(tmp, "blobs", *manifest["digest"].split(":")).read_bytes()
        return {
            "manifest_digest": manifest["digest"],
            "recomputed": "sha256:" + sha256_bytes(body),
            "media_type": manifest.get("mediaType"),
            "layers": [layer["digest"] for layer in json.loads(body)["layers"]],
        }


def buildah_remove(tags: list[str], driver: str | None = None) -> None:
    """Remove buildah images made here (quietly when gone)."""
    for tag in tags:
        buildah_command(["rmi", "-f", tag], driver or storage_driver(), check=False)
