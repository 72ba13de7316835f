"""Lab 05's exercises: numbers that repeat bit for bit, and builds that do.

* ``ex01_deterministic`` — ``deterministic_options(threads) -> ort.SessionOptions``: the
  lecture's deterministic session options (claim C6). The kit's reference is
  :func:`mllab.runtime.sessions.session_options` of ``SessionConfig(deterministic=True)``; the
  check compares the options that decide the numbers, then runs the model twice with the
  student's options and compares the outputs' sha256.
* ``ex02_repro_build`` — ``reproducible_build(dockerfile) -> (dockerfile, settings)``: the
  Dockerfile with ``ARG SOURCE_DATE_EPOCH`` declared in every stage and buildah's
  ``{"timestamp", "source_date_epoch"}``: one fixed time for the files of every layer and for
  the RUN steps. Checked statically against the kit's recipe
  (:func:`mllab.experiments.reproducibility.buildah.reproducible_dockerfile`, ``EPOCH``) on the
  slim Dockerfile and on a made-up two-stage one; the lab's buildah run then builds with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from mllab.core.paths import DOCKER
from mllab.exercises.check import Check, over_cases, self_check, show
from mllab.experiments.reproducibility.buildah import EPOCH, reproducible_dockerfile
from mllab.experiments.reproducibility.drift_configs import output_digest
from mllab.runtime.sessions import SessionConfig, session_options

SECTION_C6 = (
    "«Воспроизводимость численных результатов» (fixed seeds, ORT_DISABLE_ALL and "
    "enable_mem_pattern = False: equal results to ε = 1e-6)"
)
SECTION_BUILD = (
    "«Понятие *reproducible build*» and «Проверка детерминированности сборки» "
    "(Build(S, D, C) = Build(S, D, C) ⇒ H(D₁) = H(D₂): equal image IDs)"
)

#: the options that decide the numbers, and why each must be as the kit sets it
DETERMINISM_FIELDS = {
    "graph_optimization_level": "ORT_DISABLE_ALL: no graph fusions that reorder float sums",
    "enable_mem_pattern": "False: the lecture's second option",
    "use_deterministic_compute": "True: kernels with a deterministic variant must use it",
    "intra_op_num_threads": (
        "`threads`: a fixed pool, not what the machine has (a parallel sum's order depends on it)"
    ),
}


def reference_options(threads: int) -> Any:
    """The kit's answer to ``ex01_deterministic``: ``ort.SessionOptions``."""
    return session_options(SessionConfig(threads=threads, deterministic=True))


def run_twice(options: Any, model: str | Path | bytes, x: np.ndarray, repeats: int = 2) -> list:
    """The sha256 of the outputs of ``repeats`` CPU runs of ``model`` on ``x`` with ``options``."""
    source = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return [output_digest(session.run(None, {name: x})[0]) for _ in range(repeats)]


def _options_compare(model: str | Path | bytes, x: np.ndarray, repeats: int) -> Callable:
    def compare(answer: Any, reference: Any) -> str | None:
        if not isinstance(answer, ort.SessionOptions):
            return f"return an onnxruntime.SessionOptions, not {show(answer)}"
        for field, why in DETERMINISM_FIELDS.items():
            got, want = getattr(answer, field), getattr(reference, field)
            if got != want:
                return f"{field} is {_name(got)}; the kit's deterministic config sets {why}"
        digests = run_twice(answer, model, x, repeats)
        if len(set(digests)) > 1:
            return f"{repeats} runs with your options gave {len(set(digests))} different outputs"
        return None

    return compare


def _name(value: Any) -> str:
    return getattr(value, "name", None) or repr(value)


def check_deterministic_options(
    deterministic_options: Callable[[int], Any],
    model: str | Path | bytes,
    x: np.ndarray,
    threads: int,
    repeats: int = 2,
) -> Check:
    """``ex01_deterministic``: the student's options against the kit's deterministic config,
    then ``repeats`` runs of ``model`` on ``x`` with them, bitwise equal. ``value``: the
    student's options if right, else the kit's."""
    return self_check(
        "ex01_deterministic",
        deterministic_options,
        (threads,),
        reference=lambda: reference_options(threads),
        compare=_options_compare(model, x, repeats),
        section=SECTION_C6,
        passed=(
            f"the options of the kit's deterministic config; {repeats} runs on {len(x)} inputs "
            "gave bitwise equal outputs (one sha256)"
        ),
    )


# --- ex02: a bit-reproducible build ---------------------------------------------------------

#: a made-up two-stage Dockerfile: the ARG must be declared again in the second stage
TWO_STAGES = """ARG BASE=python:3.11-slim
FROM ${BASE} AS build
RUN pip wheel --no-deps --wheel-dir /w numpy==2.1.3
FROM ${BASE}
COPY --from=build /w /w
RUN useradd --uid 10001 app && pip install /w/*.whl
USER app
"""
_ARG = re.compile(r"^\s*ARG\s+SOURCE_DATE_EPOCH(=\d+)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class BuildRecipe:
    """What makes two buildah builds of the slim image equal: the Dockerfile and the times."""

    dockerfile: str
    timestamp: int | None
    source_date_epoch: int | None

    def options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~mllab.experiments.reproducibility.buildah.buildah_twice`."""
        return {
            "dockerfile": self.dockerfile,
            "timestamp": self.timestamp,
            "source_date_epoch": self.source_date_epoch,
        }


def kit_recipe(source: str | Path = DOCKER / "Dockerfile") -> BuildRecipe:
    """The kit's reproducible recipe for the Dockerfile at ``source``."""
    return BuildRecipe(reproducible_dockerfile(source), EPOCH, EPOCH)


def dockerfile_problem(original: str, changed: Any) -> str | None:
    """What is wrong with ``changed`` as the reproducible version of ``original``, or None."""
    if not isinstance(changed, str):
        return f"return the Dockerfile as text, not {show(changed)}"
    lines = changed.splitlines()
    stage, declared = 0, True
    for line in lines:
        word = line.split(maxsplit=1)[0].upper() if line.strip() else ""
        if word == "FROM":
            if not declared:
                break
            stage, declared = stage + 1, False
        elif _ARG.match(line):
            declared = True
        elif word == "RUN" and not declared:
            break
    if not declared or stage == 0:
        return (
            f"stage {max(stage, 1)} does not declare ARG SOURCE_DATE_EPOCH after its FROM: an "
            "ARG reaches only the RUN steps of the stage that declares it"
        )
    kept = [line.rstrip() for line in lines if not _ARG.match(line)]
    before = [line.rstrip() for line in original.splitlines()]
    if kept != before:
        pairs = enumerate(zip(kept, before, strict=False))
        where = next((i for i, (a, b) in pairs if a != b), min(len(kept), len(before)))
        return f"leave the rest as it was: line {where + 1} differs from the original"
    return None


def settings_problem(settings: Any) -> str | None:
    """What is wrong with buildah's settings, or None."""
    if not isinstance(settings, dict) or set(settings) != {"timestamp", "source_date_epoch"}:
        keys = '{"timestamp": ..., "source_date_epoch": ...}'
        return f"settings: a dict {keys}, not {show(settings)}"
    timestamp, epoch = settings["timestamp"], settings["source_date_epoch"]
    if not isinstance(timestamp, int) or timestamp < 0:
        return "timestamp: a fixed time (seconds since 1970) for the config and every file's mtime"
    if not isinstance(epoch, int) or epoch < 0:
        return "source_date_epoch: a fixed time for the RUN steps (useradd writes today's date)"
    if timestamp != epoch:
        return f"one fixed time for both, not timestamp {timestamp} and source_date_epoch {epoch}"
    return None


def _build_compare(originals: list[str]) -> Callable:
    def compare(answers: list, references: list) -> str | None:
        names = ("the slim", "a two-stage")
        for original, answer, name in zip(originals, answers, names, strict=True):
            if not isinstance(answer, tuple | list) or len(answer) != 2:
                return f"return (dockerfile, settings), not {show(answer)}"
            wrong = dockerfile_problem(original, answer[0]) or settings_problem(answer[1])
            if wrong:
                return f"on {name} Dockerfile: {wrong}"
        return None

    return compare


def check_reproducible_build(
    reproducible_build: Callable[[str], tuple[str, dict[str, int]]],
    source: str | Path = DOCKER / "Dockerfile",
) -> Check:
    """``ex02_repro_build``: the student's recipe on the slim Dockerfile at ``source`` and on
    :data:`TWO_STAGES`, statically. ``value``: a :class:`BuildRecipe` (the student's if right,
    else the kit's) for the slim Dockerfile."""
    originals = [Path(source).read_text(), TWO_STAGES]
    checked = self_check(
        "ex02_repro_build",
        over_cases(reproducible_build, [(text,) for text in originals]),
        reference=lambda: kit_recipe(source),
        compare=_build_compare(originals),
        section=SECTION_BUILD,
        blame=reproducible_build,
        passed=lambda answers: (
            f"every stage declares SOURCE_DATE_EPOCH, one fixed time "
            f"{answers[0][1]['timestamp']} for files and RUN steps"
        ),
    )
    if not checked.passed:
        return checked
    text, settings = checked.value[0]
    return replace(checked, value=BuildRecipe(text, **settings))
