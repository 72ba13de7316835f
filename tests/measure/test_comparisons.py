"""mllab.measure.comparisons: fp16 vs fp32 and ORT vs torch, as records."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.core.records import as_fields
from mllab.measure import comparisons
from mllab.measure.drift import compare
from mllab.measure.profiling import OperatorProfile, OperatorRow
from mllab.runtime.sessions import create_session


def _profile(dtype: str) -> OperatorProfile:
    return OperatorProfile("m.onnx", "cpu", 1, [OperatorRow("Conv", 1.0, 2.0, 1.0, "CPU", dtype)])


def test_fp16_comparison_times_both_sessions(tiny):
    session = create_session(tiny)
    drift = compare(np.ones((1, 3)), np.ones((1, 3)))
    result = comparisons.fp16_comparison(session, session, drift, _profile("float"), 0, 3)
    assert result.fp32.repeats == result.fp16.repeats == 3 and result.device == "cpu"
    assert result.speedup == pytest.approx(result.fp32.p50_ms / result.fp16.p50_ms)
    assert result.fp16_kernels_ran is False
    assert comparisons.Fp16Comparison(
        "cuda", drift, result.fp32, result.fp16, _profile("float16")
    ).fp16_kernels_ran
    fields = as_fields(result)  # recordable: nested dataclasses become dicts
    assert fields["drift"]["l2"] == 0.0 and fields["profile"]["operators"][0]["op_type"] == "Conv"


def test_torch_reference_is_the_ratio_of_p50s():
    calls = []
    ref = comparisons.torch_reference(
        lambda: calls.append("ort"), lambda: calls.append("torch"), repeats=4, warmup=1
    )
    assert calls == ["ort", "torch"] * 5  # interleaved, warm-up round included
    assert ref.ort.repeats == ref.torch.repeats == 4
    assert ref.ort_over_torch == pytest.approx(ref.ort.p50_ms / ref.torch.p50_ms)
