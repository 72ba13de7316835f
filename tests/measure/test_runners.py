"""mllab.measure.runners: inputs for a session, ORT and torch runners and predictors."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.core.errors import InputError, ProviderUnavailable
from mllab.measure import runners
from mllab.runtime.sessions import create_session


def test_random_input_matches_the_session_and_the_seed(tiny):
    session = create_session(tiny)
    x = runners.random_input(session, 5)
    assert x.shape == (5, 3, 8, 8) and x.dtype == np.float32
    np.testing.assert_array_equal(x, runners.random_input(session, 5))
    assert not np.array_equal(x, runners.random_input(session, 5, seed=1))


def test_reference_inputs_stack_photos_and_noise():
    photos = np.ones((2, 3, 224, 224), np.float32)
    x = runners.reference_inputs(photos, n_random=3, seed=0)
    assert x.shape == (5, 3, 224, 224) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:2], photos)
    np.testing.assert_array_equal(x[2:], runners.reference_inputs(None, 3, seed=0))
    with pytest.raises(InputError):
        runners.reference_inputs(None, n_random=0)


def test_session_runner_runs_the_session(tiny):
    session = create_session(tiny)
    fn, sync = runners.session_runner(session, 2)
    assert sync is None and fn()[0].shape == (2, 5)
    bound, bound_sync = runners.session_runner(session, 2, iobinding=True)  # CPU binding works
    bound()
    bound_sync()


def test_ort_predictor_gives_the_first_output_as_float32(tiny):
    session = create_session(tiny)
    x = runners.random_input(session, 3)
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    for predict in (runners.ort_predictor(session), runners.ort_predictor(tiny)):
        out = predict(x)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, expected)


def _tiny_torch():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
    )


def test_torch_predictor_restores_the_thread_count():
    import torch

    before = torch.get_num_threads()
    predict = runners.torch_predictor(_tiny_torch, threads=1)  # a factory, called once
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    out = predict(x)
    assert out.shape == (2, 4) and out.dtype == np.float32
    assert torch.get_num_threads() == before
    np.testing.assert_array_equal(out, runners.torch_predictor(_tiny_torch())(x))


def test_torch_runner_on_the_cpu():
    fn, sync = runners.torch_runner(_tiny_torch(), batch=1)
    assert sync is None and tuple(fn().shape) == (1, 4)


def test_torch_runner_refuses_what_it_cannot_run():
    import torch

    with pytest.raises(InputError, match="CUDA path"):
        runners.torch_runner(_tiny_torch, 1, "cpu", "fp16")
    with pytest.raises(InputError, match="cpu|cuda"):
        runners.torch_runner(_tiny_torch, 1, "tpu")
    if torch.cuda.is_available():
        return  # the message below is for machines without a GPU
    with pytest.raises(ProviderUnavailable, match="asked for torch on cuda"):
        runners.torch_runner(_tiny_torch, 1, "cuda", "fp16")
