"""ONNX Runtime sessions whose execution provider is verified, never assumed.

onnxruntime-gpu lists ``CUDAExecutionProvider`` in ``get_available_providers()`` even on a
machine without a GPU, and silently falls back to the CPU when the provider cannot load.
The only trustworthy answer is ``session.get_providers()`` after the session is created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.cgroup import usable_cpus
from mllab.errors import ProviderUnavailable

#: device name -> ONNX Runtime provider tried first
PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
OPT_LEVELS = ("disable", "basic", "extended", "all")


@dataclass
class SessionConfig:
    """How to build a session. ``threads=None`` sizes the pool from the cgroup CPU quota."""

    device: str = "cpu"
    threads: int | None = None
    opt_level: str = "all"
    deterministic: bool = False  # the lecture's ORT_DISABLE_ALL + enable_mem_pattern=False
    optimized_model_path: str | None = None
    profile_prefix: str | None = None
    provider_options: dict[str, Any] = field(default_factory=dict)


def session_options(config: SessionConfig):
    """``ort.SessionOptions`` for a config (threads from the quota, lecture's determinism)."""
    import onnxruntime as ort

    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    if config.opt_level not in levels:
        raise ValueError(f"opt_level must be one of {OPT_LEVELS}, not {config.opt_level!r}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = config.threads or usable_cpus()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = levels[config.opt_level]
    if config.deterministic:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.enable_mem_pattern = False
    if config.optimized_model_path:
        options.optimized_model_filepath = config.optimized_model_path
    if config.profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = config.profile_prefix
    return options


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a CUDA session really works here, else ``cpu``."""
    if device != "auto":
        return device
    return "cuda" if cuda_works() else "cpu"


def cuda_works() -> bool:
    """True when ONNX Runtime can really run on a GPU here (not just list the provider)."""
    from mllab.env import ort_working_providers

    return "CUDAExecutionProvider" in ort_working_providers()


def create_session(model: str | Path | bytes, config: SessionConfig | None = None, **kwargs):
    """An ``InferenceSession`` on the requested device, or :class:`ProviderUnavailable`.

    ``kwargs`` override fields of ``config`` (``create_session(path, device="cuda")``).
    """
    import onnxruntime as ort

    config = config or SessionConfig()
    for key, value in kwargs.items():
        setattr(config, key, value)
    device = resolve_device(config.device)
    if device not in PROVIDERS:
        raise ValueError(f"device must be one of {sorted(PROVIDERS) + ['auto']}, not {device!r}")
    wanted = PROVIDERS[device]
    providers: list[Any] = ["CPUExecutionProvider"]
    if device != "cpu":
        preload_cuda_libraries()
        chain = ["CUDAExecutionProvider"] if device == "cuda" else [wanted, "CUDAExecutionProvider"]
        providers = [(p, config.provider_options if p == wanted else {}) for p in chain]
        providers.append("CPUExecutionProvider")
    source = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(source, session_options(config), providers=providers)
    used = session.get_providers()
    if used[0] != wanted:
        raise ProviderUnavailable(
            f"asked for {device} ({wanted}) but ONNX Runtime is using {used[0]}. "
            + why_provider_failed(wanted)
        )
    return session


def preload_cuda_libraries() -> None:
    """Load CUDA/cuDNN from pip wheels (nvidia-*) when onnxruntime can (ORT >= 1.21)."""
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):
        try:
            ort.preload_dlls()
        except Exception:  # noqa: BLE001 - a missing library is diagnosed by why_provider_failed
            pass


def why_provider_failed(provider: str) -> str:
    """A human diagnosis of why a GPU provider did not load on this machine."""
    from mllab.env import nvidia_driver

    import onnxruntime as ort

    if provider not in ort.get_available_providers():
        return (
            f"This onnxruntime build ({ort.__version__}) has no {provider}: "
            "install onnxruntime-gpu (Linux x86_64)."
        )
    driver = nvidia_driver()
    if driver is None:
        return "No NVIDIA GPU or driver was found (nvidia-smi and /proc/driver/nvidia are absent)."
    missing = [lib for lib in ("libcublas", "libcudnn") if not _library_loadable(lib)]
    if missing:
        return (
            f"Driver {driver} is present but {', '.join(missing)} could not be loaded: "
            "install the nvidia-*-cu* wheels (pip install 'onnxruntime-gpu[cuda,cudnn]')."
        )
    return (
        f"Driver {driver} is present and the libraries load; the driver may be too old for this "
        "build's CUDA (onnxruntime-gpu >= 1.27 needs CUDA 13, driver >= 580)."
    )


def _library_loadable(stem: str) -> bool:
    import ctypes
    import glob
    import site

    candidates = [f"{stem}.so"]
    for base in site.getsitepackages():
        candidates += glob.glob(f"{base}/nvidia/**/{stem}.so*", recursive=True)
    for name in candidates:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False
