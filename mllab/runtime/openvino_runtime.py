"""OpenVINO on the CPU: the runtime a user would pick instead of ONNX Runtime, on equal terms.

OpenVINO reads the same ONNX file ONNX Runtime runs (its ONNX frontend; no conversion step on
disk). :func:`compile_openvino` compiles it for the CPU plugin with the *same* thread count as
ONNX Runtime's session (``INFERENCE_NUM_THREADS`` = :func:`mllab.runtime.sessions.session_options`'
``intra_op_num_threads``: the cgroup quota), one stream and the latency hint, so that a
comparison measures the runtimes and not two thread pools of different sizes.

Precision: on a CPU with native bf16 (AMX, AVX-512 BF16) OpenVINO's default
``INFERENCE_PRECISION_HINT`` is bf16, a different arithmetic from ONNX Runtime's fp32. The kit
asks for ``f32`` unless told otherwise and reads back what was used, so a speed-up is never
bought silently with precision. A QDQ INT8 model (``mllab.model.quantize``) runs on OpenVINO's
integer kernels: :meth:`OpenVinoModel.kernel_precisions` shows which precisions its convolutions
really ran in.

openvino is imported inside the functions: a heavy optional dependency (about 180 MB) that the
slim serving image does not carry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mllab.core.errors import InputError, ProviderUnavailable
from mllab.runtime.cgroup import usable_cpus

#: OpenVINO's names of the inference precisions the kit asks for
PRECISIONS = ("f32", "bf16", "f16")
#: the operator types whose runtime precision says whether integer kernels ran
COMPUTE_OPS = ("Convolution", "FullyConnected", "MatMul")


def openvino_version() -> str | None:
    """OpenVINO's version, or None when it is not installed here."""
    try:
        import openvino as ov
    except ImportError:
        return None
    return str(ov.get_version()).split("-")[0]  # "2026.4.1-22982-…": the release


@dataclass
class OpenVinoModel:
    """A model compiled by OpenVINO for the CPU, with what the plugin really chose."""

    path: Path
    threads: int  # INFERENCE_NUM_THREADS read back from the compiled model
    precision: str  # INFERENCE_PRECISION_HINT read back (f32, bf16, ...)
    version: str
    compiled: Any  # openvino.CompiledModel
    request: Any  # openvino.InferRequest, reused: one request per call, as a server would

    def run(self, x: np.ndarray) -> np.ndarray:
        """The first output (the logits) for the batch ``x``, as a float32 array."""
        result = self.request.infer({0: np.ascontiguousarray(x, dtype=np.float32)})
        return np.asarray(result[self.compiled.output(0)], dtype=np.float32)

    def kernel_precisions(self) -> dict[str, int]:
        """How many compute operators (:data:`COMPUTE_OPS`) of the compiled graph run in each
        precision: ``{"u8": 53}`` for an INT8 model on integer kernels, ``{"f32": 53}`` else."""
        counts: Counter[str] = Counter()
        for op in self.compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if str(info["layerType"].astype(str)) in COMPUTE_OPS:
                counts[str(info["runtimePrecision"].astype(str))] += 1
        return dict(counts)


def compile_openvino(
    model: str | Path, threads: int | None = None, precision: str = "f32"
) -> OpenVinoModel:
    """Compile the ONNX ``model`` with OpenVINO on the CPU with ``threads`` (default: the
    cgroup quota, as ONNX Runtime's sessions) and the inference ``precision``.

    Raises :class:`ProviderUnavailable` when OpenVINO is not installed or its CPU plugin
    does not load, :class:`InputError` for a missing file or an unknown precision.
    """
    path = Path(model)
    if not path.is_file():
        raise InputError(f"no such model file: {path}")
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if threads is not None and threads < 1:
        raise InputError(f"threads must be >= 1 (or None for the cgroup quota), not {threads}")
    try:
        import openvino as ov
    except ImportError as error:
        raise ProviderUnavailable(
            f"OpenVINO is not installed here ({error}): pip install openvino (a kit dependency)"
        ) from error
    config = {
        "INFERENCE_NUM_THREADS": threads or usable_cpus(),
        "INFERENCE_PRECISION_HINT": precision,
        "PERFORMANCE_HINT": "LATENCY",  # one stream: every thread on one request, as ORT
        "NUM_STREAMS": 1,
    }
    try:
        compiled = ov.Core().compile_model(str(path), "CPU", config)
    except RuntimeError as error:  # the plugin's errors (no CPU plugin, unsupported op)
        why = f"OpenVINO could not compile {path.name} for the CPU: {error}"
        raise ProviderUnavailable(why) from error
    return OpenVinoModel(
        path=path,
        threads=int(compiled.get_property("INFERENCE_NUM_THREADS")),
        precision=str(compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()),
        version=str(ov.get_version()).split("-")[0],
        compiled=compiled,
        request=compiled.create_infer_request(),
    )
