"""mllab.runtime.iobinding: inputs and outputs bound on the session's device (host memory here)."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.core.errors import InputError
from mllab.runtime import iobinding
from mllab.runtime.sessions import create_session


@pytest.fixture(scope="module")
def session(tiny):
    return create_session(tiny)


def test_iobinding_gives_the_same_logits_as_run(session):
    x = np.random.default_rng(1).standard_normal((3, 3, 8, 8)).astype(np.float32)
    expected = session.run(None, {"input": x})[0]
    np.testing.assert_array_equal(iobinding.run_with_iobinding(session, x), expected)
    value = iobinding.run_with_iobinding(session, x, to_cpu=False)
    assert value.device_name() == "cpu" and value.shape() == [3, 5]


def test_runner_runs_on_the_bound_buffers(session):
    x = np.ones((2, 3, 8, 8), np.float32)
    run, sync = iobinding.iobinding_runner(session, x)
    run()
    sync()
    assert iobinding.session_device(session) == ("cpu", 0)


def test_wrong_dtype_is_refused(session):
    with pytest.raises(InputError, match="tensor\\(float\\)"):
        iobinding.bind_io(session, np.zeros((1, 3, 8, 8), np.float64))
