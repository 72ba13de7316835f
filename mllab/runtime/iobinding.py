"""I/O binding: inputs and outputs stay on the session's device.

Without it every ``session.run`` copies the input from host memory to the GPU and the logits
back; with an ``IOBinding`` the input is copied once and the outputs are pre-allocated on the
device (ONNX Runtime's CUDA execution-provider documentation). On the CPU provider the same
code binds host memory, so it is tested on any machine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from mllab.core.errors import InputError

if TYPE_CHECKING:  # annotations only: onnxruntime is imported when a binding is made
    import onnxruntime as ort

#: ONNX tensor types whose numpy dtype the binding checks and pre-allocates
_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
#: providers whose tensors live on an NVIDIA device
_GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


def session_device(session: ort.InferenceSession) -> tuple[str, int]:
    """``("cuda", device_id)`` for a session running on CUDA/TensorRT, else ``("cpu", 0)``."""
    provider = session.get_providers()[0]
    if provider not in _GPU_PROVIDERS:
        return "cpu", 0
    options = session.get_provider_options().get(provider, {})
    return "cuda", int(options.get("device_id", 0))


def _output_shape(session: ort.InferenceSession, index: int, batch: int) -> list[int] | None:
    """The concrete shape of output ``index`` at ``batch`` (symbolic batch axis), or None."""
    shape = session.get_outputs()[index].shape
    concrete = [batch if i == 0 and not isinstance(d, int) else d for i, d in enumerate(shape)]
    return concrete if all(isinstance(d, int) for d in concrete) else None


def bind_io(session: ort.InferenceSession, x: np.ndarray) -> ort.IOBinding:
    """An ``IOBinding`` with ``x`` copied once to the session's device and the outputs
    pre-allocated there: each ``session.run_with_iobinding`` then copies nothing to the host."""
    import onnxruntime as ort  # deferred like in mllab.runtime.sessions (start-up time)

    kind, device_id = session_device(session)
    expected = session.get_inputs()[0].type
    if _NUMPY_TYPES.get(expected) is not None and x.dtype != _NUMPY_TYPES[expected]:
        raise InputError(f"the model's input is {expected}, not an array of {x.dtype}")
    binding = session.io_binding()
    value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(x), kind, device_id)
    binding.bind_ortvalue_input(session.get_inputs()[0].name, value)
    keep = [value]  # the OrtValues must outlive the binding
    for index, output in enumerate(session.get_outputs()):
        shape = _output_shape(session, index, x.shape[0])
        dtype = _NUMPY_TYPES.get(output.type)
        if shape is None or dtype is None:
            binding.bind_output(output.name, kind, device_id)  # ORT allocates it on the device
            continue
        out = ort.OrtValue.ortvalue_from_shape_and_type(shape, dtype, kind, device_id)
        binding.bind_ortvalue_output(output.name, out)
        keep.append(out)
    binding.mllab_values = keep
    return binding


def iobinding_runner(
    session: ort.InferenceSession, x: np.ndarray
) -> tuple[Callable[[], None], Callable[[], None]]:
    """``(run, sync)`` for the benchmark harness: ``run()`` runs on the bound device buffers,
    ``sync()`` waits for the device (``IOBinding.synchronize_outputs``)."""
    binding = bind_io(session, x)

    def run() -> None:
        session.run_with_iobinding(binding)

    return run, binding.synchronize_outputs


def run_with_iobinding(
    session: ort.InferenceSession, x: np.ndarray, to_cpu: bool = True
) -> np.ndarray | ort.OrtValue:
    """Run ``session`` on ``x`` through I/O binding; the first output, copied to a numpy
    array when ``to_cpu`` (else the ``OrtValue`` left on the device)."""
    binding = bind_io(session, x)
    session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    return binding.copy_outputs_to_cpu()[0] if to_cpu else binding.get_outputs()[0]
