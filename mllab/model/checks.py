"""The exported model's interface, and the checks every export and derived model must pass.

Every ONNX file of the kit takes ``input`` (``(N, 3, 224, 224)`` float32, symbolic N) and
gives ``logits`` (``(N, 1000)``). :func:`check_dynamic_batch` proves the batch axis really is
symbolic by running ONNX Runtime at several batch sizes; :func:`load_session` refuses a file
whose sha256 does not match the digest beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from mllab.core.errors import ExportFailed
from mllab.model.integrity import verify_model
from mllab.runtime.sessions import create_session

if TYPE_CHECKING:  # annotations only
    import onnxruntime as ort

INPUT, OUTPUT = "input", "logits"
#: batch sizes at which the dynamic batch axis is verified with ONNX Runtime
CHECK_BATCHES = (1, 3, 8)
#: classes of the ImageNet head
CLASSES = 1000


def run(session: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
    """Logits of an ONNX Runtime session for an ``(N, 3, 224, 224)`` float32 batch."""
    return session.run([OUTPUT], {INPUT: np.ascontiguousarray(x, dtype=np.float32)})[0]


def check_dynamic_batch(
    path: str | Path, batches: tuple[int, ...] = CHECK_BATCHES
) -> dict[int, tuple[int, ...]]:
    """Run ONNX Runtime at each batch size; :class:`ExportFailed` unless logits are ``(b, 1000)``.

    Returns ``{batch: output shape}``. The graph's batch dimension must also be symbolic.
    """
    proto = onnx.load(str(path), load_external_data=False)
    for value in (proto.graph.input[0], proto.graph.output[0]):
        dim = value.type.tensor_type.shape.dim[0]
        if not dim.dim_param:
            raise ExportFailed(
                f"{path}: the batch axis of {value.name!r} is fixed to {dim.dim_value}, not "
                "symbolic (was the example batch 1?)"
            )
    session = create_session(path, device="cpu")
    rng = np.random.default_rng(0)
    shapes: dict[int, tuple[int, ...]] = {}
    for batch in batches:
        x = rng.standard_normal((batch, 3, 224, 224), dtype=np.float32)
        shapes[batch] = tuple(run(session, x).shape)
        if shapes[batch] != (batch, CLASSES):
            raise ExportFailed(f"{path}: batch {batch} gave logits of shape {shapes[batch]}")
    return shapes


def load_session(path: str | Path, verify: bool = True, **kwargs: Any) -> ort.InferenceSession:
    """An ONNX Runtime session for ``path``, refused (:class:`IntegrityError`) if its sha256
    does not match ``<path>.sha256``. ``kwargs`` go to
    :func:`mllab.runtime.sessions.create_session`."""
    if verify:
        verify_model(path)
    return create_session(path, **kwargs)
