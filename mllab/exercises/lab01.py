"""Lab 01's exercises: f + θ in one ONNX file with a symbolic batch axis, and the lecture's Δ.

* ``ex01_export`` — ``export_with_dynamic_batch(model, path)``: export a torch model to ``path``
  as one self-contained ONNX file (no external ``.data``) whose batch axis is symbolic. Checked
  by loading it in ONNX Runtime, running it at batch 1 and 3, and comparing with torch.
* ``ex01_delta`` — ``lecture_delta(f1, f2)``: Δ = ‖f1(x) − f2(x)‖₂ for one input x; for a batch,
  per sample and the worst one (the convention of :mod:`mllab.measure.drift`, whose
  ``compare(a, b).l2`` is the reference).

The hidden cases (``hidden_*_groups``, graded by :mod:`mllab.exercises.hidden`): small networks
other than ResNet-50 exported at batches the visible check does not use; Δ on vectors, batches
and outputs that agree, of other sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from mllab.exercises.check import Check, expect_cases, over_cases, self_check
from mllab.exercises.hidden_run import Case, Group
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


# --- the hidden cases (drawn by the grader's seed; see mllab.exercises.hidden) ----------------
# While the student's function runs the kit's references (drift.compare, the kit's exports)
# refuse to answer, so the comparisons below use numpy only, on values computed beforehand.


def _delta_expected(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(Δ, ‖a − b‖₂ of the whole batch, max |a − b|) of two outputs, before the answer runs."""
    drift = compare(a, b)
    return drift.l2, drift.l2_batch, drift.max_abs


def _hidden_delta_compare(answer: Any, expected: tuple[float, float, float]) -> str | None:
    delta, whole, largest = expected
    if answer is None or np.asarray(answer).size != 1:
        return f"expected one number, got {np.shape(answer) if answer is not None else None}"
    value = float(np.asarray(answer, dtype=np.float64).reshape(-1)[0])
    if np.isclose(value, delta, rtol=1e-6, atol=1e-12):
        return None
    hints = {
        "the whole batch's norm; Δ is per input x: the worst row": whole,
        "max |a − b|, one element; Δ is an L2 norm over a sample's outputs": largest,
        "a squared norm: take the square root": delta**2,
    }
    hint = next((h for h, g in hints.items() if np.isclose(value, g, rtol=1e-6)), "")
    return f"expected Δ = {delta:.6g}, got {value:.6g}" + (f": that is {hint}" if hint else "")


def hidden_delta_groups(rng: Any) -> list[Group]:
    """``ex01_delta``'s hidden cases: vectors, batches and outputs that (almost) agree, of
    sizes and values the visible check does not use."""

    def case(label: str, a: np.ndarray, b: np.ndarray) -> Case:
        return Case(f"{label} of shape {a.shape}", (a, b), _delta_expected(a, b))

    def vector() -> Case:
        n = int(rng.integers(4, 2000))
        a = rng.standard_normal(n) * float(rng.uniform(0.1, 10))
        return case("one output vector f(x)", a, a + rng.standard_normal(n) * 1e-3)

    def batch() -> Case:
        n, k = int(rng.integers(3, 9)), int(rng.integers(5, 1000))
        a = rng.standard_normal((n, k))
        scale = rng.uniform(1e-5, 1e-2, size=(n, 1))  # rows drift by different amounts
        return case("a batch", a, a + rng.standard_normal((n, k)) * scale)

    def agreeing() -> Case:
        n, k = int(rng.integers(2, 6)), int(rng.integers(10, 1000))
        a = rng.standard_normal((n, k)).astype(np.float32)
        b = a.copy()
        b[int(rng.integers(n))] += np.float32(1e-4) * rng.standard_normal(k).astype(np.float32)
        return case("float32 logits equal in all rows but one", a, b)

    same = rng.standard_normal((int(rng.integers(1, 5)), 1000))
    return [
        Group(
            "one input x: Δ = ‖f1(x) − f2(x)‖₂", 0.3, [vector(), vector()], _hidden_delta_compare
        ),
        Group(
            "a batch: the worst sample's Δ (not the batch's norm, not one element)",
            0.4,
            [batch(), batch(), batch()],
            _hidden_delta_compare,
        ),
        Group(
            "outputs that agree: Δ = 0 when equal, one row's drift when only it moved",
            0.3,
            [case("identical outputs", same, same.copy()), agreeing()],
            _hidden_delta_compare,
        ),
    ]


#: batches the hidden export cases run at: none of the visible check's (1, 3)
HIDDEN_EXPORT_BATCHES = (2, 5, 8)


def _tiny_classifier(seed: int, classes: int, width: int) -> torch.nn.Module:
    """A small (N, 3, 224, 224) → (N, classes) network other than the lab's ResNet-50 (a
    strided conv keeps an export to about a second)."""
    import torch  # deferred: only the export's hidden cases need torch

    torch.manual_seed(seed)
    layers = [torch.nn.Conv2d(3, width, 5, stride=4), torch.nn.BatchNorm2d(width)]
    layers += [torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, classes)).eval()


def _export_expected(model: torch.nn.Module, path: Path, seed: int) -> dict[str, Any]:
    """What the file at ``path`` must do: torch's logits at :data:`HIDDEN_EXPORT_BATCHES`."""
    rng = np.random.default_rng(seed)
    inputs = {
        b: rng.standard_normal((b, 3, 224, 224), dtype=np.float32) for b in HIDDEN_EXPORT_BATCHES
    }
    logits = {b: _torch_logits(model, x) for b, x in inputs.items()}
    return {"path": path, "inputs": inputs, "logits": logits}


def _file_problem(expected: dict[str, Any], batches: tuple[int, ...], names: bool) -> str | None:
    """What is wrong with the exported file (numpy and ONNX Runtime only, no kit reference)."""
    path: Path = expected["path"]
    if not path.is_file():
        return f"no file at the path given ({path.name}): export to `path`"
    if names:
        outside = _external_data(path)
        if outside:
            return f"the weights are not inside the one file ({outside[:2]})"
        session = create_session(path, device="cpu")
        found = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
        if found != (["input"], ["logits"]):
            return f"inputs, outputs {found}: the server feeds 'input' and reads 'logits'"
    session = create_session(path, device="cpu")
    feed = session.get_inputs()[0].name
    for batch in batches:
        x, want = expected["inputs"][batch], expected["logits"][batch]
        try:
            got = session.run(None, {feed: x})[0]
        except Exception as error:  # noqa: BLE001 — ORT's own error types for a bad shape
            return f"ONNX Runtime cannot run it at batch {batch}: {type(error).__name__}"
        if np.shape(got) != np.shape(want):
            return f"at batch {batch} the logits have shape {np.shape(got)}, not {want.shape}"
        delta = float(np.linalg.norm((got - want).astype(np.float64), axis=1).max())
        if not delta <= LECTURE_DELTA:
            return f"at batch {batch}, Δ against torch is {delta:.3g} > {LECTURE_DELTA:g}"
    return None


def _export_compare(batches: tuple[int, ...], names: bool) -> Callable[[Any, Any], str | None]:
    def check(_answer: Any, expected: dict[str, Any]) -> str | None:
        try:
            return _file_problem(expected, batches, names)
        finally:  # the hidden file is not kept (nor is it when the answer raised: the
            expected["folder"].cleanup()  # folder goes with the case)

    return check


def hidden_export_groups(rng: Any) -> list[Group]:
    """``ex01_export``'s hidden cases: small networks other than the lab's (with their own
    number of classes), exported to a fresh folder each and run at batches the visible check
    does not use; a group per idea (the model given, the free batch axis, one file)."""
    import tempfile

    def case(what: str) -> Case:
        seed, classes, width = (int(v) for v in rng.integers((0, 3, 4), (2**16, 40, 12)))
        model = _tiny_classifier(seed, classes, width)
        folder = tempfile.TemporaryDirectory(prefix="mllab-hidden-", ignore_cleanup_errors=True)
        path = Path(folder.name) / "model.onnx"
        label = f"a small {classes}-class network (not the lab's ResNet-50), {what}"
        expected = {**_export_expected(model, path, seed), "folder": folder}
        return Case(label, (model, path), expected)

    first = HIDDEN_EXPORT_BATCHES[:1]
    return [
        Group(
            "the model given is the one exported (Δ to torch ≤ 1e-3)",
            0.4,
            [case(f"at batch {first[0]}"), case(f"at batch {first[0]}")],
            _export_compare(first, names=False),
        ),
        Group(
            "the batch axis stays free: batches the export never saw",
            0.3,
            [case(f"at batches {HIDDEN_EXPORT_BATCHES}")],
            _export_compare(HIDDEN_EXPORT_BATCHES, names=False),
        ),
        Group(
            "one self-contained file with the input and output the server uses",
            0.3,
            [case("its weights inside the one file, input 'input', output 'logits'")],
            _export_compare(first, names=True),
        ),
    ]
