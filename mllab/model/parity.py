"""Parity: PyTorch vs ONNX Runtime (CPU) on the same θ and the same inputs.

Same weights, same input, two runtimes R: how far do the logits move? Every figure is a
:class:`mllab.measure.drift.Drift` (the lecture's Δ per sample, max-abs, top-k agreement),
measured on the sample photos of ``data/`` and on a seeded random batch. The tolerance a row
is read against is the lecture's :data:`mllab.measure.drift.LECTURE_DELTA`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from mllab.core.errors import InputError
from mllab.measure.drift import LECTURE_DELTA, Drift, compare
from mllab.model.artifact_paths import EXPORTERS
from mllab.model.artifacts import default_model
from mllab.model.checks import load_session, run
from mllab.model.metadata import metadata
from mllab.model.preprocess import preprocess_batch, sample_images
from mllab.model.resnet import load_resnet50
from mllab.model.weights import weights_id

if TYPE_CHECKING:  # annotations only: torch is imported when parity runs
    import onnxruntime as ort
    import torch


@dataclass
class ParityRow:
    """One (candidate, inputs) comparison: the :class:`Drift` metrics, flat for tables."""

    exporter: str  # the candidate's label (an exporter, or "int8", ...)
    inputs: str  # "samples" (the data/ photos) or "random"
    n: int
    max_abs: float
    l2: float  # the lecture's Δ, worst sample
    relative: float
    cosine: float
    top1_agreement: float
    top5_agreement: float
    allclose_ratio: float  # <= 1 passes the export tutorial's allclose(rtol=1e-3, atol=1e-5)
    within_delta: bool  # l2 <= the lecture's LECTURE_DELTA

    @classmethod
    def of(cls, exporter: str, inputs: str, drift: Drift) -> ParityRow:
        return cls(
            exporter=exporter,
            inputs=inputs,
            n=drift.n,
            max_abs=drift.max_abs,
            l2=drift.l2,
            relative=drift.relative,
            cosine=drift.cosine,
            top1_agreement=drift.top1_agreement,
            top5_agreement=drift.top5_agreement,
            allclose_ratio=drift.allclose_ratio,
            within_delta=bool(drift.l2 <= LECTURE_DELTA),
        )


@dataclass
class ExportParity:
    """Lab 01's parity table: each exported file against PyTorch on the same θ."""

    weights_id: str
    batch: int
    delta: float = LECTURE_DELTA
    rows: list[ParityRow] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1


@dataclass
class Int8Drift:
    """The INT8 model against its fp32 source (a new θ, so Δ is expected to be large)."""

    delta: float = LECTURE_DELTA
    rows: list[ParityRow] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1


def reference_inputs(batch: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """The inputs parity is measured on: the sample photos and a seeded random batch."""
    rng = np.random.default_rng(seed)
    return {
        "samples": preprocess_batch(sample_images()),
        "random": rng.standard_normal((batch, 3, 224, 224), dtype=np.float32),
    }


def torch_logits(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """PyTorch's logits for a numpy batch (the reference of every parity check)."""
    import torch  # deferred: seconds to import, and only parity needs it here

    with torch.inference_mode():
        return model(torch.from_numpy(np.ascontiguousarray(x))).numpy()


def compare_sessions(
    candidate: ort.InferenceSession,
    reference: ort.InferenceSession,
    inputs: dict[str, np.ndarray],
    label: str = "candidate",
) -> list[ParityRow]:
    """Drift of one session's logits against another's, one row per named input batch."""
    return [
        ParityRow.of(label, name, compare(run(candidate, x), run(reference, x)))
        for name, x in inputs.items()
    ]


def parity_report(
    models: dict[str, str | Path] | None = None,
    weights: str | Path | None = None,
    seed: int = 0,
    batch: int = 8,
) -> ExportParity:
    """PyTorch vs ONNX Runtime (CPU) for each exported model, on the photos and a random batch.

    ``models`` maps a label to an ONNX file (default: :func:`default_model` for both
    exporters); every file must hold the weights ``weights``/``seed`` (its metadata is checked).
    """
    if models is None:
        models = {e: default_model(e, weights=weights, seed=seed) for e in EXPORTERS}
    expected = weights_id(weights, seed)
    inputs = reference_inputs(batch, seed)
    reference = load_resnet50(weights, seed)
    expected_logits = {name: torch_logits(reference, x) for name, x in inputs.items()}
    parity = ExportParity(weights_id=expected, batch=batch)
    for label, path in models.items():
        held = metadata(path).get("weights_id")
        if held != expected:
            raise InputError(f"{path} holds weights {held!r}, but the reference is {expected!r}")
        session = load_session(path, device="cpu")
        for name, x in inputs.items():
            drift = compare(run(session, x), expected_logits[name])
            parity.rows.append(ParityRow.of(label, name, drift))
    return parity
