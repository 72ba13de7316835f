"""The configurations and inputs of the drift matrix."""

from __future__ import annotations

import numpy as np

from mllab.experiments.reproducibility import drift_configs


def test_output_digest_sees_one_ulp():
    a = np.linspace(-3, 3, 1000, dtype=np.float32).reshape(1, -1)
    b = a.copy()
    b[0, 17] = np.nextafter(b[0, 17], np.float32(10))
    assert drift_configs.output_digest(a) == drift_configs.output_digest(a.copy())
    assert drift_configs.output_digest(a) != drift_configs.output_digest(b)


def test_drift_inputs_stack_photos_and_seeded_noise():
    x = drift_configs.drift_inputs(n_random=2, n_images=1, seed=3)
    assert x.shape == (3, 3, 224, 224) and x.dtype == np.float32
    again = drift_configs.drift_inputs(n_random=2, n_images=1, seed=3)
    assert np.array_equal(x, again)
    other = drift_configs.drift_inputs(n_random=2, n_images=1, seed=4)
    assert np.array_equal(x[:1], other[:1]) and not np.array_equal(x[1:], other[1:])
