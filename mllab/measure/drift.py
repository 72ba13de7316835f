"""How far apart two sets of model outputs are: the lecture's Δ and its companions.

The lecture declares two environments equivalent when Δ = ‖f_host1(x) − f_host2(x)‖₂ ≤ 1e-3,
and says fixed seeds plus ``ORT_DISABLE_ALL`` give equality "to ε = 1e-6". PyTorch's export
tutorial checks ``allclose(rtol=1e-3, atol=1e-5)`` instead. :func:`compare` measures all of
them on two output arrays, so that export parity, serving and the reproducibility matrix use
one definition.

Conventions (used consistently by every metric here):

* ``a`` and ``b`` have the same shape; the first axis is the batch (one sample per row; a 1-D
  array is one sample). ``b`` is the *reference* (e.g. PyTorch), ``a`` the candidate.
* Δ (``Drift.l2``) is computed **per sample**, as in the lecture (one input x), and the
  worst sample is reported: ``l2 = max_i ‖a_i − b_i‖₂``. The norm over the whole batch,
  ``‖a − b‖₂`` of the flattened arrays, is ``Drift.l2_batch`` (≥ ``l2``; it grows with N).
* ``relative`` is ``‖a − b‖₂ / ‖b‖₂`` over the whole batch; ``cosine`` is the smallest
  per-sample cosine similarity; top-k agreement is the fraction of samples whose top-1 index,
  or set of top-5 indices, is the same in ``a`` and ``b``.

numpy only: this module runs in the slim serving image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mllab.core.errors import InputError

#: the lecture's equivalence bound on Δ (L2 norm of the output difference, one sample)
LECTURE_DELTA = 1e-3
#: the lecture's "machine epsilon" for deterministic settings, applied to max |a − b|
LECTURE_EPSILON = 1e-6
#: PyTorch's ONNX export tutorial: ``torch.testing.assert_close(..., rtol=1e-3, atol=1e-5)``
TUTORIAL_RTOL = 1e-3
TUTORIAL_ATOL = 1e-5


@dataclass(frozen=True)
class Drift:
    """Distances between a candidate ``a`` and a reference ``b`` (see the module docstring)."""

    n: int  # samples compared
    max_abs: float  # max |a − b| over all elements
    l2: float  # the lecture's Δ: max over samples of ‖a_i − b_i‖₂
    l2_batch: float  # ‖a − b‖₂ over the whole batch (flattened)
    relative: float  # ‖a − b‖₂ / ‖b‖₂ over the whole batch
    cosine: float  # min over samples of cos(a_i, b_i)
    top1_agreement: float  # fraction of samples with the same argmax
    top5_agreement: float  # fraction of samples with the same set of 5 best indices
    allclose_ratio: float  # max |a − b| / (atol + rtol |b|) at the tutorial tolerances; ≤ 1 passes

    def verdicts(
        self, delta: float = LECTURE_DELTA, epsilon: float = LECTURE_EPSILON
    ) -> dict[str, bool]:
        """Pass/fail against the lecture's Δ ≤ 1e-3, its ε = 1e-6 and the tutorial's allclose."""
        return {
            f"delta<={delta:g}": bool(self.l2 <= delta),
            f"max_abs<={epsilon:g}": bool(self.max_abs <= epsilon),
            f"allclose(rtol={TUTORIAL_RTOL:g},atol={TUTORIAL_ATOL:g})": bool(
                self.allclose_ratio <= 1.0
            ),
        }

    def to_dict(self) -> dict[str, float | bool]:
        """Metrics and verdicts as plain floats and bools, for tables and ``results.record``."""
        return {**asdict(self), **self.verdicts()}


def _as_batch(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 0:
        raise InputError("cannot compare scalars: outputs need at least one axis")
    return array.reshape(1, -1) if array.ndim == 1 else array.reshape(array.shape[0], -1)


def per_sample_l2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """‖a_i − b_i‖₂ for every sample i (the lecture's Δ, one value per input)."""
    a, b = _check(a, b)
    norms: np.ndarray = np.linalg.norm(a - b, axis=1)
    return norms


def _check(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if np.shape(a) != np.shape(b):
        raise InputError(f"cannot compare outputs of shapes {np.shape(a)} and {np.shape(b)}")
    return _as_batch(a), _as_batch(b)


def _topk_sets(x: np.ndarray, k: int) -> list[frozenset[int]]:
    k = min(k, x.shape[1])
    return [frozenset(row) for row in np.argsort(-x, axis=1, kind="stable")[:, :k]]


def compare(a: np.ndarray, b: np.ndarray) -> Drift:
    """All drift metrics of candidate ``a`` against reference ``b`` (computed in float64)."""
    a, b = _check(a, b)
    diff = a - b
    sample_l2 = np.linalg.norm(diff, axis=1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cosines = (a * b).sum(axis=1) / np.maximum(norms, np.finfo(np.float64).tiny)
    ref_norm = np.linalg.norm(b)
    top5 = [x == y for x, y in zip(_topk_sets(a, 5), _topk_sets(b, 5), strict=True)]
    return Drift(
        n=int(a.shape[0]),
        max_abs=float(np.abs(diff).max()),
        l2=float(sample_l2.max()),
        l2_batch=float(np.linalg.norm(diff)),
        relative=float(np.linalg.norm(diff) / ref_norm) if ref_norm > 0 else float("inf"),
        cosine=float(cosines.min()),
        top1_agreement=float((a.argmax(axis=1) == b.argmax(axis=1)).mean()),
        top5_agreement=float(np.mean(top5)),
        allclose_ratio=float((np.abs(diff) / (TUTORIAL_ATOL + TUTORIAL_RTOL * np.abs(b))).max()),
    )


def allclose(
    a: np.ndarray, b: np.ndarray, rtol: float = TUTORIAL_RTOL, atol: float = TUTORIAL_ATOL
) -> bool:
    """``|a − b| ≤ atol + rtol·|b|`` everywhere (``b`` the reference), as ``numpy.allclose``."""
    a, b = _check(a, b)
    return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))
