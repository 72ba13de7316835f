"""The drift matrix: the same inputs through every runtime configuration, compared pairwise.

The lecture declares two environments equivalent when Δ = ‖f_host1(x) − f_host2(x)‖₂ ≤ 1e-3
and says that fixed seeds, ``ORT_DISABLE_ALL`` and ``enable_mem_pattern=False`` give equal
results "to ε = 1e-6". Here both are measured rather than assumed:

* :func:`run_matrix` runs each configuration of
  :mod:`mllab.experiments.reproducibility.drift_configs` ``repeats`` times on the same inputs
  and keeps the sha256 of every output: a configuration is *bitwise repeatable* when all
  digests are equal. Each one's :class:`Outcome` says whether
  it ran, could not run here (and why) or failed: nothing is silently dropped.
* :class:`DriftMatrix` compares every pair with :func:`mllab.measure.drift.compare` (Δ, max-abs,
  relative, top-1 agreement) against the lecture's 1e-3 and ε = 1e-6.
* :func:`plot_heatmap` draws it: log10 Δ for every pair.
* :func:`determinism` (C6) and :func:`container_vs_host` (C4) are the claims' records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mllab.core.errors import InputError, ProviderUnavailable
from mllab.core.outcome import Outcome
from mllab.core.tables import WIDTH, cut
from mllab.experiments.reproducibility.drift_configs import (
    Configuration,
    Unavailable,
    configurations,
    drift_inputs,
    output_digest,
)
from mllab.measure.drift import LECTURE_DELTA, LECTURE_EPSILON, compare


@dataclass
class ConfigResult:
    """How one configuration went: its outcome, first output, and the digest of every repeat."""

    name: str
    description: str
    outcome: Outcome
    output: np.ndarray | None = field(default=None, repr=False)
    digests: list[str] = field(default_factory=list)
    repeat_max_abs: float | None = None  # largest |o_r − o_0| over the repeats
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    @property
    def bitwise_repeatable(self) -> bool | None:
        """True when every repeat gave the same bytes (None when it did not run)."""
        return len(set(self.digests)) == 1 if self.ok and self.digests else None

    def row(self) -> dict[str, Any]:
        """A table row: outcome, repeats, distinct outputs, bitwise, spread, time."""
        return {
            "configuration": self.name,
            "outcome": self.outcome,
            "repeats": len(self.digests),
            "distinct outputs": len(set(self.digests)) if self.digests else None,
            "bitwise repeatable": self.bitwise_repeatable,
            "max |o_r - o_1|": self.repeat_max_abs,
            "seconds": round(self.seconds, 2),
            "description": self.description,
        }


@dataclass
class PairDrift:
    """Drift of configuration ``a`` against ``b`` (fields None when one of them did not run)."""

    a: str
    b: str
    outcome: Outcome
    bitwise_equal: bool | None = None
    delta_l2: float | None = None
    max_abs: float | None = None
    relative: float | None = None
    top1_agreement: float | None = None
    within_delta: bool | None = None  # Δ ≤ LECTURE_DELTA
    within_epsilon: bool | None = None  # max-abs ≤ LECTURE_EPSILON


def _outcome_of(error: Exception) -> Outcome:
    """A missing GPU, provider or image is "not run" with its reason; anything else failed."""
    if isinstance(error, Unavailable):
        return Outcome.not_run(str(error))
    if isinstance(error, ProviderUnavailable):
        # "asked for cuda (...) but ONNX Runtime is using CPU... . <diagnosis>": keep the diagnosis
        return Outcome.not_run(str(error).split(". ", 1)[-1][:160])
    return Outcome.failed(error)


def run_config(config: Configuration, x: np.ndarray, repeats: int = 10) -> ConfigResult:
    """Build and run one configuration ``repeats`` times; never raises for a missing piece."""
    try:
        runner = config.make()
        start = time.perf_counter()
        outputs = runner(x, repeats)
        seconds = time.perf_counter() - start
    except Exception as error:  # noqa: BLE001 - every failure becomes an outcome, none a drop
        return ConfigResult(config.name, config.description, _outcome_of(error))
    return ConfigResult(
        config.name,
        config.description,
        Outcome.ran(),
        output=outputs[0],
        digests=[output_digest(o) for o in outputs],
        repeat_max_abs=max(float(np.abs(o - outputs[0]).max()) for o in outputs),
        seconds=seconds,
    )


@dataclass
class ConfigSummary:
    """One configuration in the record: did it run, and were its repeats bitwise equal."""

    outcome: Outcome
    bitwise_repeatable: bool | None
    repeat_max_abs: float | None


@dataclass
class DriftMatrixSummary:
    """What lab 06 records of the matrix: every configuration, every pair."""

    SCHEMA_VERSION: ClassVar[int] = 1

    n_inputs: int
    repeats: int
    configurations: dict[str, ConfigSummary]
    vs_torch: list[PairDrift]
    pairs: list[PairDrift]


@dataclass
class DriftMatrix:
    """Results of every configuration on the same inputs, and their pairwise drift."""

    results: list[ConfigResult]
    n_inputs: int
    repeats: int

    def __getitem__(self, name: str) -> ConfigResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"no configuration {name!r}; known: {[r.name for r in self.results]}")

    def get(self, name: str) -> ConfigResult | None:
        return next((r for r in self.results if r.name == name), None)

    @property
    def available(self) -> list[ConfigResult]:
        return [r for r in self.results if r.ok]

    def compare(self, a: str, b: str) -> PairDrift:
        """Drift of ``a`` against reference ``b``; when one did not run, its outcome."""
        ra, rb = self[a], self[b]
        if not (ra.ok and rb.ok):
            return PairDrift(a, b, ra.outcome if not ra.ok else rb.outcome)
        assert ra.output is not None and rb.output is not None  # what ran keeps its output
        drift = compare(ra.output, rb.output)
        return PairDrift(
            a,
            b,
            Outcome.ran(),
            bitwise_equal=ra.digests[0] == rb.digests[0],
            delta_l2=drift.l2,
            max_abs=drift.max_abs,
            relative=drift.relative,
            top1_agreement=drift.top1_agreement,
            within_delta=drift.l2 <= LECTURE_DELTA,
            within_epsilon=drift.max_abs <= LECTURE_EPSILON,
        )

    def pairs(self) -> list[PairDrift]:
        """Every unordered pair of available configurations."""
        names = [r.name for r in self.available]
        return [self.compare(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]

    def against(self, reference: str = "torch-cpu") -> list[PairDrift]:
        """Every configuration against ``reference``; one that did not run keeps its row."""
        return [self.compare(r.name, reference) for r in self.results if r.name != reference]

    def metric_matrix(self, metric: str = "delta_l2") -> tuple[list[str], np.ndarray]:
        """Names of all configurations and the symmetric matrix of ``metric`` (NaN where a
        configuration did not run)."""
        names = [r.name for r in self.results]
        values = np.full((len(names), len(names)), np.nan)
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                if self[a].ok and self[b].ok:
                    values[i, j] = 0.0 if i == j else getattr(self.compare(a, b), metric)
        return names, values

    def repeatability(self) -> list[dict[str, Any]]:
        """One row per configuration (those that did not run included, with the reason)."""
        return [r.row() for r in self.results]

    def summary(self) -> DriftMatrixSummary:
        """The record of this matrix (outcomes, bitwise flags, drifts)."""
        return DriftMatrixSummary(
            n_inputs=self.n_inputs,
            repeats=self.repeats,
            configurations={
                r.name: ConfigSummary(r.outcome, r.bitwise_repeatable, r.repeat_max_abs)
                for r in self.results
            },
            vs_torch=self.against("torch-cpu") if self.get("torch-cpu") else [],
            pairs=self.pairs(),
        )


def run_matrix(
    configs: list[Configuration] | None = None,
    x: np.ndarray | None = None,
    repeats: int = 10,
    progress: bool = True,
) -> DriftMatrix:
    """Run every configuration ``repeats`` times on ``x`` (default :func:`drift_inputs`)."""
    if repeats < 1:
        raise InputError(f"repeats must be >= 1, not {repeats}")
    configs = configurations() if configs is None else configs
    x = drift_inputs() if x is None else np.ascontiguousarray(x, dtype=np.float32)
    results = []
    for config in configs:
        result = run_config(config, x, repeats)
        if progress:
            outcome = cut(str(result.outcome), WIDTH - 35)  # the line fits WIDTH with its time
            print(f"{config.name:<24} {outcome}  {result.seconds:.1f} s", flush=True)
        results.append(result)
    return DriftMatrix(results, n_inputs=int(x.shape[0]), repeats=repeats)


# --- the heatmap (matplotlib imported when drawing: start-up time) ---------------------------


def plot_heatmap(matrix: DriftMatrix, metric: str = "delta_l2", ax: Any = None) -> Any:
    """log10 of ``metric`` for every pair; a bitwise-equal pair shows "0", a configuration
    that did not run "n/a" (its reason is in :meth:`DriftMatrix.repeatability`)."""
    import matplotlib.pyplot as plt  # deferred: start-up time, and only labs draw

    names, values = matrix.metric_matrix(metric)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * len(names) + 3, 0.5 * len(names) + 2))
    with np.errstate(divide="ignore"):
        logs = np.where(values > 0, np.log10(np.where(values > 0, values, 1)), np.nan)
    # bitwise equal ("0") and not available ("n/a") cells: light grey
    cmap = plt.get_cmap("viridis").with_extremes(bad="#eeeeee")
    image = ax.imshow(logs, cmap=cmap)
    for i in range(len(names)):
        for j in range(len(names)):
            value = values[i, j]
            text = "n/a" if np.isnan(value) else ("0" if value == 0 else f"{np.log10(value):.1f}")
            light = np.isnan(logs[i, j]) or image.norm(logs[i, j]) > 0.6  # grey or yellow
            color = "k" if light else "w"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title(f"log10 {metric} between configurations (0 = bitwise equal)")
    ax.figure.colorbar(image, ax=ax, shrink=0.7)
    return ax


# --- the claims' records: C6 and C4 -------------------------------------------------------------


@dataclass
class Determinism:
    """C6: the largest |Δ| of the lecture's deterministic options across runs, across thread
    counts and between host and container (a comparison that could not run stays None, its
    outcome beside it)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    outcome: Outcome
    across_runs_max_abs: float | None = None
    threads_1_vs_n_max_abs: float | None = None
    host_vs_container_max_abs: float | None = None
    across_runs_bitwise: bool | None = None
    threads_1_vs_n_bitwise: bool | None = None
    host_vs_container_bitwise: bool | None = None
    threads_1_vs_n: Outcome | None = None
    host_vs_container: Outcome | None = None
    # the control: ONNX Runtime's default options (``ort-all``, ``ort-all-1t``), same inputs
    control_across_runs_max_abs: float | None = None
    control_threads_1_vs_n_max_abs: float | None = None


def _missing(name: str) -> Outcome:
    return Outcome.not_run(f"no {name} configuration in this matrix")


def determinism(matrix: DriftMatrix) -> Determinism:
    """C6 measured on one machine from the ``ort-deterministic*`` rows of ``matrix``."""
    det = matrix.get("ort-deterministic")
    if det is None or not det.ok:
        return Determinism(det.outcome if det else _missing("ort-deterministic"))
    record = Determinism(
        Outcome.ran(),
        across_runs_max_abs=det.repeat_max_abs,
        across_runs_bitwise=det.bitwise_repeatable,
    )
    for label, name in (
        ("threads_1_vs_n", "ort-deterministic-1t"),
        ("host_vs_container", "container-ort-deterministic"),
    ):
        pair = matrix.compare(name, "ort-deterministic") if matrix.get(name) else None
        setattr(record, label, pair.outcome if pair else _missing(name))
        if pair is not None and pair.outcome.ok:
            setattr(record, f"{label}_max_abs", pair.max_abs)
            setattr(record, f"{label}_bitwise", pair.bitwise_equal)
    control = matrix.get("ort-all")
    if control is not None and control.ok:
        record.control_across_runs_max_abs = control.repeat_max_abs
        pair = matrix.compare("ort-all-1t", "ort-all") if matrix.get("ort-all-1t") else None
        if pair is not None and pair.outcome.ok:
            record.control_threads_1_vs_n_max_abs = pair.max_abs
    return record


@dataclass
class ContainerVsHost:
    """C4: ONNX Runtime in the slim container vs on the host (same model, inputs, options),
    and PyTorch vs ONNX Runtime on the host for scale."""

    SCHEMA_VERSION: ClassVar[int] = 1

    outcome: Outcome
    delta_l2: float | None = None
    max_abs: float | None = None
    torch_vs_ort_delta_l2: float | None = None
    relative: float | None = None
    top1_agreement: float | None = None
    bitwise_equal: bool | None = None


def container_vs_host(matrix: DriftMatrix) -> ContainerVsHost:
    """C4 from the ``container-ort-all`` and ``ort-all`` rows of ``matrix``."""
    if matrix.get("container-ort-all") is None or matrix.get("ort-all") is None:
        return ContainerVsHost(_missing("container-ort-all or ort-all"))
    pair = matrix.compare("container-ort-all", "ort-all")
    if not pair.outcome.ok:
        return ContainerVsHost(pair.outcome)
    scale = matrix.compare("ort-all", "torch-cpu") if matrix.get("torch-cpu") else None
    return ContainerVsHost(
        Outcome.ran(),
        delta_l2=pair.delta_l2,
        max_abs=pair.max_abs,
        torch_vs_ort_delta_l2=scale.delta_l2 if scale else None,
        relative=pair.relative,
        top1_agreement=pair.top1_agreement,
        bitwise_equal=pair.bitwise_equal,
    )
