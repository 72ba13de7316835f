"""Push, pull back by digest, and why a tag can move while a digest cannot.

The lecture: a tag is a human label, "под ним всегда скрыт конкретный SHA256-хэш", and the
(tag, digest) pair is the contract between a model version and its environment. Here:

* :func:`push` tags a local image ``host:port/repo:tag`` and pushes it; the registry answers the
  manifest digest (``Pushed.digest``), the name by which that exact image can be pulled anywhere
  (``Pushed.by_digest``).
* :func:`pull_back` removes the image locally, pulls it by digest and compares the image IDs:
  the same config, byte for byte, came back.
* :func:`moving_tag` pushes a second image under the same tag: a pull by tag now gets the
  second, a pull by the first digest still gets the first.
* :func:`push_version` is the pipeline's Push: it refuses to overwrite a version tag that holds
  another image (:class:`ImmutableTagError`); the same image again is a no-op. The registry
  itself (distribution 2.8) has no immutable tags; the check is the kit's, made just before the
  push (two pipelines pushing the same version at the same second could still race).

Push and pull go through the docker SDK (the engine does the transfer); the registry's HTTP
API (:mod:`mllab.experiments.delivery.registry_api`) answers what a tag holds.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mllab.containers.base import image_id
from mllab.containers.build import build, remove_image
from mllab.containers.engine import client
from mllab.core.errors import InputError, MllabError
from mllab.experiments.delivery.registry import registry_address
from mllab.experiments.delivery.registry_api import manifest, manifest_digest
from mllab.experiments.delivery.versions import BuildVersion, version_of_labels

#: the repository of :func:`moving_tag`'s demonstration, and the local tags of its two images
DEMO_REPOSITORY = "mllab/demo"
DEMO_LOCAL = "mllab-registry/demo"


class ImmutableTagError(MllabError):
    """A version tag already holds another image in the registry: versions are never
    overwritten (build a new version instead)."""


class TransferFailed(MllabError):
    """The engine could not push or pull an image (the message carries its error)."""

    def __init__(self, what: str, detail: object):
        hint = ""
        if "connection refused" in str(detail):
            hint = " (is the registry up? `mllab registry up`, or set REGISTRY=host:port)"
        super().__init__(f"{what} failed: {detail}{hint}")


@dataclass
class Pushed:
    """An image in a registry: ``registry/repository:tag`` → ``digest`` (the manifest's
    sha256) of the local image ``image_id``. ``uploaded``: False when the tag already held
    this image and nothing was sent (:func:`push_version`)."""

    repository: str
    tag: str
    digest: str
    image_id: str
    registry: str
    seconds: float = 0.0
    uploaded: bool = True

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def by_tag(self) -> str:
        """``host:port/repo:tag``: what the tag holds now (it may move)."""
        return f"{self.registry}/{self.repository}:{self.tag}"

    @property
    def by_digest(self) -> str:
        """``host:port/repo@sha256:…``: exactly this image, for ever."""
        return f"{self.registry}/{self.repository}@{self.digest}"


def _local_image(reference: str) -> Any:
    """The SDK image under ``reference``; :class:`InputError` when the engine has none."""
    import docker.errors  # deferred: the docker SDK is heavy at start-up

    try:
        return client().images.get(reference)
    except docker.errors.ImageNotFound:
        raise InputError(f"the engine has no image {reference}: build or pull it first") from None


def _stream(lines: Any, what: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Read a push/pull progress stream to its end: the last ``aux`` (the push's digest) and
    each layer's last status ("Pull complete", "Already exists", ...); :class:`TransferFailed`
    on an error line."""
    aux: dict[str, Any] = {}
    layers: dict[str, str] = {}
    for line in lines:
        if "error" in line:
            detail = line.get("errorDetail", {}).get("message") or line["error"]
            raise TransferFailed(what, detail)
        aux = line.get("aux") or aux
        if line.get("id") and line.get("status") in ("Pull complete", "Already exists"):
            layers[line["id"]] = line["status"]
    return aux, layers


def push(image: str, repository: str, tag: str, registry: str | None = None) -> Pushed:
    """``docker tag image registry/repository:tag`` + ``docker push``; the registry's digest."""
    import docker.errors  # deferred: the docker SDK is heavy at start-up

    registry = registry or registry_address()
    local = _local_image(image)
    remote = f"{registry}/{repository}"
    local.tag(remote, tag)
    start = time.perf_counter()
    try:
        aux, _ = _stream(
            client().api.push(remote, tag=tag, stream=True, decode=True), f"push {remote}:{tag}"
        )
    except docker.errors.APIError as error:
        raise TransferFailed(f"push {remote}:{tag}", error.explanation or error) from None
    if "Digest" not in aux:
        raise TransferFailed(f"push {remote}:{tag}", f"no digest came back from {registry}")
    seconds = round(time.perf_counter() - start, 2)
    return Pushed(repository, tag, aux["Digest"], local.id, registry, seconds)


def pull(reference: str) -> str:
    """``docker pull reference`` (``repo:tag`` or ``repo@sha256:…``); the pulled image's ID."""
    return _pull(reference)[0]


def _pull(reference: str) -> tuple[str, dict[str, str]]:
    """:func:`pull`, and each layer's status: downloaded or already in the engine."""
    import docker.errors  # deferred: the docker SDK is heavy at start-up

    repository, sep, ref = reference.rpartition("@")
    if not sep:
        repository, sep, ref = reference.rpartition(":")
        if not sep or "/" in ref:
            raise InputError(
                f"pull {reference!r}: name a tag (repo:tag) or a digest (repo@sha256:…)"
            )
    try:
        _, layers = _stream(
            client().api.pull(repository, tag=ref, stream=True, decode=True), f"pull {reference}"
        )
    except docker.errors.APIError as error:
        raise TransferFailed(f"pull {reference}", error.explanation or error) from None
    return _local_image(reference).id, layers


def remove_local(reference: str) -> bool:
    """Remove ``reference`` from the engine (``docker rmi``; an image with other tags only
    loses this one); False when the engine had no such reference."""
    import docker.errors  # deferred: the docker SDK is heavy at start-up

    try:
        client().images.remove(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


@dataclass
class PullBack:
    """An image removed locally and pulled back by digest: the same ID or not.

    ``absent_before_pull``: the image ID was really gone from the engine (no other tag kept
    it), so the pull fetched its config from the registry; ``layers_downloaded`` /
    ``layers_present``: layers the pull downloaded / found in the engine already (shared with
    another image, e.g. the slim image under its own tag); ``retagged``: the local tags put
    back afterwards."""

    reference: str
    built_id: str
    pulled_id: str
    same_id: bool
    removed: list[str]
    absent_before_pull: bool
    seconds: float
    layers_downloaded: int = 0
    layers_present: int = 0
    retagged: list[str] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1


def pull_back(pushed: Pushed, also_remove: tuple[str, ...] = (), retag: bool = True) -> PullBack:
    """Remove ``pushed`` locally (its registry tag and ``also_remove``, e.g. the build's own
    tag), pull it by digest, compare the IDs; with ``retag`` the removed tags are put back on
    the pulled image, so the engine ends as it was."""
    removed = [ref for ref in (pushed.by_tag, *also_remove) if remove_local(ref)]
    absent = image_id(pushed.image_id) is None
    start = time.perf_counter()
    pulled, layers = _pull(pushed.by_digest)
    seconds = round(time.perf_counter() - start, 2)
    retagged = []
    for ref in removed if retag else []:
        if "@" not in ref:  # a digest reference came back with the pull
            repository, _, tag = ref.rpartition(":")
            client().images.get(pulled).tag(repository, tag)
            retagged.append(ref)
    statuses = list(layers.values())
    return PullBack(
        pushed.by_digest,
        pushed.image_id,
        pulled,
        pulled == pushed.image_id,
        removed,
        absent,
        seconds,
        statuses.count("Pull complete"),
        statuses.count("Already exists"),
        retagged,
    )


def push_version(
    image: str,
    version: BuildVersion,
    repository: str = "mllab/serve",
    registry: str | None = None,
) -> Pushed:
    """The pipeline's Push of ``image`` as ``repository:<version.tag>``.

    The image must carry ``version``'s labels (:class:`InputError` otherwise: a build that is
    not bound to its commit and model is not pushed). When the tag already exists, the same
    image (same config digest = image ID) is a no-op (``uploaded=False``); another image raises
    :class:`ImmutableTagError` and nothing is pushed."""
    registry = registry or registry_address()
    local = _local_image(image)
    labelled = version_of_labels(local.labels or {})
    if labelled != version:
        raise InputError(
            f"{image} is labelled {labelled.model_version}, not {version.model_version}: build "
            "it with labels=version.labels() before pushing it as that version"
        )
    existing = manifest(repository, version.tag, registry)
    if existing is None:
        return push(image, repository, version.tag, registry)
    digest, body = existing
    held = body.get("config", {}).get("digest")
    if held != local.id:
        raise ImmutableTagError(
            f"{registry}/{repository}:{version.tag} already holds {digest} (image {held}), not "
            f"{image} ({local.id}): a version tag is never overwritten. Commit the change (a new "
            "build number) or raise the release, and push that version instead."
        )
    local.tag(f"{registry}/{repository}", version.tag)
    return Pushed(repository, version.tag, digest, local.id, registry, 0.0, uploaded=False)


# --- a tag can move, a digest cannot ----------------------------------------------------------


def demo_image(tag: str, content: str, labels: dict[str, str] | None = None) -> str:
    """A tiny image (``FROM scratch``, one text file ``/demo.txt``) under ``tag``; its ID.
    Two contents give two images that push in a second (a few hundred bytes each)."""
    with tempfile.TemporaryDirectory(prefix="mllab-demo-") as tmp:
        Path(tmp, "demo.txt").write_text(content)
        Path(tmp, "Dockerfile").write_text("FROM scratch\nCOPY demo.txt /demo.txt\n")
        result = build(Path(tmp, "Dockerfile"), tag, tmp, on_log=None, labels=labels)
    assert result.image_id is not None  # build() raises when the build gives no image
    return result.image_id


@dataclass
class MovingTag:
    """Two images pushed under one tag: what the tag and the first digest pull afterwards.

    ``tag_moved``: the tag now resolves to the second image (its digest and ID);
    ``digest_pinned``: the first digest still pulls the first image."""

    repository: str
    tag: str
    registry: str
    first: Pushed
    second: Pushed
    tag_digest_now: str
    by_tag_id: str
    by_digest_id: str
    tag_moved: bool
    digest_pinned: bool

    SCHEMA_VERSION: ClassVar[int] = 1


def moving_tag(
    registry: str | None = None,
    images: tuple[str, str] | None = None,
    repository: str = DEMO_REPOSITORY,
    tag: str = "demo",
) -> MovingTag:
    """Push image X as ``repository:tag``, then image Y under the same tag; pull by tag (gets
    Y) and by X's digest (still X). ``images``: the two local images (default: two
    :func:`demo_image` s built here and removed again at the end)."""
    registry = registry or registry_address()
    built = images is None
    x, y = images or (f"{DEMO_LOCAL}:x", f"{DEMO_LOCAL}:y")
    made = [f"{registry}/{repository}:{tag}"]  # references removed at the end
    try:
        if built:
            demo_image(x, "image X: the first push under the tag\n")
            demo_image(y, "image Y: the second push under the same tag\n")
        first = push(x, repository, tag, registry)
        made.append(first.by_digest)
        second = push(y, repository, tag, registry)
        made.append(second.by_digest)
        remove_local(second.by_tag)  # pull what the registry says, not what the engine kept
        by_tag_id = pull(second.by_tag)
        by_digest_id = pull(first.by_digest)
        now = manifest_digest(repository, tag, registry) or ""
    finally:
        for ref in made:
            remove_local(ref)
        for ref in [x, y] if built else []:
            remove_image(ref)  # also the build's note of its stages (artifacts/images/stages)
    return MovingTag(
        repository,
        tag,
        registry,
        first,
        second,
        now,
        by_tag_id,
        by_digest_id,
        tag_moved=now == second.digest and by_tag_id == second.image_id,
        digest_pinned=by_digest_id == first.image_id and first.image_id != second.image_id,
    )
