"""The lecture's CUDA_container ≤ Driver_host, observed rather than inferred.

A CUDA build brings its own CUDA runtime, but the kernel driver is the host's; when the build's
CUDA is newer than the driver supports, creating a CUDA session fails with *CUDA driver version
is insufficient for CUDA runtime version*. :func:`cuda_compatibility` records both versions and
what actually happened when a CUDA session was attempted on the probe model. It states no
verdict: the claim's judge in :mod:`mllab.report` reads these fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome, attempt
from mllab.runtime.nvidia import nvidia_info
from mllab.runtime.providers import PROBE_MODEL
from mllab.runtime.sessions import create_session

CUDA_PROVIDER = "CUDAExecutionProvider"


@dataclass
class CudaCompatibility:
    """The claim C9's evidence on this machine.

    ``container_cuda`` is the CUDA the installed ONNX Runtime build was compiled against,
    ``driver_max_cuda`` the highest CUDA the host driver supports (``nvidia-smi``), ``observed``
    whether a CUDA session ran, failed (``error`` holds the text seen) or could not be tried.
    """

    container_cuda: str | None
    driver_max_cuda: str | None
    observed: Outcome
    error: str | None

    SCHEMA_VERSION: ClassVar[int] = 1


def _cuda_listed() -> bool:
    """True when the installed ONNX Runtime build contains the CUDA provider at all."""
    try:
        import onnxruntime as ort  # deferred: start-up time, and absent in a bare container
    except ImportError:
        return False
    return CUDA_PROVIDER in ort.get_available_providers()


def cuda_compatibility(info: dict[str, Any] | None = None) -> CudaCompatibility:
    """Both CUDA versions and the outcome of really creating a CUDA session on
    :data:`~mllab.runtime.providers.PROBE_MODEL` (``info`` defaults to :func:`nvidia_info`)."""
    info = info or nvidia_info()
    need, have = info.get("ort_build_cuda"), info.get("driver_max_cuda")
    if not info.get("driver"):
        observed = Outcome.not_run("no NVIDIA driver on this machine")
    elif not _cuda_listed():
        observed = Outcome.not_run("the installed onnxruntime has no CUDAExecutionProvider")
    else:
        # ORT raises its own exception types (RuntimeError subclasses) for a broken provider
        observed, _ = attempt(
            create_session, PROBE_MODEL, device="cuda", expected=(MllabError, RuntimeError)
        )
    error = observed.reason if observed.status == "failed" else None
    return CudaCompatibility(need, have, observed, error)
