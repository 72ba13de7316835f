"""Building the server's images through the docker SDK's low-level API, so that every step's
log streams and cache hits are seen; idempotent builds (a digest label of the inputs)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllab.containers.base import image_id
from mllab.containers.buildlog import BuildResult, LogFile, parse_build_stream
from mllab.containers.context import build_args, context_digest, stage_context
from mllab.containers.engine import client
from mllab.containers.kinds import DIGEST_LABEL, LogFn, kind
from mllab.containers.layers import inspect_labels
from mllab.core.errors import BuildError, InputError
from mllab.core.paths import ARTIFACTS, artifact, exclusive

if TYPE_CHECKING:  # annotations only: the SDK is imported when a build starts
    from docker import APIClient


def _api() -> APIClient:
    """A low-level API client with a long read timeout: a RUN may print nothing for minutes."""
    import docker  # deferred: the SDK is heavy at start-up

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
    import docker.errors  # deferred: the SDK is heavy at start-up

    context, dockerfile = Path(context), Path(dockerfile)
    if not context.is_dir():
        raise InputError(f"the build context {context} is not a folder")
    if not dockerfile.is_file():
        dockerfile = context / dockerfile
    if not dockerfile.is_file():
        raise InputError(f"no Dockerfile at {dockerfile}")
    api = _api()
    previous = image_id(tag)
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
    keep = {_short_id(image) for image in [*new, image_id(tag) or ""]}
    for image in [previous, *old]:
        if image and _short_id(image) not in keep:
            _remove_if_untagged(image)


def _short_id(image: str) -> str:
    """``sha256:1ff1bddc8942...`` and ``1ff1bddc8942`` alike: the first 12 hex digits."""
    return image.removeprefix("sha256:")[:12]


def _remove_if_untagged(image_id: str) -> None:
    """Remove a superseded image (and its cache layers) unless it is still tagged or used."""
    import docker.errors  # deferred: the SDK is heavy at start-up

    try:
        if not client().images.get(image_id).tags:
            client().images.remove(image_id)
    except docker.errors.APIError:  # a container or another image uses it: keep it
        pass


def remove_image(tag: str) -> bool:
    """Remove an image by tag, with its untagged layers and the builder stages :func:`build`
    recorded for it; False when there was no such image."""
    import docker.errors  # deferred: the SDK is heavy at start-up

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


def last_build(name: str) -> dict[str, Any] | None:
    """The summary of the last build of a kind that really ran (seconds, cache hits), or None."""
    path = ARTIFACTS / "images" / kind(name).name / "last-build.json"
    return json.loads(path.read_text()) if path.exists() else None


def build_slim(model: str | Path | None = None, **kwargs: Any) -> str:
    """The multi-stage slim CPU image (``docker/Dockerfile``); returns its tag."""
    return build_kind("slim", model, **kwargs)


def build_slim_logged(model: str | Path | None = None) -> str:
    """:func:`build_slim` for a lab: the build log goes to this run's folder and one line says
    where (a 100-line log of ``Step n/N`` and pip lines is a wall in a notebook)."""
    log = LogFile("build-slim")
    tag = build_slim(model, on_log=log)
    print(log.summary())
    return tag


def build_naive(model: str | Path | None = None, **kwargs: Any) -> str:
    """The naive single-stage image (``docker/Dockerfile.naive``, several GB); returns its tag."""
    return build_kind("naive", model, **kwargs)


def build_cuda(model: str | Path | None = None, **kwargs: Any) -> str:
    """The CUDA image (``docker/Dockerfile.cuda``; builds without a GPU); returns its tag."""
    return build_kind("cuda", model, **kwargs)
