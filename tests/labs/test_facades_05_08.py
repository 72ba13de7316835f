"""The facades of labs 05-08 (``mllab.labs.labNN``): a vocabulary that fits on one screen, and
the plumbing they took over from the notebooks (switched-off steps recorded as not run, rows
built from records), checked without Docker or a model run."""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path

import pytest

from mllab.core.errors import InputError
from mllab.core.outcome import Outcome
from mllab.experiments.delivery.pipeline import PipelineRun
from mllab.experiments.delivery.registry_api import RepoTags
from mllab.experiments.reproducibility.rebuilds import RebuildComparison
from mllab.experiments.resources.lc_fit import LcFit, fit_lc
from mllab.labs import lab06, lab07, lab08

LABS = ["05", "06", "07", "08"]


@pytest.mark.parametrize("lab", LABS)
def test_a_facade_names_what_it_exports_on_one_screen(lab: str):
    facade = importlib.import_module(f"mllab.labs.lab{lab}")
    names = facade.__all__
    assert len(names) == len(set(names)), "a name listed twice"
    assert len(names) <= 45, f"lab {lab}'s vocabulary has {len(names)} names: group or fold some"
    missing = [name for name in names if not hasattr(facade, name)]
    assert not missing, f"listed in __all__ but not defined: {missing}"
    assert facade.__doc__ and "Groups:" in facade.__doc__


def test_switched_off_rebuilds_are_recorded_as_not_run_with_the_flag():
    cached, nocache = lab06.docker_pairs(None, None)
    assert cached.outcome == nocache.outcome == Outcome.not_run("NO_CACHE_REBUILD is False")
    effects, layer = lab06.cache_records(None)
    assert effects.outcome == layer.outcome == Outcome.not_run("CACHE_EXPERIMENT is False")
    recipe = lab06.BuildRecipe("FROM x\n", 0, 0)  # never used: buildah is switched off
    pair, builds = lab06.buildah_twice("mllab-test", Path("m.onnx"), recipe, run=False)
    assert (pair.outcome, builds) == (Outcome.not_run("BUILDAH is False"), None)
    base, tar = lab06.base_tar_twice("mllab-test", run=False)
    assert base is None and tar.identity == "tar sha256"
    assert tar.outcome == Outcome.not_run("BASE_TWICE is False")


def test_rebuild_rows_show_every_pair_that_was_tried():
    same = RebuildComparison(Outcome.ran(), same=True)
    differs = RebuildComparison(Outcome.ran(), same=False, differing_fields=["created"])
    skipped = RebuildComparison(Outcome.not_run("no buildah"))
    c2 = lab06.Rebuilds(differs, skipped, same, docker_cached=same)  # no BuildKit pair
    rows = {row["pair"]: row for row in lab06.rebuild_rows(c2)}
    assert list(rows) == ["docker cached", "docker --no-cache", "buildah", "base tar"]
    assert rows["docker --no-cache"]["same"] is False
    assert rows["docker --no-cache"]["differing fields"] == "created"
    assert str(rows["buildah"]["outcome"]) == "not run: no buildah"


def test_law_lines_give_each_policy_its_law_or_why_not():
    knee = fit_lc([0.5, 1, 2], [400.0, 200.0, 200.0])
    fits = {1: knee, "host": LcFit(Outcome.not_run("one point only"), [1.0], [90.0])}
    lines = lab07.law_lines(fits).splitlines()
    assert (knee.c_opt, knee.scale_ms) == pytest.approx((1.0, 200.0))
    assert lines[0] == "    1: L(c) = 200.0 ms / min(c, 1.00), R² = 1.000"
    assert lines[1] == " host: not run: one point only"


def test_the_lc_table_puts_each_point_beside_its_cfs_counters():
    knee = fit_lc([0.5, 1, 2], [400.0, 200.0, 220.0])
    knee = replace(knee, nr_periods=[40, 20, 10], nr_throttled=[30, 0, None])
    knee = replace(knee, throttled_ms=[900.4, 0.0, None])
    lost = LcFit(Outcome.not_run("one point only"), [1.0], [90.0])
    rows = lab07.lc_rows({1: knee, "host": lost})
    assert [(r["policy"], r["--cpus"]) for r in rows] == [
        (1, 0.5),
        (1, 1.0),
        (1, 2.0),
        ("host", 1.0),
    ]
    assert rows[0]["throttled periods"] == "30/40 (75 %)" and rows[0]["throttled ms"] == 900
    assert rows[1]["throttled periods"] == "0/20 (0 %)"
    assert rows[2]["throttled periods"] == "unreadable" and rows[2]["throttled ms"] == ""
    assert rows[2]["off by"] == f"{100 * (220.0 / knee.predict(2.0) - 1):+.0f} %"
    assert rows[3]["law ms"] == "" and rows[3]["throttled periods"] == "unreadable"


def test_registry_rows_list_every_tag_with_its_digest():
    repos = [
        RepoTags("mllab/serve", ["1.0.0-build.3", "latest"], {"latest": "sha256:" + "a" * 64}),
        RepoTags("mllab/demo", []),
    ]
    rows = lab08.registry_rows(repos)
    assert [(r["repository"], r["tag"]) for r in rows] == [
        ("mllab/serve", "1.0.0-build.3"),
        ("mllab/serve", "latest"),
    ]
    assert rows[0]["digest"] == "" and rows[1]["digest"] == "sha256:" + "a" * 12


def test_a_release_that_was_not_pushed_cannot_be_pulled_back():
    run = PipelineRun("1.1.0", blocked_by="test")
    with pytest.raises(InputError, match="1.1.0 was not pushed .*stopped at test"):
        lab08.pull_back_release(run, "127.0.0.1:5000")
