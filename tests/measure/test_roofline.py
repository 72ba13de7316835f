"""mllab.measure.roofline: FLOPs counted from the graph, MatMul GFLOP/s, the roofline."""

from __future__ import annotations

import pytest
from tiny_models import CONV_MACS, GEMM_MACS

from mllab.core.errors import InputError
from mllab.measure import roofline


def test_model_flops_counts_conv_and_gemm(tiny):
    flops = roofline.model_flops(tiny)
    assert flops["by_op"]["Conv"] == pytest.approx(2 * CONV_MACS / 1e9)
    assert flops["by_op"]["Gemm"] == pytest.approx(2 * GEMM_MACS / 1e9)
    assert roofline.model_flops(tiny, batch=3)["gflop"] == pytest.approx(3 * flops["gflop"])


def test_matmul_gflops_is_measured():
    peak = roofline.matmul_gflops(size=128, threads=1, repeats=3)
    assert peak["threads"] == 1 and peak["gflops_best"] >= peak["gflops_median"] > 0


def test_roofline_arithmetic():
    line = roofline.roofline(8.0, 400.0, 25.0)
    assert line["best_items_per_s"] == 50.0 and line["fraction"] == 0.5
    assert line["achieved_gflops"] == 200.0
    with pytest.raises(InputError):
        roofline.roofline(0.0, 400.0, 25.0)
