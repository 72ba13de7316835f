"""mllab.runtime.openvino_runtime: OpenVINO compiles the kit's ONNX file on the CPU with the
threads and precision asked, reads back what it used, and fails with a typed error."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mllab.core.errors import InputError, ProviderUnavailable
from mllab.runtime import openvino_runtime as ovr
from mllab.runtime.sessions import create_session


def test_openvino_gives_onnx_runtimes_logits_with_the_threads_asked(tiny):
    model = ovr.compile_openvino(tiny, threads=1)
    assert model.threads == 1 and model.precision == "f32"
    assert model.version == ovr.openvino_version()
    x = np.random.default_rng(0).standard_normal((3, 3, 8, 8)).astype(np.float32)
    session = create_session(tiny, threads=1)
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(model.run(x), expected, rtol=1e-4, atol=1e-5)
    precisions = model.kernel_precisions()  # the Conv and the Gemm, in fp32 as asked
    assert set(precisions) == {"f32"} and sum(precisions.values()) >= 1


def test_bad_requests_are_refused_before_openvino_is_asked(tiny, tmp_path):
    with pytest.raises(InputError, match="no such model file"):
        ovr.compile_openvino(tmp_path / "none.onnx")
    with pytest.raises(InputError, match="precision"):
        ovr.compile_openvino(tiny, precision="int4")
    with pytest.raises(InputError, match="threads"):
        ovr.compile_openvino(tiny, threads=0)


def test_a_missing_openvino_is_a_typed_error_that_says_what_to_install(tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    assert ovr.openvino_version() is None
    with pytest.raises(ProviderUnavailable, match="pip install openvino"):
        ovr.compile_openvino(tiny)


def test_a_file_openvino_cannot_read_is_a_typed_error(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(ProviderUnavailable, match="could not compile broken.onnx"):
        ovr.compile_openvino(broken)
