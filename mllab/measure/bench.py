"""A single-device benchmark (``mllab bench``): verified session, batch sweep, T(n) fit, n*.

The pieces live beside it: the harness and the sweep in :mod:`mllab.measure.harness`, the
statistics in :mod:`mllab.measure.stats`, the T(n) = n/(a + bn) fit in
:mod:`mllab.measure.batching`. The command line is :mod:`mllab.cli.bench`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllab.core.errors import InputError
from mllab.measure.batching import BatchFit, best_batch, fit_line, fit_sweep, sweep_table
from mllab.measure.harness import DEFAULT_BATCHES, batch_sweep
from mllab.measure.roofline import matmul_model
from mllab.measure.stats import Stats
from mllab.runtime.sessions import create_session, resolve_device


@dataclass
class BenchReport:
    """A single-device benchmark: the session, its sweep, the T(n) fit and n*."""

    model: str
    device: str
    provider: str
    threads: int
    stats: list[Stats]
    fit: BatchFit | None  # None with a single batch size
    latency_bound_ms: float | None
    n_star: int | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: the fit with its asymptote T(∞)."""
        data = {k: v for k, v in vars(self).items() if k not in ("stats", "fit")}
        data["stats"] = [s.to_dict() for s in self.stats]
        fit = self.fit
        data["fit"] = {**vars(fit), "max_throughput": fit.max_throughput} if fit else None
        return data

    def lines(self) -> list[str]:
        """What ``mllab bench`` prints."""
        out = [f"{self.model} on {self.provider} ({self.threads} intra-op threads)"]
        out.append(sweep_table(self.stats, self.fit))
        if self.fit:
            out.append(fit_line(self.fit))
        if self.latency_bound_ms is not None:
            out.append(f"n* under a p99 bound of {self.latency_bound_ms:g} ms: {self.n_star}")
        return out


def check_device(device: str) -> str:
    """The device resolved (``auto`` -> what works), after a session on a tiny MatMul model
    proved it really runs there: a missing GPU fails in a second, before any model is built
    (:class:`mllab.core.errors.ProviderUnavailable` names the cause)."""
    device = resolve_device(device)
    if device != "cpu":
        create_session(matmul_model(16), device=device)
    return device


def run_bench(
    model: str | Path,
    device: str = "cpu",
    batches: Sequence[int] = DEFAULT_BATCHES,
    warmup: int = 2,
    repeats: int = 10,
    latency_bound_ms: float | None = None,
    progress: bool = True,
) -> BenchReport:
    """Benchmark ``model`` on ``device``: verified session, batch sweep, T(n) fit and n*."""
    if not Path(model).is_file():
        raise InputError(f"no such model file: {model}")
    device = check_device(device)
    session = create_session(model, device=device)
    stats = batch_sweep(session, batches, warmup, repeats, progress, name=device)
    bound = latency_bound_ms
    fit = fit_sweep(stats, bound) if len(stats) > 1 else None
    n_star = fit.n_star if fit else (best_batch(stats, None, bound) if bound is not None else None)
    return BenchReport(
        model=str(model),
        device=device,
        provider=session.get_providers()[0],
        threads=session.get_session_options().intra_op_num_threads,
        stats=stats,
        fit=fit,
        latency_bound_ms=bound,
        n_star=n_star,
    )
