"""The drift heatmap: one row and column per configuration, those that did not run included."""

from __future__ import annotations

import numpy as np

from mllab.core.errors import MllabError
from mllab.experiments.reproducibility import drift_matrix as repro
from mllab.experiments.reproducibility import drift_plot
from mllab.experiments.reproducibility.drift_configs import Configuration


def _fake(name: str, outputs=None, error: Exception | None = None) -> Configuration:
    def make():
        if error:
            raise error
        return lambda x, repeats: list(outputs)[:repeats]

    return Configuration(name, f"fake {name}", make)


def test_heatmap_draws_every_configuration():
    import matplotlib

    matplotlib.use("Agg")
    base = np.ones((1, 5), dtype=np.float32)
    configs = [_fake("a", [base]), _fake("b", [base * 1.001]), _fake("c", error=MllabError("nope"))]
    matrix = repro.run_matrix(configs, x=np.zeros((1, 3, 224, 224)), repeats=1, progress=False)
    ax = drift_plot.plot_heatmap(matrix)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["a", "b", "c"]
