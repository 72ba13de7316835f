"""Numbers a lab measured, kept as JSON so that the run report and later labs can cite them.

``mllab labs run`` points ``MLLAB_RESULTS`` at its run folder; a lab opened by hand writes to
``artifacts/results``. Nothing here is ever a hard-coded figure: only what a lab recorded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mllab.paths import ARTIFACTS


def results_dir() -> Path:
    """Folder of this run's results (``MLLAB_RESULTS`` or ``artifacts/results``)."""
    path = Path(os.environ.get("MLLAB_RESULTS", ARTIFACTS / "results"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def record(lab: str, data: dict[str, Any]) -> Path:
    """Merge ``data`` into ``<results>/<lab>.json`` (e.g. ``record("04", {"fit": {...}})``)."""
    path = results_dir() / f"{lab}.json"
    merged = load(lab) or {}
    merged.update(data)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True, default=_jsonable))
    return path


def load(lab: str) -> dict[str, Any] | None:
    """What ``lab`` recorded in this run's results, or None."""
    path = results_dir() / f"{lab}.json"
    return json.loads(path.read_text()) if path.exists() else None


def load_all() -> dict[str, dict[str, Any]]:
    """Every lab's results, keyed by lab id."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(results_dir().glob("*.json"))}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot record {type(value).__name__} as JSON")
