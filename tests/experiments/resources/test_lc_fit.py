"""The lecture's L(c) ~ 1/min(c, c_opt) fit (claim C8's record)."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.core.errors import InputError
from mllab.experiments.resources.lc_fit import fit_lc, fit_sweep
from mllab.experiments.resources.probe_runs import ProbeRun


def _run(cpus: float | None, mean_ms: float, policy: str | int = "quota") -> ProbeRun:
    return ProbeRun("container", cpus, policy, 1, 3, mean_ms, mean_ms, mean_ms, mean_ms, 1.0)


def test_fit_lc_recovers_c_opt_from_noisy_synthetic_data():
    rng = np.random.default_rng(0)
    c = np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0])
    latency = 120.0 / np.minimum(c, 1.5) * (1 + 0.02 * rng.standard_normal(c.size))
    fit = fit_lc(c, latency)
    assert fit.outcome.ok
    assert fit.c_opt == pytest.approx(1.5, abs=0.1)
    assert fit.scale_ms == pytest.approx(120.0, rel=0.05)
    assert fit.r2 > 0.99
    assert fit.identified
    assert fit.predict(4.0) == pytest.approx(fit.scale_ms / fit.c_opt)
    assert fit.cpus == c.tolist()


def test_fit_lc_says_when_c_opt_is_beyond_the_measured_range():
    fit = fit_lc([0.5, 1.0, 2.0], [400.0, 200.0, 100.0])  # still 1/c at the largest c: no knee
    assert fit.c_opt == pytest.approx(2.0)
    assert fit.identified is False
    assert fit.r2 == pytest.approx(1.0)


def test_fit_lc_knee_at_one_thread():
    # one ONNX Runtime thread: more than one CPU of quota cannot help
    fit = fit_lc([0.5, 1.0, 2.0], [100.0, 50.0, 50.0])
    assert fit.c_opt == pytest.approx(1.0, abs=0.01)
    assert fit.identified is True


def test_fit_lc_r2_falls_when_latency_does_not_follow_the_law():
    fit = fit_lc([0.5, 1.0, 2.0], [100.0, 300.0, 50.0])
    assert fit.r2 < 0.9


@pytest.mark.parametrize(
    "c, latency",
    [([1.0], [10.0]), ([1.0, 1.0], [10.0, 11.0]), ([0.0, 1.0], [1.0, 1.0]), ([1, 2], [1, np.nan])],
)
def test_fit_lc_refuses_what_cannot_be_fitted(c, latency):
    with pytest.raises(InputError):
        fit_lc(c, latency)


def test_fit_sweep_fits_one_policy_and_leaves_out_unlimited_points():
    runs = [_run(0.5, 200.0), _run(1.0, 100.0), _run(None, 10.0), _run(0.5, 999.0, "host")]
    fit = fit_sweep(runs, "quota")
    assert fit.outcome.ok and fit.policy == "quota"
    assert fit.cpus == [0.5, 1.0] and fit.latency_ms == [200.0, 100.0]


def test_fit_sweep_says_why_when_a_policy_cannot_be_fitted():
    fit = fit_sweep([_run(1.0, 100.0)], "quota")
    assert fit.outcome.status == "not run"
    assert "at least two" in fit.outcome.reason
    assert fit.c_opt is None and fit.r2 is None and fit.identified is None
    with pytest.raises(InputError):
        fit.predict(1.0)


def test_fit_sweep_keeps_each_points_cfs_counters_beside_it():
    runs = [_run(0.5, 200.0), _run(1.0, 100.0), _run(2.0, 100.0)]
    runs[0].nr_periods, runs[0].nr_throttled, runs[0].throttled_ms = 40, 30, 900.0
    runs[1].nr_periods, runs[1].nr_throttled, runs[1].throttled_ms = 20, 0, 0.0
    fit = fit_sweep(runs, "quota")
    assert fit.nr_periods == [40, 20, None]
    assert fit.nr_throttled == [30, 0, None]
    assert fit.throttled_ms == [900.0, 0.0, None]
    assert fit.throttled_share() == [0.75, 0.0, None]
    flat = fit_sweep([runs[0]], "quota")  # one point: no law, the counters are kept all the same
    assert not flat.outcome.ok and flat.nr_throttled == [30]
