"""Lab 06's exercises: numbers that repeat bit for bit, and builds that do.

* ``ex01_deterministic`` — ``deterministic_options(threads) -> ort.SessionOptions``: options
  under which the model meets the lecture's criterion of C6 — its outputs within ε = 1e-6 of
  the graph as the model file writes it, on every run and with 1 or ``threads`` threads (the
  core count is what differs between machines here; the graph ORT optimises for this CPU's
  instruction set is the other) — judged against a control: ONNX Runtime's default options on
  the same model and inputs. Each option the answer changes is tried alone against the
  control; one that leaves the outputs bitwise equal is not credited (it changes nothing
  here), and an answer none of whose options changes anything fails, whatever it sets.
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
from mllab.measure.drift import LECTURE_EPSILON
from mllab.runtime.sessions import SessionConfig, session_options

SECTION_C6 = (
    "«Воспроизводимость численных результатов» (what is fixed and what is switched off before "
    "inference, so that results agree across machines to ε = 1e-6)"
)
SECTION_BUILD = (
    "«Понятие *reproducible build*» and «Проверка детерминированности сборки» "
    "(Build(S, D, C) = Build(S, D, C) ⇒ H(D₁) = H(D₂): equal image IDs)"
)

#: the options of ``ort.SessionOptions`` an answer is compared on (each one it changes from the
#: default is tried alone against the control)
OPTION_FIELDS = (
    "graph_optimization_level",
    "enable_mem_pattern",
    "enable_mem_reuse",
    "enable_cpu_mem_arena",
    "use_deterministic_compute",
    "intra_op_num_threads",
    "inter_op_num_threads",
    "execution_mode",
    "execution_order",
)


def reference_options(threads: int) -> Any:
    """The kit's answer to ``ex01_deterministic``: ``ort.SessionOptions``."""
    return session_options(SessionConfig(threads=threads, deterministic=True))


def _run(model: str | Path | bytes, options: Any, x: np.ndarray) -> np.ndarray:
    source = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def default_options(threads: int) -> Any:
    """The control: ONNX Runtime's default options, with ``threads`` intra-op threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return options


def as_written(model: str | Path | bytes, x: np.ndarray) -> np.ndarray:
    """The outputs of the graph as the model file writes it: no graph optimisation, one thread
    (what every machine computes, whatever its instruction set and core count)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    return _run(model, options, x)


def changed_options(options: Any) -> dict[str, Any]:
    """The options of :data:`OPTION_FIELDS` that ``options`` sets otherwise than the default."""
    default = ort.SessionOptions()
    return {
        name: getattr(options, name)
        for name in OPTION_FIELDS
        if getattr(options, name) != getattr(default, name)
    }


@dataclass
class OptionsTrial:
    """The answer's options on a model, against the control (max|Δ| in the outputs' units).

    ``spread``: across two runs and 1 vs ``threads`` threads with the answer's options;
    ``to_graph``: the answer's outputs against the graph as written; ``control_to_graph``: the
    default options' against it (how far the defaults are from the lecture's criterion);
    ``effects``: each option the answer changed, tried alone on the control, and the max|Δ| it
    made there (0.0: bitwise equal, it changes nothing here)."""

    threads: int
    spread: float
    to_graph: float
    control_to_graph: float
    effects: dict[str, float]

    @property
    def credited(self) -> list[str]:
        """The options that changed the outputs against the control."""
        return [name for name, effect in self.effects.items() if effect > 0]

    @property
    def idle(self) -> list[str]:
        """The options that changed nothing measurable here."""
        return [name for name, effect in self.effects.items() if effect == 0]


def try_options(
    options: Any, model: str | Path | bytes, x: np.ndarray, threads: int, control: Any = None
) -> OptionsTrial:
    """Measure ``options`` (an answer's) on ``model`` and ``x`` against the default options
    (``control``, :func:`default_options` unless given) and the graph as written."""
    graph = as_written(model, x)
    control = control if control is not None else default_options(threads)
    baseline = _run(model, control, x)
    first, again = _run(model, options, x), _run(model, options, x)
    pool = options.intra_op_num_threads
    options.intra_op_num_threads = 1  # the same options on a machine with one core
    try:
        one_core = _run(model, options, x)
    finally:
        options.intra_op_num_threads = pool
    effects = {}
    for name, value in changed_options(options).items():
        alone = default_options(threads)
        setattr(alone, name, value)
        effects[f"{name} = {_name(value)}"] = _max_abs(_run(model, alone, x), baseline)
    return OptionsTrial(
        threads,
        spread=max(_max_abs(first, again), _max_abs(first, one_core)),
        to_graph=max(_max_abs(o, graph) for o in (first, again, one_core)),
        control_to_graph=_max_abs(baseline, graph),
        effects=effects,
    )


def options_problem(trial: OptionsTrial) -> str | None:
    """What the trial says against the answer (None: the lecture's criterion is met and at
    least one option is shown to matter, or the model cannot tell options apart)."""
    eps = LECTURE_EPSILON
    idle = f" (no effect: {', '.join(trial.idle)})" if trial.idle else ""
    if not trial.credited and trial.control_to_graph > 0:
        return (
            f"your options change nothing here: the outputs are bitwise the defaults', "
            f"{trial.control_to_graph:.2g} from the graph as the file writes it (ε = {eps:g}): "
            f"what does the lecture switch off?{idle}"
        )
    if trial.spread > eps:
        return (
            f"with your options two runs or 1 vs {trial.threads} threads differ by "
            f"max|Δ| = {trial.spread:.2g} > ε = {eps:g}"
        )
    if trial.to_graph > eps:
        return (
            f"with your options the outputs are still {trial.to_graph:.2g} from the graph as the "
            f"file writes it (> ε = {eps:g}; the defaults: {trial.control_to_graph:.2g}): which "
            "optimisation still rewrites the graph?"
        )
    return None


def trial_line(trial: OptionsTrial) -> str:
    """One line: what was credited, what changed nothing, and the max|Δ| against ε."""
    credited = ", ".join(
        f"{name} (Δ to the defaults {trial.effects[name]:.2g})" for name in trial.credited
    )
    idle = f"; changes nothing here, not credited: {', '.join(trial.idle)}" if trial.idle else ""
    if trial.control_to_graph == 0:
        return (
            f"this model does not tell options apart (the defaults are the graph as written){idle}"
        )
    return (
        f"max|Δ| {max(trial.spread, trial.to_graph):.2g} ≤ ε = {LECTURE_EPSILON:g} "
        f"(the defaults: {trial.control_to_graph:.2g}); credited: {credited}{idle}"
    )


def _name(value: Any) -> str:
    return getattr(value, "name", None) or repr(value)


def check_deterministic_options(
    deterministic_options: Callable[[int], Any],
    model: str | Path | bytes,
    x: np.ndarray,
    threads: int,
) -> Check:
    """``ex01_deterministic``: the student's options on ``model`` and ``x`` against the default
    options and the graph as written (:func:`try_options`). ``value``: the student's options if
    right, else the kit's."""
    trials: list[OptionsTrial] = []

    def compare(answer: Any, reference: Any) -> str | None:
        if not isinstance(answer, ort.SessionOptions):
            return f"return an onnxruntime.SessionOptions, not {show(answer)}"
        trials.append(try_options(answer, model, x, threads))
        return options_problem(trials[-1])

    return self_check(
        "ex01_deterministic",
        deterministic_options,
        (threads,),
        reference=lambda: reference_options(threads),
        compare=compare,
        section=SECTION_C6,
        passed=lambda answer: trial_line(trials[-1]),
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
