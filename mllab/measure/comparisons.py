"""Two ways to run the same model, timed side by side: fp16 vs fp32, ONNX Runtime vs PyTorch.

Each comparison is a small record (lab 05 writes them with ``mllab.core.records.record``). The
two sides are timed on the same machine in the same minute; the PyTorch reference is timed
*interleaved* with ONNX Runtime (one call of each in turn), so that a slow moment of a shared
machine hits both alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from mllab.measure.drift import Drift
from mllab.measure.harness import measure
from mllab.measure.profiling import OperatorProfile
from mllab.measure.runners import session_runner
from mllab.measure.stats import Stats, interleaved

if TYPE_CHECKING:  # annotations only
    import onnxruntime as ort


@dataclass
class Fp16Comparison:
    """The fp16 model against fp32 on one device: output drift, batch-1 latency of each, and
    the fp16 model's profile (which element type its kernels really received)."""

    device: str
    drift: Drift  # fp16 logits (candidate) vs fp32 logits (reference)
    fp32: Stats
    fp16: Stats
    profile: OperatorProfile

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def speedup(self) -> float:
        """fp32 p50 / fp16 p50: above 1 when fp16 is faster."""
        return self.fp32.p50_ms / self.fp16.p50_ms

    @property
    def fp16_kernels_ran(self) -> bool:
        """True when at least one profiled kernel received float16 data."""
        return any("float16" in row.dtype for row in self.profile.operators)


def fp16_comparison(
    session32: ort.InferenceSession,
    session16: ort.InferenceSession,
    drift: Drift,
    profile: OperatorProfile,
    warmup: int = 2,
    repeats: int = 10,
) -> Fp16Comparison:
    """Time both sessions at batch 1 (I/O binding on a GPU) and bundle them with ``drift`` and
    the fp16 model's ``profile``; the device is the profile's."""
    timed: dict[str, Stats] = {}
    for name, session in (("fp32", session32), ("fp16", session16)):
        fn, sync = session_runner(session, 1)
        timed[name] = measure(fn, warmup, repeats, sync, name=name)
    return Fp16Comparison(profile.device, drift, timed["fp32"], timed["fp16"], profile)


@dataclass
class TorchReference:
    """ONNX Runtime and PyTorch eager at batch 1 on the CPU, timed interleaved."""

    ort: Stats
    torch: Stats
    ort_over_torch: float  # ratio of the p50 latencies: below 1 when ORT is faster

    SCHEMA_VERSION: ClassVar[int] = 1


def torch_reference(
    ort_fn: Callable[[], Any], torch_fn: Callable[[], Any], repeats: int = 10, warmup: int = 3
) -> TorchReference:
    """Time the two callables round-robin and compare their p50 latencies."""
    timed = interleaved({"onnxruntime": ort_fn, "torch eager": torch_fn}, repeats, warmup)
    ort, torch = timed["onnxruntime"], timed["torch eager"]
    return TorchReference(ort, torch, ort.p50_ms / torch.p50_ms)
