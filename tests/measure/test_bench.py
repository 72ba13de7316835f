"""mllab.measure.bench and friends: harness statistics on a known workload, the T(n) fit on synthetic
data, n*, ORT profiling, fp16 conversion, FLOP counting, GPU paths reported as not run, the
``mllab bench`` command line and the suite."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from tiny_models import CONV_MACS, GEMM_MACS, tiny_classifier

from mllab.measure import bench
from mllab.model import fp16
from mllab.experiments import gpu_paths as gpu
from mllab.measure import roofline
from mllab.experiments import suite
from mllab.cli.main import main
from mllab.core.errors import InputError, ProviderUnavailable
from mllab.runtime.sessions import create_session, cuda_works


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_classifier(tmp_path_factory.mktemp("models") / "tiny.onnx")


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    """Profiles and caches of these tests go to a temporary folder, not artifacts/."""
    import mllab.core.paths

    monkeypatch.setattr(mllab.core.paths, "ARTIFACTS", tmp_path / "artifacts")
    return tmp_path / "artifacts"


class FakeClock:
    """A clock that only moves when told to: timings are then known exactly."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, ms: float) -> None:
        self.now += ms / 1000.0


# --- harness statistics -------------------------------------------------------------------


def test_measure_statistics_on_a_fake_clock():
    clock = FakeClock()
    durations = iter([1000.0] * 3 + list(np.random.default_rng(0).permutation(100) + 1.0))
    stats = bench.measure(
        lambda: clock.advance(next(durations)),
        warmup=3,
        repeats=100,
        batch=4,
        progress=False,
        clock=clock,
    )
    # the three 1000 ms warm-up calls are not timed; the timed calls took 1, 2, ..., 100 ms
    assert stats.repeats == 100 and stats.min_ms == pytest.approx(1.0)
    assert stats.p50_ms == pytest.approx(50.5)
    assert stats.p90_ms == pytest.approx(90.1)
    assert stats.p99_ms == pytest.approx(99.01)
    assert stats.mean_ms == pytest.approx(50.5)
    assert stats.std_ms == pytest.approx(np.std(np.arange(1, 101), ddof=1))
    assert stats.throughput == pytest.approx(4 * 100 / 5.050)  # 400 items in 5.05 s


def test_sync_is_inside_the_timed_region():
    clock = FakeClock()
    synced = []

    def sync():
        synced.append(1)
        clock.advance(5.0)  # the device finishes 5 ms after the launch returned

    stats = bench.measure(lambda: clock.advance(2.0), 1, 10, sync, progress=False, clock=clock)
    assert len(synced) == 11  # after the warm-up call too
    assert stats.p50_ms == pytest.approx(7.0) and stats.p99_ms == pytest.approx(7.0)


def test_budget_stops_early_but_keeps_three_calls():
    clock = FakeClock()
    stats = bench.measure(
        lambda: clock.advance(400.0), 0, 50, budget_s=1.0, progress=False, clock=clock
    )
    assert stats.repeats == 3


def test_measure_real_sleeps():
    stats = bench.measure(lambda: time.sleep(0.02), warmup=1, repeats=5, progress=False)
    assert 20.0 <= stats.min_ms <= stats.p50_ms <= stats.p99_ms
    assert stats.throughput <= 1000.0 / 20.0


def test_measure_refuses_no_repeats():
    with pytest.raises(InputError):
        bench.measure(lambda: None, repeats=0, progress=False)


# --- T(n) = n / (a + b n) -----------------------------------------------------------------


def test_fit_recovers_a_and_b_exactly_without_noise():
    n = np.array([1, 2, 4, 8, 16, 32])
    a, b = 12.0, 3.5
    fit = bench.fit_throughput(n, 1000.0 * n / (a + b * n))
    assert fit.a_ms == pytest.approx(a) and fit.b_ms == pytest.approx(b)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.max_throughput == pytest.approx(1000.0 / b)
    assert fit.throughput(8) == pytest.approx(8000.0 / (a + 8 * b))


def test_fit_recovers_a_and_b_from_noisy_data():
    rng = np.random.default_rng(0)
    n = np.repeat([1, 2, 4, 8, 16, 32, 64], 3)
    a, b = 20.0, 6.0
    latency = (a + b * n) * (1 + 0.02 * rng.standard_normal(n.shape))  # 2 % noise
    fit = bench.fit_throughput(n, 1000.0 * n / latency)
    assert fit.a_ms == pytest.approx(a, rel=0.25)
    assert fit.b_ms == pytest.approx(b, rel=0.03)
    assert 0.99 < fit.r2 < 1.0


def test_fit_refuses_what_it_cannot_fit():
    with pytest.raises(InputError, match="two different batch sizes"):
        bench.fit_throughput([4, 4], [10.0, 11.0])
    with pytest.raises(InputError, match="positive"):
        bench.fit_throughput([1, 2], [10.0, 0.0])
    with pytest.raises(InputError, match="equal length"):
        bench.fit_throughput([1, 2, 4], [10.0, 11.0])


def _sweep(a: float, b: float, batches=(1, 2, 4, 8, 16)) -> list[bench.Stats]:
    """A synthetic sweep: every call at batch n takes a + b·n ms (p99 = 1.2 × that)."""
    return [
        bench.summarize([(a + b * n) / 1000.0] * 99 + [1.2 * (a + b * n) / 1000.0], batch=n)
        for n in batches
    ]


def test_best_batch_respects_the_latency_bound():
    stats = _sweep(10.0, 5.0)  # mean latency 15, 20, 30, 50, 90 ms; p99 1.2× that
    fit = bench.fit_sweep(stats)
    assert bench.best_batch(stats, None, 40.0) == 4  # p99 36 ms <= 40 < 60 ms
    assert bench.best_batch(stats, None, 60.0) == 8
    assert bench.best_batch(stats, None, 1000.0) == 16
    assert bench.best_batch(stats, None, 40.0, percentile="mean") == 4
    assert bench.best_batch(stats, None, 10.0) is None
    assert bench.best_batch(stats, fit, 60.0) == 8
    for bound in (20.0, 40.0, 60.0, 120.0):
        chosen = bench.best_batch(stats, fit, bound)
        assert next(s for s in stats if s.batch == chosen).p99_ms <= bound
    for bound in (16.0, 60.0, 333.0):  # n* from the fit: the largest n with a + b·n <= bound
        n_star = fit.n_star(bound)
        assert fit.latency_ms(n_star) <= bound < fit.latency_ms(n_star + 1)
    assert fit.n_star(60.0) == 9  # mean latency is 1.002 × (10 + 5 n): 9.98 -> 9
    assert fit.n_star(10.0) is None


def test_best_batch_refuses_an_unknown_percentile():
    with pytest.raises(InputError, match="percentile"):
        bench.best_batch(_sweep(1.0, 1.0), None, 10.0, percentile="p95")


def test_parse_batches():
    assert bench.parse_batches("8,1, 2,4,4") == [1, 2, 4, 8]
    for bad in ("1,x", "0,2", ""):
        with pytest.raises(InputError):
            bench.parse_batches(bad)


def test_batch_sweep_on_a_session(tiny):
    session = create_session(tiny)
    stats = bench.batch_sweep(session, [4, 1, 2], warmup=1, repeats=3, progress=False)
    assert [s.batch for s in stats] == [1, 2, 4]
    assert all(s.repeats == 3 and s.throughput > 0 for s in stats)
    text = bench.sweep_table(stats, bench.fit_sweep(stats))
    assert "fit_throughput" in text and len(text.splitlines()) == 4


def test_plot_sweep_draws_both_panels():
    import matplotlib

    matplotlib.use("Agg")
    stats = _sweep(10.0, 5.0)
    fig = bench.plot_sweep(stats, bench.fit_sweep(stats), latency_bound_ms=60.0, n_star=8)
    left, right = fig.axes
    assert left.get_ylabel().startswith("latency") and right.get_ylabel().startswith("throughput")
    assert len(right.lines) >= 3  # measured points, fitted curve, n* line


# --- profiling ----------------------------------------------------------------------------


def test_profile_operators_returns_the_expensive_ops(tiny, artifacts):
    rows = bench.profile_operators(tiny, runs=2, batch=4)
    ops = {r["op_type"] for r in rows}
    assert {"Conv", "Gemm"} <= ops
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert all(r["calls"] == 1 and r["provider"] == "CPU" for r in rows if r["op_type"] == "Gemm")
    assert list(artifacts.glob("profiles/*.json"))


def test_operator_table_skips_the_warmup_run():
    def run(ts):
        return {"cat": "Session", "name": "model_run", "ts": ts, "dur": 100}

    def kernel(ts, op, dur, kind="kernel_time"):
        args = {"op_name": op, "provider": "CPUExecutionProvider"}
        return {"cat": "Node", "name": f"n_{ts}_{kind}", "ts": ts, "dur": dur, "args": args}

    events = [run(0), kernel(1, "Conv", 90), run(200), kernel(201, "Conv", 30)]
    events += [kernel(250, "Gemm", 10), kernel(260, "Gemm", 5, kind="fence_before")]
    rows = bench.operator_table(events, skip_runs=1)
    assert rows[0] == {
        "op_type": "Conv",
        "calls": 1.0,
        "ms": 0.03,
        "share": 0.75,
        "provider": "CPU",
        "dtype": "",
    }
    with pytest.raises(InputError):
        bench.operator_table(events, skip_runs=2)


# --- fp16 ---------------------------------------------------------------------------------


def test_fp16_conversion_keeps_fp32_io(tiny, tmp_path):
    import onnx

    half = fp16.convert(tiny, tmp_path / "tiny-fp16.onnx")
    assert fp16.io_types(half) == {"input": "float32", "logits": "float32"}
    proto = onnx.load(str(half))
    assert {t.data_type for t in proto.graph.initializer if t.name == "w"} == {
        onnx.TensorProto.FLOAT16
    }
    assert (tmp_path / "tiny-fp16.onnx.sha256").exists()
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    drift = fp16.drift_vs_fp32(half, tiny, x)
    assert 0 < drift.max_abs < 1e-2 and drift.top1_agreement == 1.0


def test_fp16_refuses_a_model_without_a_digest(tmp_path):
    from mllab.core.errors import IntegrityError

    bare = tiny_classifier(tmp_path / "bare.onnx", digest=False)
    with pytest.raises(IntegrityError):
        fp16.convert(bare, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


# --- roofline -----------------------------------------------------------------------------


def test_model_flops_counts_conv_and_gemm(tiny):
    flops = roofline.model_flops(tiny)
    assert flops["by_op"]["Conv"] == pytest.approx(2 * CONV_MACS / 1e9)
    assert flops["by_op"]["Gemm"] == pytest.approx(2 * GEMM_MACS / 1e9)
    assert roofline.model_flops(tiny, batch=3)["gflop"] == pytest.approx(3 * flops["gflop"])


def test_matmul_gflops_is_measured():
    peak = roofline.matmul_gflops(size=128, threads=1, repeats=3)
    assert peak["threads"] == 1 and peak["gflops_best"] >= peak["gflops_median"] > 0
    line = roofline.roofline(8.0, 400.0, 25.0)
    assert line["best_items_per_s"] == 50.0 and line["fraction"] == 0.5


# --- GPU paths and torch references -------------------------------------------------------


def test_gpu_paths_are_reported_not_skipped(tiny):
    if cuda_works():
        pytest.skip("a GPU works here: the not-run report is checked on machines without one")
    result = gpu.run_paths(tiny, tiny, batches=[1], repeats=1)
    assert result["run"] is False and "asked for cuda" in result["why"]
    assert set(result["paths"]) == {
        "ort_cuda_fp32",
        "ort_cuda_fp16",
        "ort_tensorrt_fp16",
        "torch_cuda_fp32",
        "torch_cuda_fp16_autocast",
    }
    assert all(p["run"] is False and p["why"] for p in result["paths"].values())
    assert all("NOT RUN" in line for line in gpu.summary_lines(result))
    with pytest.raises(ProviderUnavailable):
        gpu.run_paths(tiny, tiny, batches=[1], repeats=1, require=True)


def test_torch_cuda_raises_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU here")
    with pytest.raises(ProviderUnavailable, match="asked for torch on cuda"):
        bench.torch_runner(1, "cuda", "fp16")
    with pytest.raises(InputError, match="CUDA path"):
        bench.torch_runner(1, "cpu", "fp16")


def test_mlperf_comparison_only_on_an_h100():
    paths = {"ort_cuda_fp32": {"run": True, "best_items_per_s": 8871.4}}
    h100 = gpu.mlperf_comparison({"gpus": ["NVIDIA H100 80GB HBM3, 81559 MiB"]}, paths)
    assert h100["ratio"] == pytest.approx(0.1)
    assert gpu.mlperf_comparison({"gpus": ["NVIDIA A10"]}, paths)["run"] is False


# --- the command line and the suite -------------------------------------------------------


def test_cli_bench_cpu_json(tiny, capsys):
    code = main(["bench", "--model", str(tiny), "--batches", "1,2", "--repeats", "2", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["provider"] == "CPUExecutionProvider"
    assert [s["batch"] for s in report["stats"]] == [1, 2] and report["fit"]["r2"] <= 1.0


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
    ],
)
def test_cli_bench_bad_input_exits_2(capsys, argv, message):
    assert main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err


def test_suite_reports_a_missing_http_measurement(tiny, monkeypatch):
    import mllab.serve.client

    def broken(*args, **kwargs):
        raise RuntimeError("port 8080 is taken")

    monkeypatch.setattr(mllab.serve.client, "http_overhead", broken)
    (row,) = suite.http_rows(tiny, repeats=1)
    assert row.verdict == "not available: RuntimeError: port 8080 is taken"
    assert "not available" in suite.format_suite([row])


def test_suite_kit_and_roofline_rows_on_a_tiny_model(tiny):
    session = create_session(tiny)
    kit = suite.kit_vs_raw(tiny, session, repeats=6, progress=False)
    assert kit.ratio > 0 and kit.goal == ">= 0.9" and kit.verdict.endswith("the goal")
    line = suite.roofline_row(tiny, session, repeats=4, progress=False, batch=4)
    assert line.values["gflop_per_image_counted"] == pytest.approx(
        2 * (CONV_MACS + GEMM_MACS) / 1e9
    )
    assert line.ratio == pytest.approx(
        line.values["measured_items_per_s"] / line.values["best_items_per_s"]
    )


@pytest.mark.slow
def test_suite_on_resnet50_prints_every_row(capsys):
    assert main(["bench", "--suite", "--repeats", "4", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = " | ".join(r["name"] for r in rows)
    for part in ("ORT / torch", "kit path", "HTTP / in-process", "INT8", "roofline"):
        assert part in names
    assert all(r["verdict"] for r in rows) and rows[0]["name"].startswith("machine")
    line = next(r for r in rows if "roofline" in r["name"])
    assert 7.5 < line["values"]["gflop_per_image_counted"] < 8.5
