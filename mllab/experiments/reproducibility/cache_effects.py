"""C10 and C11: what a change reruns in the build, and which layer it changes.

Lecture: *pip install reruns only when requirements.txt changes*, and *copying the model into
the image makes the image hash depend on the model file*. :func:`cache_experiment` rebuilds
the slim image with another model file, then with one comment line added to
``requirements.lock``, and reads the cache hits from the legacy builder's output ("Using
cache") and the diff_ids from ``docker save``.

Both changes carry a fresh nonce (a metadata entry in the other model, a word in the lock's
comment): the layer cache outlives the images, so a change already built by an earlier run
would be a cache hit and the experiment would measure nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import onnx

from mllab.containers.buildlog import BuildResult, BuildStep
from mllab.containers.context import build_args
from mllab.core.errors import BuildError, InputError
from mllab.core.outcome import Outcome
from mllab.core.paths import ARTIFACTS
from mllab.experiments.reproducibility.rebuilds import (
    NO_CACHE_LINE,
    PREFIX,
    docker_build,
    slim_context,
)
from mllab.experiments.reproducibility.saved_images import ImageComparison, compare_images
from mllab.model.integrity import write_digest
from mllab.model.quantize import default_int8_model

#: where the slim Dockerfile puts the model (``COPY model.onnx ... /app/``)
MODEL_IN_IMAGE = "app/model.onnx"


@dataclass
class CacheEffects:
    """C10 record: with a new model, was pip a cache hit, what reran, was everything before
    the change cached; with a new lock, did pip rerun."""

    SCHEMA_VERSION: ClassVar[int] = 1

    outcome: Outcome
    model_change_pip_cached: bool | None = None
    model_change_rebuilt: list[str] = field(default_factory=list)
    before_change_cached: bool | None = None
    lock_change_pip_rerun: bool | None = None
    lock_same_image: bool | None = None


@dataclass
class ModelLayer:
    """C11 record: a new model file gives another ID; which layers changed, which one holds
    the model, and whether it is the only one."""

    SCHEMA_VERSION: ClassVar[int] = 1

    outcome: Outcome
    ids_differ: bool | None = None
    changed_layers: list[int] = field(default_factory=list)
    model_layer: int | None = None
    only_model_layer: bool | None = None
    same_build_args: bool | None = None  # the model file was the only input that changed


@dataclass
class StepEffects:
    """What one build reran: the steps, the first one, and the pip step's cache flag."""

    rebuilt: list[str]
    first_rebuilt_step: int | None
    before_change_cached: bool
    pip_cached: bool
    seconds: float


def _pip_step(result: BuildResult) -> BuildStep:
    for step in result.steps:
        if "pip" in step.instruction and "requirements.lock" in step.instruction:
            return step
    raise BuildError("the slim Dockerfile has no `pip install -r requirements.lock` step")


def step_effects(result: BuildResult) -> StepEffects:
    """From a build's output: which steps ran, the first one, whether every step before it
    was a cache hit, and whether the pip install step was a hit."""
    steps = [s for s in result.steps if not s.instruction.startswith(NO_CACHE_LINE)]
    ran = [s for s in steps if not s.cached]
    first = ran[0].number if ran else None
    return StepEffects(
        rebuilt=[s.instruction[:80] for s in ran],
        first_rebuilt_step=first,
        before_change_cached=all(s.cached for s in steps if first is None or s.number < first),
        pip_cached=_pip_step(result).cached,
        seconds=round(result.seconds, 1),
    )


def other_model(model: str | Path | None = None, nonce: str | None = None) -> Path:
    """A second, different model file (the cached INT8 model): same interface, other bytes;
    with ``nonce``, a copy whose metadata carries it (bytes no earlier build has seen)."""
    other = Path(default_int8_model())
    if model and Path(model).resolve() == other.resolve():
        raise InputError("the other model must differ from the base model")
    if nonce is None:
        return other
    proto = onnx.load(str(other))
    onnx.helper.set_model_props(
        proto, {**{p.key: p.value for p in proto.metadata_props}, "mllab.cache_nonce": nonce}
    )
    unique = ARTIFACTS / "repro" / "other-model" / "model.onnx"
    unique.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(unique))
    write_digest(unique)
    return unique


@dataclass
class CacheExperiment:
    """The three builds, the base-vs-new-model comparison, and the records they give."""

    builds: dict[str, BuildResult]
    comparison: ImageComparison
    model_change: StepEffects
    lock_change: StepEffects

    def effects(self) -> CacheEffects:
        return CacheEffects(
            Outcome.ran(),
            model_change_pip_cached=self.model_change.pip_cached,
            model_change_rebuilt=self.model_change.rebuilt,
            before_change_cached=self.model_change.before_change_cached,
            lock_change_pip_rerun=not self.lock_change.pip_cached,
            lock_same_image=self.builds["lock"].image_id == self.builds["base"].image_id,
        )

    def model_layer(self) -> ModelLayer:
        located = self.comparison.located[MODEL_IN_IMAGE]
        changed = self.comparison.changed_layers
        return ModelLayer(
            Outcome.ran(),
            ids_differ=not self.comparison.same_id,
            changed_layers=changed,
            model_layer=located,
            only_model_layer=located is not None and changed == [located],
            same_build_args=True,  # cache_experiment builds both with the base's arguments
        )


def cache_experiment(prefix: str = PREFIX, model: str | Path | None = None) -> CacheExperiment:
    """C10 and C11 on real builds of the slim image.

    1. the base build (``:cache-base``, from the layer cache when there is one);
    2. the same context with another model file (``:model``): which steps rerun, is pip a
       cache hit, which diff_ids change;
    3. the same context with one comment line added to ``requirements.lock`` (``:lock``).
    """
    nonce = uuid.uuid4().hex[:12]  # a change no earlier run has built (see the module doc)
    base_ctx = slim_context(model=model)
    # C11 isolates the file: the model build keeps the base build's arguments (its
    # MODEL_SHA256 label included), so the model file is the only input that differs
    held = build_args(base_ctx)
    base = docker_build(base_ctx, f"{prefix}/slim:cache-base", buildargs=held)
    model_ctx = slim_context("slim-model", model=other_model(model, nonce))
    changed_model = docker_build(model_ctx, f"{prefix}/slim:model", buildargs=held)
    lock_ctx = slim_context("slim-lock", model=model)
    with (lock_ctx / "requirements.lock").open("a") as handle:
        handle.write(f"# the same pins, one comment more ({nonce}): the file's checksum changes\n")
    changed_lock = docker_build(lock_ctx, f"{prefix}/slim:lock")
    layers = compare_images(
        f"{prefix}/slim:cache-base", f"{prefix}/slim:model", files=False, locate=(MODEL_IN_IMAGE,)
    )
    return CacheExperiment(
        builds={"base": base, "model": changed_model, "lock": changed_lock},
        comparison=layers,
        model_change=step_effects(changed_model),
        lock_change=step_effects(changed_lock),
    )
