"""Lab 01's exercises: f + θ in one ONNX file with a symbolic batch axis, and the lecture's Δ.

* ``ex01_export`` — ``export_with_dynamic_batch(model, path)``: export a torch model to ``path``
  as one self-contained ONNX file (no external ``.data``) whose batch axis is symbolic. Checked
  by loading it in ONNX Runtime, running it at batch 1 and 3, and comparing with torch.
* ``ex01_delta`` — ``lecture_delta(f1, f2)``: Δ = ‖f1(x) − f2(x)‖₂ for one input x; for a batch,
  per sample and the worst one (the convention of :mod:`mllab.measure.drift`, whose
  ``compare(a, b).l2`` is the reference).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from mllab.exercises.check import Check, expect_cases, over_cases, self_check
from mllab.measure.drift import LECTURE_DELTA, compare
from mllab.model.checks import run
from mllab.runtime.sessions import create_session

if TYPE_CHECKING:  # annotations only: torch is imported when the export check runs
    import torch

SECTION_EXPORT = (
    "«Проблема зависимости окружений в ML» (A = (f, θ, R, E): f and θ travel as one file) and "
    "«Параллелизм и batch-инференс» (n is chosen when serving: the batch axis stays free)"
)
SECTION_DELTA = (
    "«Проверка воспроизводимости контейнера» (Δ = ‖f_host1(x) − f_host2(x)‖₂ ≤ 1e-3, "
    "for one input x)"
)
#: batches the exported file must run at (1, and one the export was not traced with)
EXPORT_BATCHES = (1, 3)

#: known arrays for Δ: (f1(x), f2(x)) with Δ, the batch norm and max |·| all different
DELTA_CASES = (
    (np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]]), np.zeros((2, 3))),
    (np.array([1.0, 2.0, 2.0]), np.array([1.0, 0.0, 0.0])),
    (
        np.array([[1.0, 1.0], [2.0, 2.0], [0.5, 0.5]]),
        np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]),
    ),
)


def _external_data(path: Path) -> list[str]:
    """Why the file is not self-contained: initializers stored outside it, or ``.data`` files."""
    proto = onnx.load(str(path), load_external_data=False)
    outside = [
        t.name for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL
    ]
    beside = [p.name for p in path.parent.glob(f"{path.stem}*.data")]
    return outside[:3] + beside


def _symbolic_batch(path: Path) -> bool:
    proto = onnx.load(str(path), load_external_data=False)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return bool(dims) and bool(dims[0].dim_param)


def _torch_logits(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    import torch  # deferred: seconds to import; only the export check needs torch here

    with torch.inference_mode():
        return model(torch.from_numpy(x)).numpy()


def export_problem(model: torch.nn.Module, path: Path, input_shape: tuple[int, ...]) -> str | None:
    """What is wrong with an exported file (None if nothing): missing, external weights, a
    fixed batch axis, a batch it cannot run, or outputs away from torch's beyond Δ ≤ 1e-3."""
    if not path.is_file():
        return f"no file at {path}: did the export write to the path it was given?"
    outside = _external_data(path)
    if outside:
        return f"the weights are not inside the file ({outside}): export with external_data=False"
    if not _symbolic_batch(path):
        return "the batch axis is fixed: give it a name (dynamic_shapes / dynamic_axes)"
    session = create_session(path, device="cpu")
    rng = np.random.default_rng(0)
    for batch in EXPORT_BATCHES:
        x = rng.standard_normal((batch, *input_shape), dtype=np.float32)
        try:
            logits = run(session, x)
        except Exception as error:  # noqa: BLE001 — ORT's own error types for a bad shape
            return f"ONNX Runtime cannot run it at batch {batch}: {type(error).__name__}"
        delta = compare(logits, _torch_logits(model, x)).l2
        if not delta <= LECTURE_DELTA:
            return f"at batch {batch}, Δ against torch is {delta:.3g} > {LECTURE_DELTA:g}"
    return None


def check_export(
    export_with_dynamic_batch: Callable[[Any, Path], Any],
    model: torch.nn.Module,
    path: str | Path,
    reference: Callable[[], Path],
    input_shape: tuple[int, ...] = (3, 224, 224),
) -> Check:
    """``ex01_export``: call the student's export into ``path`` (any earlier file there is
    removed first), then check the file. ``reference`` gives the kit's export (e.g.
    ``default_model``). ``value``: the file to go on with (yours if right, else the kit's)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in [path, *path.parent.glob(f"{path.stem}*.data")]:
        stale.unlink(missing_ok=True)
    checked = self_check(
        "ex01_export",
        lambda: export_with_dynamic_batch(model, path),
        reference=reference,
        compare=lambda _answer, _reference: export_problem(model, path, input_shape),
        section=SECTION_EXPORT,
        blame=export_with_dynamic_batch,
        passed=f"one file, runs at batch {EXPORT_BATCHES}, Δ to torch ≤ {LECTURE_DELTA:g}",
    )
    return replace(checked, value=path if checked.passed else checked.value)


def _delta_hint(answer: Any, reference: float, a: np.ndarray, b: np.ndarray) -> str | None:
    if answer is None:
        return "the function returned None (a missing return?)"
    if np.asarray(answer).size != 1:
        return f"expected one number, got an array of shape {np.shape(answer)}"
    value = float(np.asarray(answer, dtype=np.float64).reshape(-1)[0])
    if np.isclose(value, reference, rtol=1e-6, atol=1e-12):
        return None
    drift = compare(a, b)
    guesses = {
        "that is ‖a − b‖₂ of the whole batch; Δ is per input x (row): the worst": drift.l2_batch,
        "that is max |a − b|, one element; Δ is an L2 norm over a sample's outputs": drift.max_abs,
        "that is a squared norm: take the square root": drift.l2**2,
    }
    for hint, guess in guesses.items():
        if np.isclose(value, guess, rtol=1e-6) and not np.isclose(guess, reference, rtol=1e-6):
            return f"got {value:.6g}, expected {reference:.6g}: {hint}"
    return f"got {value:.6g}, expected {reference:.6g}"


def check_delta(
    lecture_delta: Callable[[np.ndarray, np.ndarray], float], f1: np.ndarray, f2: np.ndarray
) -> Check:
    """``ex01_delta``: the student's Δ on :data:`DELTA_CASES` and on the real outputs ``f1``,
    ``f2`` (e.g. ONNX Runtime vs torch logits). ``value``: Δ of the real outputs."""
    cases = [*DELTA_CASES, (np.asarray(f1), np.asarray(f2))]
    labels = [f"known arrays #{i + 1}" for i in range(len(DELTA_CASES))] + ["the real outputs"]

    def one(answer: Any, reference_and_case: tuple) -> str | None:
        reference, a, b = reference_and_case
        return _delta_hint(answer, reference, a, b)

    checked = self_check(
        "ex01_delta",
        over_cases(lecture_delta, cases),
        reference=lambda: [(compare(a, b).l2, a, b) for a, b in cases],
        compare=expect_cases("lecture_delta", cases, one, labels),
        section=SECTION_DELTA,
        blame=lecture_delta,
        passed=lambda answers: f"Δ of the real outputs = {float(answers[-1]):.3g}",
    )
    last = checked.value[-1]
    return replace(checked, value=float(last if checked.passed else last[0]))
