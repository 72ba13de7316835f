"""Does the server in a container compute what ONNX Runtime computes on the host? (claim C4,
lab 04's fallback for it: lab 06 compares the runtimes without the server in between).

The same preprocessed batch goes to the container's ``/predict`` as ``.npy`` (no text rounding
either way) and through a host session on the same model file; :func:`mllab.measure.drift.compare`
measures the difference. No verdict here: the report judges the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import httpx
import numpy as np

from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome, attempt
from mllab.measure.drift import Drift, compare
from mllab.runtime.sessions import create_session
from mllab.serve.client import predict_tensor


@dataclass
class ContainerParity:
    """The server in the slim container vs ONNX Runtime on the host, on one batch (C4).

    ``delta_l2`` is the lecture's Δ (max over samples of ‖a_i − b_i‖₂); the figures are None
    when the comparison did not run (``outcome`` says why)."""

    outcome: Outcome
    delta_l2: float | None = None
    max_abs: float | None = None
    top1_agreement: float | None = None
    n: int | None = None  # samples compared

    SCHEMA_VERSION: ClassVar[int] = 1


def _drift(url: str, model: str | Path, x: np.ndarray) -> Drift:
    in_container = predict_tensor(url, x)["output"]
    session = create_session(model)
    on_host = session.run(None, {session.get_inputs()[0].name: x})[0]
    return compare(in_container, on_host)


def container_parity(url: str, model: str | Path, x: np.ndarray) -> ContainerParity:
    """Send ``x`` to the server at ``url`` and run it through ``model`` on the host; the
    difference as a :class:`ContainerParity` (``outcome`` failed when either side fails)."""
    outcome, drift = attempt(_drift, url, model, x, expected=(MllabError, httpx.HTTPError))
    if drift is None:
        return ContainerParity(outcome)
    return ContainerParity(outcome, drift.l2, drift.max_abs, drift.top1_agreement, drift.n)
