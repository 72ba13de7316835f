"""mllab.core.records: typed records written under their type name and schema, merged deeply,
and a fresh results folder for every run that names none."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from mllab.core import records
from mllab.core.outcome import Outcome


@dataclass
class Fit:
    SCHEMA_VERSION: ClassVar[int] = 2
    a_ms: float
    b_ms: float
    extra: dict = field(default_factory=dict)


@dataclass
class Step:
    outcome: Outcome
    value: float | None = None


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MLLAB_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def test_record_writes_type_name_and_schema(results: Path):
    path = records.record("05", Fit(1.5, np.float32(2.0)), Step(Outcome.not_run("no GPU")))
    stored = json.loads(path.read_text())
    assert path == results / "05.json"
    assert stored["Fit"] == {"_schema": 2, "a_ms": 1.5, "b_ms": 2.0, "extra": {}}
    assert stored["Step"]["outcome"] == {"status": "not run", "reason": "no GPU", "error_types": []}


def test_record_merges_deeply_and_replaces_lists(results: Path):
    records.record("05", Fit(1.0, 2.0, {"sweep": {"n": [1, 2]}, "keep": 1}))
    records.record("05", Fit(3.0, 4.0, {"sweep": {"n": [8]}}))
    fit = records.load("05")["Fit"]
    assert (fit["a_ms"], fit["b_ms"]) == (3.0, 4.0)
    assert fit["extra"] == {"sweep": {"n": [8]}, "keep": 1}


def test_another_schema_replaces_instead_of_mixing(results: Path):
    (results).mkdir(parents=True)
    (results / "05.json").write_text(json.dumps({"Fit": {"_schema": 1, "old_field": 7}}))
    records.record("05", Fit(1.0, 2.0))
    assert "old_field" not in records.load("05")["Fit"]


def test_record_refuses_a_dict(results: Path):
    with pytest.raises(TypeError, match="dataclass"):
        records.record("05", {"a_ms": 1.0})
    with pytest.raises(TypeError):
        records.record("05")
    assert not (results / "05.json").exists()


def test_load_all_reads_one_run_only(results: Path, tmp_path: Path):
    records.record("04", Fit(1.0, 2.0))
    other = tmp_path / "older"
    other.mkdir()
    (other / "06.json").write_text(json.dumps({"Fit": {"_schema": 2, "a_ms": 9.0}}))
    now, before = records.load_all(), records.load_all(run=other)
    assert set(now.labs) == {"04"} and now.get("04", Fit)["a_ms"] == 1.0
    assert set(before.labs) == {"06"} and before.get("06", "Fit")["a_ms"] == 9.0
    assert now.get("06", Fit) is None and records.load_all(run=tmp_path / "none").labs == {}


def test_without_a_results_folder_each_process_gets_a_fresh_one(tmp_path, monkeypatch):
    monkeypatch.delenv("MLLAB_RESULTS", raising=False)
    monkeypatch.setattr(records.paths, "ARTIFACTS", tmp_path)
    monkeypatch.setattr(records, "_fresh", None)
    (tmp_path / "results" / "20200101-000000-1").mkdir(parents=True)  # an older run
    (tmp_path / "results" / "20200101-000000-1" / "05.json").write_text('{"Fit": {}}')
    folder = records.results_dir()
    assert folder.parent == tmp_path / "results" and folder.name != "20200101-000000-1"
    assert records.load_all().labs == {}, "an older run must not show up as this run's"
    assert records.results_dir() == folder, "one folder for the whole process"
