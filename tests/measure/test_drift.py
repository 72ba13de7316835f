"""mllab.measure.drift on arrays whose distances are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mllab.core.errors import InputError
from mllab.core.tables import format_table
from mllab.measure.drift import LECTURE_DELTA, allclose, compare, per_sample_l2


def test_identical_outputs_have_zero_drift_and_pass_everything():
    a = np.random.default_rng(0).standard_normal((4, 10))
    drift = compare(a, a.copy())
    assert drift.n == 4
    assert drift.max_abs == drift.l2 == drift.l2_batch == drift.relative == 0.0
    assert drift.cosine == pytest.approx(1.0)
    assert drift.top1_agreement == drift.top5_agreement == 1.0
    assert all(drift.verdicts().values())


def test_delta_is_per_sample_worst_and_batch_norm_is_reported_too():
    b = np.zeros((2, 3))
    a = np.array([[3.0, 4.0, 0.0], [0.0, 3.0, 4.0]])
    drift = compare(a, b + 0.0)
    assert drift.l2 == pytest.approx(5.0)  # each sample is 5 away: Δ is the worst sample
    assert drift.l2_batch == pytest.approx(math.sqrt(50))
    assert drift.max_abs == pytest.approx(4.0)
    np.testing.assert_allclose(per_sample_l2(a, b), [5.0, 5.0])


def test_relative_and_cosine():
    b = np.array([[1.0, 0.0], [0.0, 2.0]])
    a = np.array([[1.0, 1.0], [0.0, -2.0]])
    drift = compare(a, b)
    assert drift.relative == pytest.approx(math.sqrt(1 + 16) / math.sqrt(5))
    assert drift.cosine == pytest.approx(-1.0)  # the second sample points the other way


def test_topk_agreement():
    b = np.array([[0, 1, 2, 3, 4, 5, 6.0], [6, 5, 4, 3, 2, 1, 0.0]])
    a = b.copy()
    a[0, 5], a[0, 6] = 6.0, 5.0  # top-1 swapped, same top-5 set
    a[1, 6] = 10.0  # a new best: top-1 and top-5 both change
    drift = compare(a, b)
    assert drift.top1_agreement == 0.0
    assert drift.top5_agreement == 0.5


def test_verdicts_at_the_lecture_thresholds():
    b = np.zeros((1, 1000), dtype=np.float32)
    small, large = b.copy(), b.copy()
    small[0, 0] = 5e-4  # within Δ ≤ 1e-3 but far beyond ε = 1e-6
    large[0, 0] = 2e-3
    v_small, v_large = compare(small, b).verdicts(), compare(large, b).verdicts()
    assert v_small[f"delta<={LECTURE_DELTA:g}"] and not v_small["max_abs<=1e-06"]
    assert not v_large[f"delta<={LECTURE_DELTA:g}"]


@pytest.mark.parametrize("scale", [1e-7, 1e-5, 1e-3, 1e-1])
def test_allclose_agrees_with_numpy(scale):
    rng = np.random.default_rng(1)
    b = rng.standard_normal((3, 50)) * 10
    a = b + rng.standard_normal(b.shape) * scale
    expected = np.allclose(a, b, rtol=1e-3, atol=1e-5)
    assert allclose(a, b) == expected
    assert (compare(a, b).allclose_ratio <= 1.0) == expected


def test_one_dimensional_is_one_sample():
    drift = compare(np.array([1.0, 2.0]), np.array([1.0, 2.5]))
    assert drift.n == 1 and drift.l2 == pytest.approx(0.5)


def test_shape_mismatch_is_an_input_error():
    with pytest.raises(InputError, match="shapes"):
        compare(np.zeros((2, 3)), np.zeros((3, 2)))


def test_nan_fails_every_verdict():
    a = np.zeros((1, 4))
    a[0, 1] = np.nan
    assert not any(compare(a, np.zeros((1, 4))).verdicts().values())


def test_drift_rows_read_in_the_kit_table():
    rows = [
        {"name": "same", **compare(np.ones((1, 3)), np.ones((1, 3))).to_dict()},
        {"name": "far", **compare(np.ones((1, 3)), np.zeros((1, 3))).to_dict()},
    ]
    lines = format_table(rows, ["name", "l2", "delta<=0.001"]).splitlines()
    assert lines[0].split() == ["name", "l2", "delta<=0.001"]
    assert lines[2].split() == ["same", "0", "yes"]
    assert lines[3].split() == ["far", "1.732", "no"]
