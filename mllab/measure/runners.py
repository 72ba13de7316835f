"""Inputs and runners: the one home of "a batch to feed" and "a model call to time or compare".

Two kinds of runner, for two jobs:

* a **timing runner** is ``(fn, sync)``: ``fn()`` runs the model once on a batch built in
  advance, ``sync()`` (or None) waits for the device. :func:`mllab.measure.harness.measure`
  times it. :func:`session_runner` (ONNX Runtime, I/O binding on a GPU) and
  :func:`torch_runner` (PyTorch eager, CPU or CUDA) build one.
* a **predictor** is ``x -> logits`` (numpy in, float32 numpy out), for comparing outputs
  (lab 06's drift matrix): :func:`ort_predictor` and :func:`torch_predictor`.

torch is imported inside the functions that need it: it takes seconds to import and it is not
in the slim serving image, while the ONNX Runtime half of this module runs everywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from mllab.core.errors import InputError, ProviderUnavailable
from mllab.runtime.cgroup import usable_cpus
from mllab.runtime.iobinding import iobinding_runner, session_device
from mllab.runtime.nvidia import nvidia_driver
from mllab.runtime.sessions import create_session

if TYPE_CHECKING:  # annotations only: onnxruntime and torch load when a session or model does
    import onnxruntime as ort
    import torch

#: ``(fn, sync)``: one call of the model, and the device synchronisation (None on the CPU)
TimingRunner = tuple[Callable[[], Any], Callable[[], Any] | None]
#: ``x -> logits``: a batch in, the model's float32 outputs back
Predictor = Callable[[np.ndarray], np.ndarray]


# --- inputs --------------------------------------------------------------------------------


def random_input(session: ort.InferenceSession, batch: int, seed: int = 0) -> np.ndarray:
    """A standard-normal batch matching the session's first input (batch axis = ``batch``;
    float16 when the model takes float16)."""
    meta = session.get_inputs()[0]
    shape = [batch if i == 0 else d for i, d in enumerate(meta.shape)]
    if not all(isinstance(d, int) and d > 0 for d in shape):
        raise InputError(
            f"cannot build an input for shape {meta.shape}: a non-batch axis is symbolic"
        )
    dtype = np.float16 if meta.type == "tensor(float16)" else np.float32
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def reference_inputs(
    photos: np.ndarray | None = None, n_random: int = 2, seed: int = 0
) -> np.ndarray:
    """The inputs outputs are compared on, as one float32 batch: ``photos`` (already
    preprocessed, e.g. ``preprocess_batch(sample_images())`` from :mod:`mllab.model.preprocess`)
    then a seeded standard-normal batch of ``n_random``. Photos give realistic logits (top-1
    agreement means something); noise is cheap and reaches every input value."""
    parts = [np.asarray(photos, dtype=np.float32)] if photos is not None and len(photos) else []
    if n_random:
        rng = np.random.default_rng(seed)
        parts.append(rng.standard_normal((n_random, 3, 224, 224), dtype=np.float32))
    if not parts:
        raise InputError("the reference inputs are empty: give photos or ask for random samples")
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


# --- ONNX Runtime ---------------------------------------------------------------------------


def session_runner(
    session: ort.InferenceSession,
    batch: int,
    iobinding: bool | None = None,
    x: np.ndarray | None = None,
) -> TimingRunner:
    """``(fn, sync)`` running ``session`` on ``x`` (default: :func:`random_input` of ``batch``).

    I/O binding (input copied to the device once, outputs kept there) is used on CUDA/TensorRT
    by default, so that the timing is the model's and not the PCIe copies; plain
    ``session.run`` on the CPU.
    """
    x = random_input(session, batch) if x is None else x
    on_gpu = session_device(session)[0] == "cuda"
    if iobinding if iobinding is not None else on_gpu:
        return iobinding_runner(session, x)
    feed = {session.get_inputs()[0].name: x}
    return (lambda: session.run(None, feed)), None


def ort_predictor(model: Any, **options: Any) -> Predictor:
    """``x -> logits`` (first output) of ONNX Runtime. ``model`` is a session, or a model file
    opened with :func:`mllab.runtime.sessions.create_session` (``options`` are its
    ``SessionConfig`` fields; the provider is verified)."""
    session = model if hasattr(model, "get_inputs") else create_session(model, **options)
    name = session.get_inputs()[0].name

    def predict(x: np.ndarray) -> np.ndarray:
        feed = {name: np.ascontiguousarray(x, dtype=np.float32)}
        return np.asarray(session.run(None, feed)[0], dtype=np.float32)

    return predict


# --- PyTorch --------------------------------------------------------------------------------


def require_torch_cuda() -> None:
    """:class:`ProviderUnavailable` naming why torch cannot use a GPU here (else nothing)."""
    import torch  # deferred: seconds to import, absent from the slim image

    if torch.cuda.is_available():
        return
    if torch.version.cuda is None:
        why = f"this torch build ({torch.__version__}) has no CUDA support"
    elif (driver := nvidia_driver()) is None:
        why = f"torch {torch.__version__} is built for CUDA {torch.version.cuda} but no NVIDIA "
        why += "GPU or driver was found (nvidia-smi and /proc/driver/nvidia are absent)"
    else:
        why = f"driver {driver} is present but torch.cuda.is_available() is False "
        why += f"(torch needs CUDA {torch.version.cuda}; the driver may be too old)"
    raise ProviderUnavailable(f"asked for torch on cuda, which is unavailable: {why}.")


def _torch_module(
    model: torch.nn.Module | Callable[[], torch.nn.Module], device: str
) -> torch.nn.Module:
    """``model`` (a torch module, or a zero-argument factory returning one, e.g.
    ``lambda: load_resnet50(seed=0)`` from :mod:`mllab.model.resnet`) in eval mode on ``device``;
    :class:`ProviderUnavailable` when ``device`` is cuda and torch has no GPU here."""
    if device not in ("cpu", "cuda"):
        raise InputError(f"torch runs on cpu or cuda here, not {device!r}")
    if device == "cuda":
        require_torch_cuda()  # before building the model: a missing GPU fails in a second
    import torch  # deferred: seconds to import, absent from the slim image

    module = model if isinstance(model, torch.nn.Module) else model()
    return module.to(device).eval()


def torch_runner(
    model: torch.nn.Module | Callable[[], torch.nn.Module],
    batch: int = 1,
    device: str = "cpu",
    precision: str = "fp32",
    seed: int = 0,
) -> TimingRunner:
    """``(fn, sync)`` running ``model`` (a torch module or a zero-argument factory) in eager
    mode on a seeded random ``(batch, 3, 224, 224)`` batch.

    ``precision="fp16"`` (CUDA only) runs under ``torch.autocast`` (fp16 matmuls and
    convolutions, fp32 where autocast keeps it); ``sync`` is ``torch.cuda.synchronize`` on
    CUDA. CPU threads follow the cgroup quota, like the ONNX Runtime sessions.
    """
    import torch  # deferred: seconds to import, absent from the slim image

    if device not in ("cpu", "cuda") or precision not in ("fp32", "fp16"):
        raise InputError(
            f"device must be cpu|cuda and precision fp32|fp16, not {device}/{precision}"
        )
    if device == "cpu" and precision == "fp16":
        raise InputError("fp16 autocast is a CUDA path: on the CPU use precision='fp32'")
    module = _torch_module(model, device)
    torch.set_num_threads(usable_cpus())
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, 224, 224, generator=generator).to(device)
    autocast = (
        torch.autocast("cuda", dtype=torch.float16)
        if precision == "fp16"
        else contextlib.nullcontext()
    )

    def run() -> torch.Tensor:
        with torch.inference_mode(), autocast:
            logits: torch.Tensor = module(x)
            return logits

    return run, (torch.cuda.synchronize if device == "cuda" else None)


def torch_predictor(
    model: torch.nn.Module | Callable[[], torch.nn.Module],
    device: str = "cpu",
    threads: int | None = None,
) -> Predictor:
    """``x -> logits`` of ``model`` (a torch module or a zero-argument factory) in eager mode,
    fp32. ``threads``: intra-op threads set for each call and restored afterwards (the
    caller's setting is left alone)."""
    import torch  # deferred: seconds to import, absent from the slim image

    module = _torch_module(model, device)

    def predict(x: np.ndarray) -> np.ndarray:
        before = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            with torch.inference_mode():
                batch = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
                logits: torch.Tensor = module(batch)
                return logits.cpu().numpy().astype(np.float32)
        finally:
            torch.set_num_threads(before)

    return predict
