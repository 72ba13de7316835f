"""What a lab measured, as typed records the run report and the claims read back.

Each measurement is a small dataclass (a batch fit, a Flask run, docker stats, ...) with a
``SCHEMA_VERSION`` class attribute. One call writes it, under its type name, into this run's
results::

    record("05", fit, profile)          # -> <results>/05.json {"BatchFit": {...}, ...}

Recording a type again merges deeply into what is there, so a lab may fill a record in parts.
The file keeps each record's schema version beside its fields (``"_schema": 1``), and a reader
that expects another version is told so instead of reading fields that changed meaning.

Where the results go: ``mllab labs run`` points ``MLLAB_RESULTS`` at its run folder; a lab
opened by hand records into a fresh folder of its own (``artifacts/results/<stamp>-<pid>``),
so no run ever shows an earlier run's figure as its own. An older run is read only when named
(``load_all(run="runs/20261130-101500/results")``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from mllab.core import paths

SCHEMA_KEY = "_schema"
_fresh: Path | None = None  # this process's own folder, made on first use


def results_dir() -> Path:
    """This run's results folder: ``MLLAB_RESULTS``, else a fresh folder for this process."""
    global _fresh
    if os.environ.get("MLLAB_RESULTS"):
        path = Path(os.environ["MLLAB_RESULTS"])
    else:
        if _fresh is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            _fresh = paths.ARTIFACTS / "results" / f"{stamp}-{os.getpid()}"
        path = _fresh
    path.mkdir(parents=True, exist_ok=True)
    return path


def type_name(item: Any) -> str:
    """The name a record is stored under: its dataclass's name."""
    return type(item).__name__


def schema_version(item_or_type: Any) -> int:
    """A record type's ``SCHEMA_VERSION`` (1 when the class does not say)."""
    return int(getattr(item_or_type, "SCHEMA_VERSION", 1))


def as_fields(item: Any) -> dict[str, Any]:
    """A record's fields as JSON-ready values (nested dataclasses, numpy values, paths)."""
    if not (is_dataclass(item) and not isinstance(item, type)):
        raise TypeError(
            f"record() takes dataclass instances, not {type(item).__name__}: "
            "define a small @dataclass for what the lab measured"
        )
    fields: dict[str, Any] = json.loads(json.dumps(asdict(item), default=_jsonable))
    return fields


def merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``new`` over ``old``, recursing into dicts present in both (lists are replaced)."""
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def record(lab: str, *items: Any) -> Path:
    """Write each dataclass in ``items`` under its type name into ``<results>/<lab>.json``."""
    if not items:
        raise TypeError("record() needs at least one dataclass to write")
    path = results_dir() / f"{lab}.json"
    stored = _read(path)
    for item in items:
        fields = {SCHEMA_KEY: schema_version(item), **as_fields(item)}
        name = type_name(item)
        old = stored.get(name, {})
        if old.get(SCHEMA_KEY) != fields[SCHEMA_KEY]:
            old = {}  # another schema: replace, never mix the two
        stored[name] = merge(old, fields)
    path.write_text(json.dumps(stored, indent=2, sort_keys=True))
    return path


@dataclass
class Results:
    """Every record of one run: ``labs[lab][type name] = fields`` (with ``_schema``)."""

    folder: Path
    labs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def get(self, lab: str, name: str | type) -> dict[str, Any] | None:
        """The fields lab ``lab`` recorded under ``name`` (a type or its name), or None."""
        key = name if isinstance(name, str) else name.__name__
        return (self.labs.get(lab) or {}).get(key)

    def as_dict(self) -> dict[str, dict[str, dict[str, Any]]]:
        return self.labs


def load(lab: str, run: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """What ``lab`` recorded in this run (or in the results folder ``run``): type -> fields."""
    folder = Path(run) if run is not None else results_dir()
    return _read(folder / f"{lab}.json")


def load_all(run: str | Path | None = None) -> Results:
    """Every lab's records in this run (or in the results folder ``run``)."""
    folder = Path(run) if run is not None else results_dir()
    labs = {p.stem: _read(p) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}
    return Results(folder, labs)


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot record {type(value).__name__} as JSON")
