"""The drift matrix as a heatmap of log10 Δ (matplotlib imported when drawing: start-up time)."""

from __future__ import annotations

import numpy as np

from mllab.experiments.reproducibility.drift_matrix import DriftMatrix


def plot_heatmap(matrix: DriftMatrix, metric: str = "delta_l2", ax=None):
    """log10 of ``metric`` for every pair; a bitwise-equal pair shows "0", a configuration
    that did not run "n/a" (its reason is in :meth:`DriftMatrix.repeatability`)."""
    import matplotlib.pyplot as plt  # deferred: start-up time, and only labs draw

    names, values = matrix.metric_matrix(metric)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * len(names) + 3, 0.5 * len(names) + 2))
    with np.errstate(divide="ignore"):
        logs = np.where(values > 0, np.log10(np.where(values > 0, values, 1)), np.nan)
    # bitwise equal ("0") and not available ("n/a") cells: light grey
    cmap = plt.get_cmap("viridis").with_extremes(bad="#eeeeee")
    image = ax.imshow(logs, cmap=cmap)
    for i in range(len(names)):
        for j in range(len(names)):
            value = values[i, j]
            text = "n/a" if np.isnan(value) else ("0" if value == 0 else f"{np.log10(value):.1f}")
            light = np.isnan(logs[i, j]) or image.norm(logs[i, j]) > 0.6  # grey or yellow
            color = "k" if light else "w"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title(f"log10 {metric} between configurations (0 = bitwise equal)")
    ax.figure.colorbar(image, ax=ax, shrink=0.7)
    return ax
