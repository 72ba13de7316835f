"""ONNX Runtime sessions whose execution provider is verified, never assumed.

:func:`session_options` is the one place the kit builds ``ort.SessionOptions`` (threads from the
cgroup quota, the lecture's determinism recipe); the server, the benchmarks and the modules
that run inside containers all take their options from it. :func:`create_session` builds a
session on the requested device, reads back ``session.get_providers()`` and raises
:class:`ProviderUnavailable`, with ONNX Runtime's own error and a diagnosis
(:func:`mllab.runtime.providers.why_provider_failed`), when the provider asked for is not the
one in use: onnxruntime-gpu otherwise falls back to the CPU silently.

GPU specifics follow ONNX Runtime's CUDA and TensorRT execution-provider documentation:
provider options (:func:`cuda_provider_options`, :func:`tensorrt_provider_options`); I/O
binding lives in :mod:`mllab.runtime.iobinding`.

onnxruntime (and onnx) are imported inside the functions: importing this module must stay
cheap for ``mllab --help`` and possible where only the standard library is installed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllab.core.errors import InputError, ProviderUnavailable
from mllab.core.paths import artifact
from mllab.runtime.cgroup import usable_cpus
from mllab.runtime.providers import (
    ort_working_providers,
    preload_cuda_libraries,
    why_provider_failed,
)

if TYPE_CHECKING:  # annotations only: importing onnxruntime here would slow every start-up
    import onnxruntime as ort

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


def session_options(config: SessionConfig) -> ort.SessionOptions:
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
        # errors only: ORT's 350-character warning on stderr says that a graph saved above
        # EXTENDED holds this CPU's NCHWc kernels, which model.graph.optimize_graph documents
        options.log_severity_level = 3
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
def _quiet_ort(enabled: bool) -> Iterator[io.StringIO]:
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


def create_session(
    model: str | Path | bytes, config: SessionConfig | None = None, **kwargs: Any
) -> ort.InferenceSession:
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
    with _quiet_ort(config.quiet and device != "cpu") as captured:
        session = ort.InferenceSession(source, session_options(config), providers=providers)
    used = session.get_providers()
    if used[0] != wanted:
        said = _ort_said(captured.getvalue())
        raise ProviderUnavailable(
            f"asked for {device} ({wanted}) but ONNX Runtime is using {used[0]}. "
            + why_provider_failed(wanted)
            + (f" ONNX Runtime said: {said}" if said else "")
        )
    return session


def _ort_said(printed: str) -> str:
    """ORT's own words when a provider failed (its Python fallback prints ``EP Error ...``),
    without the retry line: e.g. ``CUDA driver version is insufficient for CUDA runtime``."""
    lines = [line.strip() for line in printed.splitlines() if line.strip()]
    return " ".join(line for line in lines if not line.startswith("Falling back"))


def _first_input_name(model: str | Path | bytes) -> str:
    """The graph's first input name (for TensorRT's shape profile); ``input`` if unreadable."""
    if isinstance(model, bytes):
        return "input"
    try:
        import onnx

        proto = onnx.load(str(model), load_external_data=False)
        return str(proto.graph.input[0].name)
    except Exception:  # noqa: BLE001 - the session itself will report an unreadable model
        return "input"
