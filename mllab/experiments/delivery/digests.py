"""Claim C15: "the same Dockerfile and files give exactly the same hash", for the registry digest.

The lecture (docker images --digests): "Если собрать тот же Dockerfile с теми же файлами, мы
получим точно такой же хэш". The hash a registry keeps and a deployment pulls is the manifest
digest, so :func:`same_inputs_digests` builds the same Dockerfile over the same files twice with
each builder, pushes each build to the registry and compares the digests the registry answers:

* ``docker build --no-cache`` (the legacy builder of the 20.10 engine), twice;
* ``buildah bud --timestamp 0`` (with ``SOURCE_DATE_EPOCH=0``), twice, through
  :mod:`mllab.experiments.reproducibility.buildah` (lab 06's reproducible builds).

What is built (cheap on purpose: about 20 s for the four builds and pushes here): the first
step of the slim image's runtime stage over real files of the kit, on the same base as the slim
image (:func:`mllab.containers.base.base_image`)::

    FROM ${BASE_IMAGE}
    RUN useradd ... mllab              # as docker/Dockerfile: a RUN that writes files
    COPY requirements.lock imagenet_classes.txt /app/
    LABEL org.opencontainers.image.title="mllab-digests"

The RUN step matters: it writes files (with the build's mtimes) into a new layer, as every RUN
of the slim image does. The venv and the model are left out to keep the pushes small; they are
files like these two. Measured here: docker's two digests differ (the config's ``created``, and
the RUN and COPY layers, whose files carry the build's mtimes; the base layers agree); buildah's
two are equal (config, layers and digest). Everything built here is tagged under
``mllab-digests/`` and removed at the end; the registry keeps the pushes
(``mllab/digests-docker``, ``mllab/digests-buildah``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mllab.containers.base import base_image
from mllab.containers.build import build, remove_image
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.core.paths import DATA, DOCKER
from mllab.experiments.delivery.distribution import push, remove_local
from mllab.experiments.delivery.registry import DEFAULT_PORT, registry_running
from mllab.experiments.delivery.registry_api import manifest

# buildah's command runner is lab 06's (its storage, its error messages)
from mllab.experiments.reproducibility.buildah import (
    EPOCH,
    buildah_build,
    buildah_command,
    buildah_remove,
    buildah_status,
    storage_driver,
)

#: the Dockerfile built twice by each builder (see the module's docstring)
DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG SOURCE_DATE_EPOCH
RUN useradd --no-log-init --no-create-home --uid 10001 --user-group \\
      --home-dir /nonexistent --shell /usr/sbin/nologin mllab
COPY requirements.lock imagenet_classes.txt /app/
LABEL org.opencontainers.image.title="mllab-digests"
"""
#: the real files of the kit copied into the context
FILES = (DOCKER / "requirements.lock", DATA / "imagenet_classes.txt")
#: local tags of the builds (removed at the end) and the registry's repositories
LOCAL = "mllab-digests"
REPOSITORY = "mllab/digests-{builder}"


@dataclass
class RegistryRebuild:
    """One builder's two builds of the same inputs, as the registry holds them.

    ``digests``: the manifest digests the registry answered; ``image_ids``: the config digests
    (the IDs); ``layers``: each push's layer digests; ``same_digest`` / ``same_layers``: equal
    across the two builds (None when the builds did not run); ``differing_layers``: the
    positions of the layers that differ."""

    builder: str
    outcome: Outcome
    command: str
    digests: list[str] = field(default_factory=list)
    image_ids: list[str] = field(default_factory=list)
    layers: list[list[str]] = field(default_factory=list)
    same_digest: bool | None = None
    same_layers: bool | None = None
    differing_layers: list[int] = field(default_factory=list)  # positions, 0 = the base's
    seconds: list[float] = field(default_factory=list)


@dataclass
class RegistryRebuilds:
    """C15 record: the same Dockerfile and files built twice per builder, registry digests."""

    SCHEMA_VERSION: ClassVar[int] = 1

    docker: RegistryRebuild
    buildah: RegistryRebuild
    registry: str
    dockerfile: str
    files: list[str]
    base_image: str


def _context(folder: Path) -> Path:
    """The build context: :data:`DOCKERFILE` and the :data:`FILES`."""
    (folder / "Dockerfile").write_text(DOCKERFILE)
    for path in FILES:
        shutil.copy2(path, folder / path.name)  # copy2: the same mtimes in both builds
    return folder


def _compare(rebuild: RegistryRebuild, registry: str, repository: str) -> RegistryRebuild:
    """Fill in the config digests and layers of the two pushes, and whether they agree."""
    for digest in rebuild.digests:
        found = manifest(repository, digest, registry)
        if found is None:
            raise MllabError(f"{registry}/{repository}@{digest} is not in the registry")
        body = found[1]
        rebuild.image_ids.append(body["config"]["digest"])
        rebuild.layers.append([layer["digest"] for layer in body["layers"]])
    rebuild.same_digest = rebuild.digests[0] == rebuild.digests[1]
    rebuild.same_layers = rebuild.layers[0] == rebuild.layers[1]
    pairs = zip(rebuild.layers[0], rebuild.layers[1], strict=False)
    rebuild.differing_layers = [i for i, (a, b) in enumerate(pairs) if a != b]
    return rebuild


def _next_second() -> None:
    """Wait until the wall clock has passed into the next second.

    The legacy builder stamps the RUN layer's files with the build time at one-second
    precision (layer tars hold whole seconds), and one build here takes under a second: two
    builds in the same second can share every layer by chance. A real rebuild happens later,
    so the second build starts in a later second than the first one ended."""
    time.sleep(1.05 - time.time() % 1.0)


def docker_twice(context: Path, base: str, registry: str) -> RegistryRebuild:
    """``docker build --no-cache`` twice, each pushed; the registry's digests compared."""
    command = "docker build --no-cache --build-arg BASE_IMAGE=... (legacy builder)"
    rebuild = RegistryRebuild("docker --no-cache", Outcome.ran(), command)
    repository = REPOSITORY.format(builder="docker")
    for run in ("run1", "run2"):
        tag = f"{LOCAL}/docker:{run}"
        if run == "run2":
            _next_second()
        try:
            result = build(
                context / "Dockerfile",
                tag,
                context,
                {"BASE_IMAGE": base},
                nocache=True,
                on_log=None,
            )
            pushed = push(tag, repository, run, registry)
        finally:
            remove_local(f"{registry}/{repository}:{run}")
            remove_image(tag)
        rebuild.digests.append(pushed.digest)
        rebuild.seconds.append(round(result.seconds + pushed.seconds, 1))
    return _compare(rebuild, registry, repository)


def buildah_twice_pushed(context: Path, base: str, registry: str) -> RegistryRebuild:
    """``buildah bud --timestamp 0`` twice (lab 06's :func:`buildah_build`), each pushed with
    ``buildah push`` (plain HTTP to 127.0.0.1); the registry's digests compared."""
    command = f"buildah bud --no-cache --timestamp {EPOCH} --build-arg SOURCE_DATE_EPOCH={EPOCH}"
    rebuild = RegistryRebuild("buildah --timestamp", Outcome.ran(), command)
    repository = REPOSITORY.format(builder="buildah")
    driver = storage_driver()
    runs = {run: f"localhost/{LOCAL}/buildah:{run}" for run in ("run1", "run2")}
    tags = list(runs.values())
    try:
        for run, tag in runs.items():
            made = buildah_build(context, tag, driver=driver, buildargs={"BASE_IMAGE": base})
            start = time.perf_counter()
            rebuild.digests.append(_buildah_push(tag, f"{registry}/{repository}:{run}", driver))
            rebuild.seconds.append(round(made.seconds + time.perf_counter() - start, 1))
    finally:
        buildah_remove(tags, driver)
    return _compare(rebuild, registry, repository)


def _buildah_push(tag: str, destination: str, driver: str) -> str:
    """``buildah push tag docker://destination``; the manifest digest the registry stored."""
    with tempfile.TemporaryDirectory(prefix="mllab-digest-") as tmp:
        digest_file = Path(tmp, "digest")
        buildah_command(
            [
                "push",
                "--tls-verify=false",
                "--digestfile",
                str(digest_file),
                tag,
                f"docker://{destination}",
            ],
            driver,
        )
        return digest_file.read_text().strip()


def _attempt(builder: str, fn: Callable[..., RegistryRebuild], *args: Any) -> RegistryRebuild:
    """Run one builder's pair; a kit error becomes a failed outcome with the error."""
    try:
        return fn(*args)
    except MllabError as error:  # BuildError, TransferFailed, BuildahUnavailable, ...
        return RegistryRebuild(builder, Outcome.failed(error), "")


def same_inputs_digests(registry: str | None = None, port: int | None = None) -> RegistryRebuilds:
    """C15: the same Dockerfile and files (module docstring) built twice with
    ``docker build --no-cache`` and twice with ``buildah --timestamp 0``, each build pushed,
    the registry digests compared per builder. ``registry``: one that answers; by default the
    kit's registry is used (started for the call and stopped after it when it was not running).
    buildah missing (or not root) → that builder ``not run`` with the reason."""
    base = base_image()
    with tempfile.TemporaryDirectory(prefix="mllab-digests-") as tmp:
        context = _context(Path(tmp))
        if registry is None:
            with registry_running(port or DEFAULT_PORT) as state:
                return _both(context, base, state.address)
        return _both(context, base, registry)


def _both(context: Path, base: str, registry: str) -> RegistryRebuilds:
    docker = _attempt("docker --no-cache", docker_twice, context, base, registry)
    if why := buildah_status():
        buildah = RegistryRebuild("buildah --timestamp", Outcome.not_run(why), "")
    else:
        buildah = _attempt("buildah --timestamp", buildah_twice_pushed, context, base, registry)
    files = [str(path.relative_to(path.parents[1])) for path in FILES]
    return RegistryRebuilds(docker, buildah, registry, DOCKERFILE, files, base)


def digest_rows(result: RegistryRebuilds) -> list[dict[str, object]]:
    """One row per builder: outcome, the two digests (short), same digest, same layers."""
    return [
        {
            "builder": r.builder,
            "outcome": r.outcome,
            "digest 1": r.digests[0][:19] if r.digests else "",
            "digest 2": r.digests[1][:19] if len(r.digests) > 1 else "",
            "same digest": r.same_digest,
            "same layers": r.same_layers,
            "seconds": " + ".join(f"{s:g}" for s in r.seconds),
        }
        for r in (result.docker, result.buildah)
    ]
