"""Which ONNX Runtime execution providers really work here, and why one does not.

onnxruntime-gpu lists ``CUDAExecutionProvider`` in ``get_available_providers()`` even on a
machine without a GPU, and silently falls back to the CPU when the provider cannot load. The
only trustworthy answer is a created session's ``get_providers()``:
:func:`ort_working_providers` probes each listed provider with a 65-byte model, and
:func:`why_provider_failed` names the cause of a failure (no driver, a missing libcublas /
libcudnn / libnvinfer, a driver too old for the build's CUDA).

onnxruntime is imported inside the functions: the fingerprint imports this module in a bare
container without it (and ``mllab --help`` should not pay its start-up time).
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import functools
import glob
import io
import os
import site
from pathlib import Path

from mllab.runtime.nvidia import nvidia_driver, nvidia_info, version_tuple

#: shared libraries each GPU provider needs (the stem is globbed in the nvidia-* wheels)
PROVIDER_LIBRARIES = {
    "CUDAExecutionProvider": ("libcublas", "libcublasLt", "libcudnn"),
    "TensorrtExecutionProvider": ("libcublas", "libcudnn", "libnvinfer"),
}
#: the provider's own plug-in library inside onnxruntime/capi
PROVIDER_PLUGINS = {
    "CUDAExecutionProvider": "libonnxruntime_providers_cuda.so",
    "TensorrtExecutionProvider": "libonnxruntime_providers_tensorrt.so",
}
#: A 65-byte ONNX model (y = Relu(x), opset 13): enough to create a session on any provider
#: without needing the onnx package, so the probe also works inside the slim image.
PROBE_MODEL = base64.b64decode(
    "CAg6NwoMCgF4EgF5IgRSZWx1EgVwcm9iZVoPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEA0="
)
#: the first words of the diagnosis when there is no driver (lab 06's drift matrix reads it)
NO_DRIVER = "No NVIDIA GPU or driver was found"


@functools.cache
def ort_working_providers() -> list[str]:
    """Providers ONNX Runtime *really* uses here: a session is created on each listed provider
    and ``get_providers()`` read back (``get_available_providers()`` alone lists CUDA even on a
    machine without a GPU)."""
    try:
        import onnxruntime as ort  # optional here: see the module docstring
    except ImportError:
        return []
    working = []
    # The probe's fallbacks are expected: silence ORT's logger and its Python-level print.
    ort.set_default_logger_severity(4)
    try:
        for provider in ort.get_available_providers():
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    session = ort.InferenceSession(PROBE_MODEL, providers=[provider])
            except Exception:  # noqa: BLE001 - a provider that cannot make a session is not working
                continue
            if session.get_providers()[0] == provider:
                working.append(provider)
    finally:
        ort.set_default_logger_severity(2)  # ORT's default: warnings
    return working


def preload_cuda_libraries() -> str | None:
    """Load CUDA/cuDNN from the nvidia-* pip wheels (``ort.preload_dlls``, ORT >= 1.21).

    Returns None when the preload ran, else why it could not (older ORT, or a loader error);
    a library still missing afterwards is diagnosed by :func:`why_provider_failed`.
    """
    import onnxruntime as ort

    if not hasattr(ort, "preload_dlls"):
        return f"onnxruntime {ort.__version__} has no preload_dlls (it appeared in 1.21)"
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints warnings instead of raising
            ort.preload_dlls()
    except Exception as error:  # noqa: BLE001 - diagnosed later by why_provider_failed
        return f"{type(error).__name__}: {error}"
    return None


def plugin_load_error(provider: str) -> str | None:
    """The dynamic loader's error when loading ``provider``'s plug-in library, or None if it
    loads. ``libcuda.so.1`` in the message means no NVIDIA driver; ``libcublas``, ``libcudnn``
    or ``libnvinfer`` mean a CUDA, cuDNN or TensorRT library is missing."""
    import onnxruntime as ort

    plugin = PROVIDER_PLUGINS.get(provider)
    if plugin is None:
        return None
    capi = Path(ort.__file__).parent / "capi"
    try:
        # the plug-in resolves symbols of the shared-provider bridge: load that one globally
        ctypes.CDLL(str(capi / "libonnxruntime_providers_shared.so"), mode=ctypes.RTLD_GLOBAL)
        ctypes.CDLL(str(capi / plugin))
    except OSError as error:
        return str(error).replace(str(capi) + os.sep, "")
    return None


def why_provider_failed(provider: str) -> str:
    """A human diagnosis of why a GPU provider did not load on this machine."""
    import onnxruntime as ort

    if provider not in ort.get_available_providers():
        return (
            f"This onnxruntime build ({ort.__version__}) has no {provider}: "
            "install onnxruntime-gpu (Linux x86_64)."
        )
    preload_cuda_libraries()
    loader = plugin_load_error(provider)
    detail = f" (loading {PROVIDER_PLUGINS.get(provider)} fails with: {loader})" if loader else ""
    driver = nvidia_driver()
    if driver is None:
        return (
            f"{NO_DRIVER} (nvidia-smi and /proc/driver/nvidia are absent; "
            f"libcuda.so.1 comes with the driver){detail}. Run on a machine with an NVIDIA GPU "
            "and driver (in Docker: --gpus all with the NVIDIA Container Toolkit)."
        )
    missing = [lib for lib in PROVIDER_LIBRARIES.get(provider, ()) if not _library_loadable(lib)]
    if missing:
        wheels = "tensorrt-cu13" if "libnvinfer" in missing else "'onnxruntime-gpu[cuda,cudnn]'"
        return (
            f"Driver {driver} is present but {', '.join(missing)} could not be loaded{detail}: "
            f"install the nvidia-*-cu* wheels (pip install {wheels}) or the CUDA toolkit."
        )
    info = nvidia_info()
    need, have = info.get("ort_build_cuda"), info.get("driver_max_cuda")
    versions = f"the build wants CUDA {need}, the driver supports up to CUDA {have}"
    if need and have and version_tuple(need) > version_tuple(have):
        return (
            f"Driver {driver} is too old for this build's CUDA ({versions}){detail}. "
            "Upgrade the host driver (the lecture: CUDA_container <= Driver_host)."
        )
    return (
        f"Driver {driver} is present and the libraries load ({versions}){detail}; "
        f"ONNX Runtime still did not use {provider}: run with ORT's log severity at 0 to see why."
    )


def _library_loadable(stem: str) -> bool:
    """True when ``stem`` (e.g. ``libcudnn``) loads from the system or an nvidia-* wheel."""
    candidates = [f"{stem}.so"]
    for base in site.getsitepackages():
        candidates += glob.glob(f"{base}/nvidia/**/{stem}.so*", recursive=True)
        candidates += glob.glob(f"{base}/tensorrt_libs/{stem}.so*")
    for name in candidates:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False
