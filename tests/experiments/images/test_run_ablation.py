"""run_ablation's bookkeeping without an engine: which variants it builds, what a row says
when its base is missing or the index cannot start, and the dependency-diet row."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.experiments.images import ablation


@pytest.fixture
def no_engine(monkeypatch, tmp_path):
    """Staging, the base, the builds and the sizes replaced: each build "makes" its tag, whose
    size is looked up in ``sizes``; ``built`` lists the tags in the order they were built."""
    (tmp_path / "requirements.lock").write_text("numpy==2.4.6 --hash=sha256:00\n")
    built: list[str] = []
    sizes = {"mllab/serve:naive": 9000.0}

    @contextmanager
    def index(folder):
        yield "http://172.17.0.1:38503/"

    def build_once(text, tag, context, args, digest, on_log):
        if tag != ablation.FULL_BASE_TAG:  # the variants download from the index
            assert args["WHEELS"] == "http://172.17.0.1:38503/"
            assert args["WHEELS_HOST"] == "172.17.0.1"
        built.append(tag)
        sizes.setdefault(tag, 400.0 + 10 * len(built))
        return tag

    monkeypatch.setattr(ablation, "stage", lambda model, on_log: tmp_path)
    monkeypatch.setattr(ablation, "context_digest", lambda context: "inputs")
    monkeypatch.setattr(ablation, "base_image", lambda: "mllab/base:bookworm-py311")
    monkeypatch.setattr(ablation, "image_id", lambda tag: f"sha256:{tag}")
    monkeypatch.setattr(ablation, "serve_wheels", index)
    monkeypatch.setattr(ablation, "_build_once", build_once)
    monkeypatch.setattr(ablation, "image_size_mb", lambda tag: sizes[tag])
    return built


def test_without_the_full_base_only_the_slim_base_variants_are_built(no_engine):
    naive = (Outcome.not_run("BUILD_NAIVE = False"), None)
    result = ablation.run_ablation(False, naive=naive)
    assert no_engine == [
        f"mllab/ablation:{s}"
        for s in ("single-slim-cache", "multi-slim-cache", "single-slim-clean", "multi-slim-clean")
    ]
    assert result.outcome.ok and result.full_base.status == "not run"
    for row in (r for r in result.variants if not r.slim_base):
        assert row.size_mb is None and row.build.reason.startswith("FULL_BASE = False")
    assert result.diet.naive == naive[0] and result.diet.lean_mb == 410.0


def test_with_the_full_base_all_eight_and_the_diet(no_engine):
    result = ablation.run_ablation(True, naive=(Outcome.ran(), "mllab/serve:naive"))
    assert no_engine[0] == ablation.FULL_BASE_TAG and len(no_engine) == 9
    assert all(r.build.ok and r.size_mb for r in result.variants)
    assert result.diet.naive_mb == 9000.0


def test_an_index_that_cannot_start_fails_every_row(no_engine, monkeypatch):
    @contextmanager
    def broken(folder):
        raise MllabError("Docker's bridge network has no gateway")
        yield ""

    monkeypatch.setattr(ablation, "serve_wheels", broken)
    result = ablation.run_ablation(False)
    assert result.outcome.failed_with(MllabError) and not no_engine
    assert all("no gateway" in r.build.reason for r in result.variants)
