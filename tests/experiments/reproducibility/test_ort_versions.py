"""C1 machinery: the probe module under another interpreter, compared with the host's ORT."""

from __future__ import annotations

import sys

from mllab.experiments.reproducibility import drift_configs, ort_versions


def test_version_drift_machinery_against_the_same_version_is_bitwise_equal():
    """The other-version path run with this very interpreter: same ORT, same bytes."""
    import onnxruntime as ort

    x = drift_configs.drift_inputs(n_random=1, n_images=0)
    result = ort_versions.ort_version_drift(ort.__version__, x=x, python=sys.executable)
    assert result.outcome.ok
    assert result.old == result.new == ort.__version__
    assert result.bitwise_equal and result.max_abs == 0.0
    assert [level.level for level in result.levels] == ["all", "disable"]
    assert all(level.bitwise_equal for level in result.levels)


def test_probe_request_round_trips_session_configs(tmp_path):
    """The probe builds its options with the one runtime function: a config it cannot
    build fails there, not silently."""
    import json

    from mllab.experiments.reproducibility.ort_probe import probe_request

    request = json.loads(probe_request("m.onnx", "x.npy", "o.npz", {"a": {"threads": 1}}, 3))
    assert request["configs"] == {"a": {"threads": 1}} and request["repeats"] == 3


def test_the_other_onnxruntime_goes_first_on_the_probes_path(tmp_path):
    """The folder of another onnxruntime (``ort_version_env``) shadows the host's: here a
    stand-in package that only says where it was imported from."""
    import pytest

    from mllab.core.errors import MllabError

    (tmp_path / "onnxruntime").mkdir()
    (tmp_path / "onnxruntime" / "__init__.py").write_text(
        "raise ImportError('the stand-in onnxruntime of ' + __file__)\n"
    )
    with pytest.raises(MllabError, match="the stand-in onnxruntime of " + str(tmp_path)):
        ort_versions.run_probe_with(sys.executable, "{}", site=tmp_path)
