"""``mllab bench``: flags, output and exit codes."""

from __future__ import annotations

import json

import pytest

from mllab.cli.main import main
from mllab.core.errors import MllabError
from mllab.measure.suite import KIT_OVER_RAW_GOAL
from mllab.runtime.sessions import cuda_works


def test_cli_bench_cpu_json(tiny, capsys):
    code = main(["bench", "--model", str(tiny), "--batches", "1,2", "--repeats", "2", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["provider"] == "CPUExecutionProvider"
    assert [s["batch"] for s in report["stats"]] == [1, 2]
    assert set(report["fit"]) >= {"a_ms", "b_ms", "r2", "n_star", "batches", "throughput"}
    assert report["fit"]["batches"] == [1, 2] and report["n_star"] is None  # no bound given


def test_cli_bench_text_with_bound(tiny, capsys):
    code = main(["bench", "--model", str(tiny), "--batches", "1,4", "--latency-bound", "1000"])
    out = capsys.readouterr().out
    assert code == 0 and "T(n) = n/(a + bn)" in out and "n* under a p99 bound" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batches", "1,x"], "--batches must be comma-separated integers"),
        (["--repeats", "0"], "--repeats must be >= 1"),
        (["--model", "/no/such.onnx"], "no such model file"),
        (["--suite", "--model", "/no/such.onnx"], "no such model file"),
    ],
)
def test_cli_bench_bad_input_exits_2(capsys, argv, message):
    assert main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_bench_cuda_without_a_gpu_exits_2_with_the_cause(tiny, capsys):
    if cuda_works():
        pytest.skip("a GPU works here")
    assert main(["bench", "--model", str(tiny), "--device", "cuda"]) == 2
    assert "asked for cuda" in capsys.readouterr().err


@pytest.fixture
def small_workloads(monkeypatch):
    """The suite's workloads on the tiny model (no PyTorch, no INT8 export, no server)."""
    from mllab.cli import bench
    from mllab.measure.suite import Workloads
    from mllab.runtime.sessions import create_session

    def small(model):
        return Workloads(
            torch=lambda: lambda: sum(range(1000)),
            int8=lambda: create_session(model),
            http=lambda repeats: _raise(MllabError("no server in this test")),
            cpu="a test CPU",
        )

    monkeypatch.setattr(bench, "suite_workloads", small)


def _raise(error):
    raise error


def test_cli_suite_json_is_one_object_per_row(tiny, capsys, small_workloads):
    assert main(["bench", "--suite", "--model", str(tiny), "--repeats", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"].startswith("machine") and rows[0]["values"]["cpu"] == "a test CPU"
    assert {"name", "values", "ratio", "goal", "met", "outcome"} <= set(rows[1])
    http = next(r for r in rows if r["name"].startswith("HTTP"))
    assert http["outcome"] == "failed: MllabError: no server in this test" and http["met"] is None
    assert [r["outcome"] for r in rows].count("ran") == len(rows) - 1  # the others ran


def test_cli_suite_text_states_each_ratio_beside_its_goal(tiny, capsys, small_workloads):
    assert main(["bench", "--suite", "--model", str(tiny), "--repeats", "3"]) == 0
    out = capsys.readouterr().out
    assert "kit path / raw session.run loop" in out and f"goal >= {KIT_OVER_RAW_GOAL}" in out
    assert "failed: MllabError: no server in this test" in out


@pytest.mark.slow
def test_suite_on_resnet50_prints_every_row(capsys):
    assert main(["bench", "--suite", "--repeats", "4", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = " | ".join(r["name"] for r in rows)
    for part in ("ORT / torch", "kit path", "HTTP / in-process", "INT8", "roofline"):
        assert part in names
    assert all(r["outcome"] == "ran" for r in rows) and rows[0]["name"].startswith("machine")
    assert all(r["met"] in (True, False) for r in rows if not r["goal"].startswith("reported"))
    line = next(r for r in rows if "roofline" in r["name"])
    assert 7.5 < line["values"]["gflop_per_image_counted"] < 8.5
