"""ONNX Runtime sessions whose execution provider is verified, never assumed.

onnxruntime-gpu lists ``CUDAExecutionProvider`` in ``get_available_providers()`` even on a
machine without a GPU, and silently falls back to the CPU when the provider cannot load.
The only trustworthy answer is ``session.get_providers()`` after the session is created:
:func:`create_session` reads it back and raises :class:`ProviderUnavailable`, naming the cause
(no GPU/driver, missing libcublas/libcudnn/libnvinfer, driver too old for the build's CUDA),
when the provider asked for is not the one in use.

GPU specifics follow ONNX Runtime's CUDA and TensorRT execution-provider documentation:
provider options (:func:`cuda_provider_options`, :func:`tensorrt_provider_options`), CUDA
libraries loaded from the ``nvidia-*`` pip wheels (:func:`preload_cuda_libraries`), and I/O
binding (:func:`bind_io`, :func:`run_with_iobinding`) so that inputs and outputs stay on the
device instead of being copied to and from host memory at every run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mllab.runtime.cgroup import usable_cpus
from mllab.core.errors import InputError, ProviderUnavailable

#: device name -> ONNX Runtime provider tried first
PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
DEVICES = (*PROVIDERS, "auto")
OPT_LEVELS = ("disable", "basic", "extended", "all")
#: cuDNN convolution algorithm search of the CUDA EP: EXHAUSTIVE benchmarks every algorithm
#: (fastest, but the pick may differ run to run), DEFAULT takes a fixed one (deterministic).
CONV_ALGO_SEARCH = ("EXHAUSTIVE", "HEURISTIC", "DEFAULT")
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


@dataclass
class SessionConfig:
    """How to build a session. ``threads=None`` sizes the pool from the cgroup CPU quota.

    The GPU fields map to provider options (:func:`cuda_provider_options`,
    :func:`tensorrt_provider_options`); ``provider_options`` overrides any of them by name.
    """

    device: str = "cpu"
    threads: int | None = None
    opt_level: str = "all"
    deterministic: bool = False  # the lecture's ORT_DISABLE_ALL + enable_mem_pattern=False
    optimized_model_path: str | None = None
    profile_prefix: str | None = None
    provider_options: dict[str, Any] = field(default_factory=dict)
    device_id: int = 0
    cudnn_conv_algo_search: str = "EXHAUSTIVE"
    use_tf32: bool = True  # TF32 matmuls/convs on Ampere+: faster, ~1e-3 relative error
    trt_fp16: bool = False
    trt_max_batch: int = 64  # upper end of the TensorRT optimisation profile of the batch axis
    quiet: bool = True  # hide ORT's own log lines for a failing provider: we name the cause
    # ORT's pool threads spin after each run by default: good for a dedicated machine, bad for a
    # server sharing 2 cores or a --cpus quota (spinning burns the quota). None keeps ORT's default.
    allow_spinning: bool | None = None


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
    if config.threads is not None and config.threads < 1:
        raise ValueError(
            f"threads must be >= 1 (or None for the cgroup quota), not {config.threads}"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = config.threads or usable_cpus()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = levels[config.opt_level]
    if config.deterministic:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.enable_mem_pattern = False
        # kernels with a deterministic variant (reductions, scatter on CUDA) must use it
        options.use_deterministic_compute = True
    if config.optimized_model_path:
        options.optimized_model_filepath = config.optimized_model_path
    if config.allow_spinning is not None:
        spin = "1" if config.allow_spinning else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spin)
        options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    if config.profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = config.profile_prefix
    return options


def cuda_provider_options(config: SessionConfig | None = None) -> dict[str, str]:
    """Options of ``CUDAExecutionProvider`` for ``config`` (ORT wants every value as a string).

    ``deterministic`` forces cuDNN's fixed algorithm (``DEFAULT``) and disables TF32, so two
    runs (and two machines with the same GPU) pick the same kernels at full fp32 precision.
    """
    config = config or SessionConfig()
    algo = "DEFAULT" if config.deterministic else config.cudnn_conv_algo_search.upper()
    if algo not in CONV_ALGO_SEARCH:
        raise ValueError(f"cudnn_conv_algo_search must be one of {CONV_ALGO_SEARCH}, not {algo!r}")
    options = {
        "device_id": str(config.device_id),
        "cudnn_conv_algo_search": algo,
        "use_tf32": "0" if config.deterministic or not config.use_tf32 else "1",
        # copies on the compute stream: no race between the input copy and the first kernel
        "do_copy_in_default_stream": "1",
        "arena_extend_strategy": "kNextPowerOfTwo",
    }
    if config.device == "cuda":
        options.update({k: str(v) for k, v in config.provider_options.items()})
    return options


def tensorrt_provider_options(
    config: SessionConfig | None = None, input_name: str = "input"
) -> dict[str, str]:
    """Options of ``TensorrtExecutionProvider``: fp16, engine and timing caches, batch profile.

    TensorRT compiles an engine per input shape range; the explicit profile (batch 1 to
    ``trt_max_batch``) lets one engine serve every batch of the sweep, and the caches under
    ``artifacts/tensorrt/`` make the minutes-long build happen once per model and GPU.
    """
    from mllab.core.paths import artifact

    config = config or SessionConfig()
    cache = artifact("tensorrt", "engines", ".keep").parent
    shape = "{}:{}x3x224x224"
    options = {
        "device_id": str(config.device_id),
        "trt_fp16_enable": "1" if config.trt_fp16 else "0",
        "trt_engine_cache_enable": "1",
        "trt_engine_cache_path": str(cache),
        "trt_timing_cache_enable": "1",
        "trt_timing_cache_path": str(cache),
        "trt_max_workspace_size": str(4 << 30),
        "trt_profile_min_shapes": shape.format(input_name, 1),
        "trt_profile_opt_shapes": shape.format(input_name, 8),
        "trt_profile_max_shapes": shape.format(input_name, config.trt_max_batch),
    }
    if config.device == "tensorrt":
        options.update({k: str(v) for k, v in config.provider_options.items()})
    return options


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a CUDA session really works here, else ``cpu``."""
    if device != "auto":
        return device
    return "cuda" if cuda_works() else "cpu"


def cuda_works() -> bool:
    """True when ONNX Runtime can really run on a GPU here (not just list the provider)."""
    from mllab.experiments.fingerprint import ort_working_providers

    return "CUDAExecutionProvider" in ort_working_providers()


def _provider_chain(device: str, config: SessionConfig, model: str | Path | bytes) -> list[Any]:
    """The ``providers=`` list for ``device``: the wanted provider first, CPU last."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    chain: list[Any] = [("CUDAExecutionProvider", cuda_provider_options(config))]
    if device == "tensorrt":
        # TensorRT hands the subgraphs it cannot compile to CUDA, and CUDA its leftovers to CPU
        trt = tensorrt_provider_options(config, _first_input_name(model))
        chain.insert(0, ("TensorrtExecutionProvider", trt))
    return [*chain, "CPUExecutionProvider"]


@contextlib.contextmanager
def _quiet_ort(enabled: bool):
    """Mute ORT's logger and its Python fallback print while a GPU provider is tried."""
    import onnxruntime as ort

    if not enabled:
        yield io.StringIO()
        return
    captured = io.StringIO()
    ort.set_default_logger_severity(4)
    try:
        with contextlib.redirect_stdout(captured):
            yield captured
    finally:
        ort.set_default_logger_severity(2)  # ORT's default: warnings


def create_session(model: str | Path | bytes, config: SessionConfig | None = None, **kwargs):
    """An ``InferenceSession`` on the requested device, or :class:`ProviderUnavailable`.

    ``kwargs`` override fields of ``config`` (``create_session(path, device="cuda")``); the
    ``config`` passed in is not modified.
    """
    import onnxruntime as ort

    config = config or SessionConfig()
    names = {f.name for f in dataclasses.fields(SessionConfig)}
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise ValueError(f"unknown session option(s) {unknown}; valid: {sorted(names)}")
    config = dataclasses.replace(config, **kwargs)
    device = resolve_device(config.device)
    if device not in PROVIDERS:
        raise ValueError(f"device must be one of {list(DEVICES)}, not {device!r}")
    config = dataclasses.replace(config, device=device)
    if not isinstance(model, bytes) and not Path(model).is_file():
        raise InputError(f"no such model file: {model}")
    wanted = PROVIDERS[device]
    if device != "cpu":
        preload_cuda_libraries()
    providers = _provider_chain(device, config, model)
    source = model if isinstance(model, bytes) else str(model)
    with _quiet_ort(config.quiet and device != "cpu"):
        session = ort.InferenceSession(source, session_options(config), providers=providers)
    used = session.get_providers()
    if used[0] != wanted:
        raise ProviderUnavailable(
            f"asked for {device} ({wanted}) but ONNX Runtime is using {used[0]}. "
            + why_provider_failed(wanted)
        )
    return session


def _first_input_name(model: str | Path | bytes) -> str:
    """The graph's first input name (for TensorRT's shape profile); ``input`` if unreadable."""
    if isinstance(model, bytes):
        return "input"
    try:
        import onnx

        proto = onnx.load(str(model), load_external_data=False)
        return proto.graph.input[0].name
    except Exception:  # noqa: BLE001 - the session itself will report an unreadable model
        return "input"


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
    import ctypes

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

    from mllab.experiments.fingerprint import cuda_compatibility, nvidia_driver, nvidia_info

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
            "No NVIDIA GPU or driver was found (nvidia-smi and /proc/driver/nvidia are absent; "
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
    compat = cuda_compatibility(nvidia_info())
    if "does not hold" in compat["verdict"]:
        return (
            f"Driver {driver} is too old for this build's CUDA: {compat['verdict']}{detail}. "
            "Upgrade the host driver (the lecture: CUDA_container <= Driver_host)."
        )
    return (
        f"Driver {driver} is present and the libraries load ({compat['verdict']}){detail}; "
        f"ONNX Runtime still did not use {provider}: run with ORT's log severity at 0 to see why."
    )


def _library_loadable(stem: str) -> bool:
    import ctypes
    import glob
    import site

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


# --- I/O binding: inputs and outputs stay on the session's device --------------------------


def session_device(session) -> tuple[str, int]:
    """``("cuda", device_id)`` for a session running on CUDA/TensorRT, else ``("cpu", 0)``."""
    provider = session.get_providers()[0]
    if provider not in ("CUDAExecutionProvider", "TensorrtExecutionProvider"):
        return "cpu", 0
    options = session.get_provider_options().get(provider, {})
    return "cuda", int(options.get("device_id", 0))


def _output_shape(session, index: int, batch: int) -> list[int] | None:
    """The concrete shape of output ``index`` at ``batch`` (symbolic batch axis), or None."""
    shape = session.get_outputs()[index].shape
    concrete = [batch if i == 0 and not isinstance(d, int) else d for i, d in enumerate(shape)]
    return concrete if all(isinstance(d, int) for d in concrete) else None


_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def bind_io(session, x: np.ndarray):
    """An ``IOBinding`` with ``x`` copied once to the session's device and the outputs
    pre-allocated there: each ``session.run_with_iobinding`` then copies nothing to the host.

    On the CPU provider the same code binds host memory, so it is tested on any machine.
    """
    import onnxruntime as ort

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


def iobinding_runner(session, x: np.ndarray) -> tuple[Callable[[], None], Callable[[], None]]:
    """``(run, sync)`` for the benchmark harness: ``run()`` runs on the bound device buffers,
    ``sync()`` waits for the device (``IOBinding.synchronize_outputs``)."""
    binding = bind_io(session, x)

    def run() -> None:
        session.run_with_iobinding(binding)

    return run, binding.synchronize_outputs


def run_with_iobinding(session, x: np.ndarray, to_cpu: bool = True):
    """Run ``session`` on ``x`` through I/O binding; the first output, copied to a numpy
    array when ``to_cpu`` (else the ``OrtValue`` left on the device)."""
    binding = bind_io(session, x)
    session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    return binding.copy_outputs_to_cpu()[0] if to_cpu else binding.get_outputs()[0]
