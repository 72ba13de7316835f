"""The real operations behind the pipeline's stages (Docker, the registry, the swarm).

Each stage of Build → Test → Tag → Push → Deploy (:mod:`mllab.experiments.delivery.pipeline`)
calls one of these through :class:`Steps`, so that the pipeline's logic (what blocks what, what
a failure means) can be tested with small fakes, and the real run goes through the kit's one
implementation of each thing:

- build:  the slim image (``docker/Dockerfile``) from a context staged by
  :func:`~mllab.containers.context.stage_context`, with ``VERSION=model_version`` and the
  version's OCI labels (:class:`~mllab.experiments.delivery.versions.BuildVersion`), under the
  local tag :data:`CANDIDATE` (not a version yet: it has not passed the test);
- probe:  that image in a container (:func:`~mllab.containers.run.run`, read-only), asked for
  its model's sha256 twice (``sha256sum`` of the file in the image, and the server's
  ``/metadata``), and Δ container vs host on the sample images
  (:func:`~mllab.containers.parity.container_parity`);
- tag / push: the registry's functions
  (:func:`~mllab.experiments.delivery.distribution.push_version` refuses to overwrite a version
  tag);
- deploy: the swarm stack (:func:`~mllab.experiments.delivery.swarm.deploy_up`, or
  :func:`~mllab.experiments.delivery.swarm.deploy_update` when the stack already runs), then the
  deployed service is asked which model it serves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mllab.containers.build import build
from mllab.containers.context import build_args, stage_context
from mllab.containers.engine import client
from mllab.containers.kinds import LogFn
from mllab.containers.layers import inspect_labels
from mllab.containers.parity import container_parity
from mllab.containers.run import run
from mllab.core.errors import MllabError
from mllab.core.paths import ARTIFACTS, exclusive
from mllab.experiments.delivery.distribution import ImmutableTagError, Pushed, push_version
from mllab.experiments.delivery.registry import base_url, registry_running
from mllab.experiments.delivery.registry_api import manifest
from mllab.experiments.delivery.swarm import (
    DEFAULT_PORT,
    deploy_scale,
    deploy_up,
    deploy_update,
    swarm_state,
    wanted_replicas,
)
from mllab.experiments.delivery.versions import LABEL_MODEL_SHA256, BuildVersion
from mllab.model.preprocess import preprocess_batch, sample_images

#: the local tag of the image under test: it gets a version tag only after the test passed
CANDIDATE = "mllab/serve:candidate"
#: the repository the pipeline pushes to (``<registry>/mllab/serve:<release>-build.N``)
REPOSITORY = "mllab/serve"
#: how many times the deployed service is asked which model it serves (replicas × this)
ASKS_PER_REPLICA = 3


def build_candidate(
    model: Path, version: BuildVersion, on_log: LogFn | None = None
) -> tuple[str, str]:
    """Build the slim image of ``model`` as ``version``; ``(local tag, image ID)``.

    The context is staged in ``artifacts/pipeline/context`` (the model is verified against its
    ``.sha256`` first); the same lock as :func:`~mllab.containers.build.build_kind` keeps two
    stagings of the shared wheelhouse apart. Docker's cache makes a rebuild of the same inputs
    take seconds: only the layers after ``ARG VERSION`` and the labels are new.
    """
    with exclusive(ARTIFACTS / "images" / "slim" / ".build.lock"):
        context = stage_context(
            "slim", dest=ARTIFACTS / "pipeline" / "context", model=model, on_log=on_log
        )
    buildargs = {**build_args(context), "VERSION": version.model_version}
    result = build(
        context / "Dockerfile",
        CANDIDATE,
        context,
        buildargs,
        on_log=on_log,
        labels=version.labels(),
    )
    assert result.image_id is not None  # build() raises BuildError otherwise
    return CANDIDATE, result.image_id


def served(url: str) -> dict[str, Any]:
    """What the server at ``url`` says it serves: ``sha256`` and ``model_version`` from
    ``/metadata``, and the ``X-Model-Version`` header it answered with."""
    response = httpx.get(f"{url}/metadata", timeout=10.0)
    response.raise_for_status()
    meta = response.json()
    return {
        "sha256": meta["model"]["sha256"],
        "model_version": meta.get("model_version"),
        "header_version": response.headers.get("x-model-version"),
    }


def probe_image(image: str, model: Path) -> dict[str, Any]:
    """Run ``image`` (read-only) and measure what the Test stage judges: the model's sha256 in
    the image (``sha256sum`` of ``/app/model.onnx``), what the server says it serves, the
    image's label, and Δ container vs host (``model`` on the host) on the sample images."""
    x = preprocess_batch(sample_images())
    with run(image, read_only=True) as container:
        code, output = container.exec(["sha256sum", "/app/model.onnx"])
        answer = served(container.url)
        parity = container_parity(container.url, model, x)
    return {
        "sha256_in_image": output.split()[0] if code == 0 and output.split() else None,
        "sha256_served": answer["sha256"],
        "sha256_label": inspect_labels(image).get(LABEL_MODEL_SHA256),
        "model_version_served": answer["model_version"],
        "parity": str(parity.outcome),
        "delta_l2": parity.delta_l2,
        "max_abs": parity.max_abs,
        "top1_agreement": parity.top1_agreement,
        "n": parity.n,
    }


def check_tag_free(image: str, version: BuildVersion, registry: str) -> str:
    """The Tag stage's check: ``registry/mllab/serve:<tag>`` is free, or already holds this
    very image (a rerun). :class:`ImmutableTagError` when it holds another image; returns the
    reference by tag the push will create."""
    reference = f"{registry}/{REPOSITORY}:{version.tag}"
    existing = manifest(REPOSITORY, version.tag, registry)
    if existing is not None:
        held = existing[1].get("config", {}).get("digest")
        local = client().images.get(image).id
        if held != local:
            raise ImmutableTagError(
                f"{reference} already holds {existing[0]} (image {held}), not {image} ({local}): "
                "a version tag is never overwritten. Commit the change (a new build number) or "
                "raise the release (--release), and run the pipeline again."
            )
    return reference


def registry_labels(pushed: Pushed) -> dict[str, str]:
    """The labels of the image the registry holds under ``pushed.digest``, read from the
    registry itself (manifest → config blob): what anyone who pulls by digest gets."""
    found = manifest(pushed.repository, pushed.digest, pushed.registry)
    if found is None:
        raise MllabError(f"{pushed.by_digest} is not in the registry after the push")
    config = found[1]["config"]["digest"]
    url = f"{base_url(pushed.registry)}/v2/{pushed.repository}/blobs/{config}"
    response = httpx.get(url, timeout=30.0, follow_redirects=True)
    response.raise_for_status()
    return dict(response.json().get("config", {}).get("Labels") or {})


def deploy_swarm(reference: str, replicas: int, port: int = DEFAULT_PORT) -> str:
    """Run ``reference`` on the swarm stack ``mllab08``: :func:`deploy_up` (which makes a swarm
    if there is none), or a rolling :func:`deploy_update` (then a scale to ``replicas``) when
    the stack already runs; the URL of nginx in front of the replicas (on ``port``)."""
    if swarm_state() == "active" and _stack_runs():
        url = f"http://127.0.0.1:{port}"
        deploy_update(reference, url=url)
        if wanted_replicas() != replicas:
            deploy_scale(replicas)
        return url
    return deploy_up(reference, replicas=replicas, port=port).url


def _stack_runs() -> bool:
    """True when the stack's server service exists (:func:`wanted_replicas` raises if not)."""
    try:
        wanted_replicas()
    except MllabError:
        return False
    return True


def ask_deployed(url: str, replicas: int) -> list[dict[str, Any]]:
    """Ask the deployed service (through nginx) a few times per replica which model it serves,
    so that every replica is likely asked at least once."""
    return [served(url) for _ in range(max(1, replicas) * ASKS_PER_REPLICA)]


@contextlib.contextmanager
def kit_registry(address: str | None) -> Iterator[str]:
    """The registry for Tag / Push: ``address`` as given, else the one that answers (or the
    kit's, started for the block and stopped after it: see
    :func:`~mllab.experiments.delivery.registry.registry_running`)."""
    if address:
        yield address
        return
    with registry_running() as state:
        yield state.address


@dataclass
class Steps:
    """What the stages call; :func:`real_steps` by default, small fakes in tests."""

    version: Callable[[str, Path], BuildVersion]
    build: Callable[[Path, BuildVersion], tuple[str, str]]
    probe: Callable[[str, Path], dict[str, Any]]
    registry: Callable[[str | None], contextlib.AbstractContextManager[str]]
    tag: Callable[[str, BuildVersion, str], str]
    push: Callable[[str, BuildVersion, str], Pushed]
    labels: Callable[[Pushed], dict[str, str]]
    deploy: Callable[[str, int], str]
    ask: Callable[[str, int], list[dict[str, Any]]]


def real_steps(on_log: LogFn | None = None) -> Steps:
    """The kit's real operations (Docker, the registry, the swarm)."""
    return Steps(
        version=BuildVersion.of,
        build=lambda model, version: build_candidate(model, version, on_log),
        probe=probe_image,
        registry=kit_registry,
        tag=check_tag_free,
        push=lambda image, version, registry: push_version(image, version, REPOSITORY, registry),
        labels=registry_labels,
        deploy=deploy_swarm,
        ask=ask_deployed,
    )
