"""Lab 07's record of its two updates: both kept under one type name (no Docker)."""

from __future__ import annotations

import json

import pytest

from mllab.core.records import record
from mllab.experiments.delivery.rollout import Rollout
from mllab.experiments.delivery.updates import Rollouts


def _rollout(kind: str, failures: int, state: str) -> Rollout:
    rows = [{"t_s": 1.0, "rps": 5.0, "failures": failures, "versions": {"1.1.0": 5}}]
    return Rollout(kind, "1.0.0", "1.1.0", "1.1.0", state.startswith("rollback"), 5 + failures,
                   failures, {}, 20.0, rows, update_state=state)  # fmt: skip


def test_both_updates_are_recorded_side_by_side(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLLAB_RESULTS", str(tmp_path))
    both = Rollouts(
        _rollout("rolling", 0, "completed"), _rollout("failing", 2, "rollback_completed")
    )
    record("07", both)
    stored = json.loads((tmp_path / "07.json").read_text())["Rollouts"]
    assert stored["rolling"]["update_state"] == "completed"
    assert (
        stored["failing"]["rolled_back"] is True
        and stored["failing"]["timeline"][0]["failures"] == 2
    )
    assert both.failed_requests() == {"rolling": 0, "failing": 2}
