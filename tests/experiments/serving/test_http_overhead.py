"""Lab 02's measurements: the server's answers against ONNX Runtime in this process, and what
HTTP costs per body kind (a tiny model: the mechanics, not ResNet-50's figures)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mllab.core.paths import ROOT
from mllab.core.records import as_fields
from mllab.experiments.serving.http_overhead import (
    HttpOverhead,
    http_overhead,
    measure_overhead,
    server_parity,
)
from mllab.serve.client import BODY_KINDS


def test_server_parity_compares_each_body_kind():
    local = np.arange(10, dtype=np.float32).reshape(2, 5)
    off = local.copy()
    off[1, 4] += 0.5
    parity = server_parity({"npy": {"output": local}, "json": {"output": off}}, local)
    assert [b.body for b in parity.bodies] == ["npy", "json"]
    assert parity.bodies[0].drift.max_abs == 0.0 and parity.worst_max_abs == pytest.approx(0.5)
    assert [row["body"] for row in parity.rows()] == ["npy", "json"]
    assert as_fields(parity)["bodies"][1]["drift"]["max_abs"] == pytest.approx(0.5)


def test_http_overhead_times_every_body_kind(tiny_model):
    overhead = http_overhead(tiny_model, repeats=2, warmup=1, pause=0.0)  # starts its own server
    assert isinstance(overhead, HttpOverhead)
    rows = overhead.by_body()
    assert list(rows) == list(BODY_KINDS)
    for row in rows.values():
        assert row.http_ms > 0 and row.in_process_ms > 0 and row.repeats == 2
        assert row.ratio == pytest.approx(row.http_ms / row.in_process_ms)
        assert row.server_inference_ms > 0
    assert rows["json"].body_bytes > 4 * rows["raw"].body_bytes  # text is ~5x the bytes
    assert rows["raw"].body_bytes == 3 * 224 * 224 * 4


def test_measure_overhead_rejects_zero_repeats(tiny_model):
    with pytest.raises(ValueError, match="repeats >= 1"):
        measure_overhead("http://127.0.0.1:1", tiny_model, repeats=0)


@pytest.mark.slow  # a subprocess that starts its own server: the same code as above
def test_benchmark_script_prints_every_ratio(tiny_model):
    script = ROOT / "benchmarks" / "bench_serving.py"
    command = [sys.executable, str(script), "--model", str(tiny_model), "--repeats", "1", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["goal_met"]) == {"image", "npy", "raw"} and report["goal"] == 1.15
    assert [row["body"] for row in report["overhead"]["bodies"]] == list(BODY_KINDS)
    assert all(row["ratio"] > 0 for row in report["overhead"]["bodies"])
