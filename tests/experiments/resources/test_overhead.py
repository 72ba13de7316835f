"""Container overhead η (claim C5's record, lab 07)."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.core.errors import InputError
from mllab.experiments.resources.overhead import overhead, summarize
from mllab.experiments.resources.probe_runs import ProbeRun


def _run(where: str, per_s: float, samples: list[float]) -> ProbeRun:
    mean = float(np.mean(samples))
    return ProbeRun(
        where, None, 1, 1, len(samples), mean, mean, mean, mean, per_s, samples_ms=samples
    )


def test_summarize_takes_eta_from_the_rounds_and_ms_per_inference_pooled():
    container = [_run("container", 9.0, [110.0, 112.0]), _run("container", 8.0, [125.0, 126.0])]
    native = [_run("native", 10.0, [100.0, 101.0]), _run("native", 10.0, [99.0, 100.0])]
    result = summarize(container, native, threads=1, repeats=2, note="default cgroups")
    assert result.outcome.ok
    assert result.ratios == pytest.approx([0.9, 0.8])
    assert result.eta_cpu == pytest.approx(0.85)
    assert result.native_ms == pytest.approx(100.0)
    assert result.container_ms == pytest.approx(1000.0 * (2 / 9 + 2 / 8) / 4)
    assert result.eta_pooled == pytest.approx(result.native_ms / result.container_ms)
    assert result.eta_best == pytest.approx(99.0 / 110.0)
    assert result.gpu.status == "not run" and result.eta_gpu is None


def test_overhead_refuses_bad_arguments_before_starting_anything():
    with pytest.raises(InputError):
        overhead(tag="never-built", rounds=0)
    with pytest.raises(InputError):
        overhead(tag="never-built", threads=-1)


@pytest.mark.docker
def test_overhead_compares_the_same_threads_and_cleans_its_cgroups(slim):
    from mllab.experiments.resources.container_limits import PREFIX
    from mllab.experiments.resources.cpu_groups import cpu_cgroup_root

    result = overhead(slim, threads=1, rounds=2, repeats=3, warmup=1, progress=False)
    assert result.threads == 1 and len(result.rounds) == 2
    assert result.eta_cpu == pytest.approx(float(np.median(result.ratios)))
    assert 0 < result.native_ms and 0 < result.container_ms
    root = cpu_cgroup_root()
    if root is not None:
        assert result.cgroups.startswith("own sibling CPU cgroups")
        assert not list(root.parent.glob(f"*/{PREFIX}-*"))  # removed afterwards
