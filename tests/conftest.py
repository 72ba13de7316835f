"""Shared fixtures. Docker tests need a real engine: in CI a missing engine is a failure, on a
user's machine without Docker they skip with a reason that says so. The tiny models every layer
tests on, and the lecture (beside the repository, when present), have their one home here."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tiny_models import tiny_classifier, tiny_resnet_interface

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: the lecture the labs follow: ``../shared/lecture/`` relative to the repository, when present
LECTURE = Path(__file__).resolve().parents[1].parent / "shared" / "lecture"


@pytest.fixture(scope="session")
def docker_client():
    """A docker SDK client whose engine answers (fails in CI, skips elsewhere, when none does)."""
    from mllab.containers.engine import client
    from mllab.core.errors import EngineUnavailable

    try:
        return client()
    except EngineUnavailable as error:
        if IN_CI:
            pytest.fail(f"CI needs a Docker engine (.ci/run starts one): {error}")
        pytest.skip(f"no Docker engine on this machine: {error}")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny ONNX classifier (``tiny_models.tiny_classifier``: Conv 3->4 + Gemm 4->5, input
    ``(N, 3, 8, 8)``, output ``(N, 5)``, FLOPs known by hand) with its sha256 file; a fresh
    file for each test module."""
    return tiny_classifier(tmp_path_factory.mktemp("models") / "tiny.onnx")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ResNet-50's interface in three nodes (``tiny_models.tiny_resnet_interface``: input
    ``(N, 3, 224, 224)``, logits ``(N, 1000)``), with its sha256 file: what the server tests
    serve instead of the 100 MB model. Shared by the session: copy it before changing it."""
    return tiny_resnet_interface(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="session")
def lecture_text() -> Callable[..., str]:
    """``lecture_text()``: the lecture's text (``000_*.txt``); ``lecture_text("CLAIMS.md")``:
    another file of the lecture's folder. The lecture is not part of the repository: the test
    is skipped, saying where it was looked for, on a machine without it."""

    def read(pattern: str = "000_*.txt") -> str:
        found = sorted(LECTURE.glob(pattern))
        if not found:
            pytest.skip(f"the lecture's {pattern} is not at {LECTURE} (../shared/lecture)")
        return found[0].read_text(encoding="utf-8")

    return read


@dataclass
class ExecutedLab:
    """One lab executed by the lab runner (papermill, default parameters), once per session."""

    lab: str
    out: Path  # the run folder: the executed notebook, summary.json, report.html, results/
    status: str
    failure: str  # the failing cell and its error, "" when the lab passed
    records: dict[str, dict[str, Any]]  # what the lab recorded: type name -> fields

    def record(self, name: str) -> dict[str, Any]:
        """The fields of record ``name``; fails the test, saying why, when the lab did not
        pass or did not record it."""
        assert self.status == "passed", f"lab {self.lab} failed: {self.failure}"
        assert name in self.records, f"lab {self.lab} recorded no {name}: {sorted(self.records)}"
        return self.records[name]


@pytest.fixture(scope="session")
def executed_lab(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ExecutedLab]:
    """``executed_lab("08")``: lab 08 run once per session, whichever test asks first (issue 17:
    each lab executes once per CI run). The Docker tests of a lab's experiments check what
    that run recorded instead of repeating the experiment; ``tests/labs/test_labs.py`` checks
    that it passed."""
    from mllab.core.records import load
    from mllab.report import runner

    done: dict[str, ExecutedLab] = {}

    def execute(lab: str) -> ExecutedLab:
        if lab not in done:
            out = tmp_path_factory.mktemp(f"lab{lab}")
            result = runner.run_labs(only=lab, out=out).results[0]
            failure = f"cell {result.failed_cell}: {result.error}\n{result.source}"
            records = load(lab, run=runner.run_results_folder(out))
            done[lab] = ExecutedLab(
                lab, out, result.status, "" if result.status == "passed" else failure, records
            )
        return done[lab]

    return execute


TESTS = Path(__file__).resolve().parent
#: every test under these paths runs with the engine's tests, slow or not: they build images,
#: stage build contexts, start containers or read what a lab's run left in ``artifacts/``
#: (not listed: the serving experiments and the bench suite, which start servers on free ports
#: and only read the cached models)
BESIDE_THE_ENGINE = (
    "cli/test_deploy_cli.py",
    "cli/test_pipeline_cli.py",
    "cli/test_registry_cli.py",
    "containers",
    "experiments/architecture",
    "experiments/delivery",
    "experiments/environment",
    "experiments/images",
    "experiments/reproducibility",
    "experiments/resources",
)


def xdist_group(item: pytest.Item) -> str | None:
    """Which tests must run one after another in one worker (``make test`` runs two workers,
    ``--dist loadgroup``; issue 17: the engine's tests wait on builds, containers and sleeps
    while the other worker uses the CPU):

    * ``engine``: every Docker test (one engine, one swarm, one registry on port 5000, the
      stacks' fixed names and ports, and each lab executed once per session by
      ``executed_lab``, whose records the Docker tests read), and every test of
      :data:`BESIDE_THE_ENGINE` (they share the engine's objects and ``artifacts/``);
    * ``notebooks``: every other lab execution (the labs write their files in ``artifacts/``
      under fixed names, so two runs of one lab must not overlap);
    * ``module:<path>``: the other slow tests, by module, so that an expensive module-scoped
      fixture (an export, a grading run, a server) runs once; a Docker test marked
      ``own_image`` (a long build of an image no other test uses: the CUDA image) gets its own
      ``image:<test>`` group, off the engine's path.
    Everything else (the package's own layers on tiny models, the report, the exercises'
    checks, the notebooks' text) is spread over both workers."""
    path = Path(str(item.path)).relative_to(TESTS)
    slow = item.get_closest_marker("slow") is not None
    beside = any(path.as_posix().startswith(where) for where in BESIDE_THE_ENGINE)
    if item.get_closest_marker("own_image"):
        return f"image:{path}::{item.name}"
    if item.get_closest_marker("docker") or beside:
        return "engine"
    if slow and path.parts[0] == "labs":
        return "notebooks"
    return f"module:{path}" if slow else None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (its hook is a plain one)
def pytest_collection_modifyitems(config, items):
    """Every test marked ``docker`` gets the engine fixture, so none can silently run without
    it; every test gets its worker group (:func:`xdist_group`)."""
    for item in items:
        if item.get_closest_marker("docker") and "docker_client" not in item.fixturenames:
            item.fixturenames.insert(0, "docker_client")
        group = xdist_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """In CI a skipped Docker test is a failure: say so at the end of the run."""
    skipped = _skipped_docker_tests(terminalreporter)
    if IN_CI and skipped:
        terminalreporter.write_line(f"ERROR: Docker tests skipped in CI: {skipped}", red=True)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if IN_CI and reporter and _skipped_docker_tests(reporter) and exitstatus == 0:
        session.exitstatus = 1


def _skipped_docker_tests(reporter) -> list[str]:
    return [r.nodeid for r in reporter.stats.get("skipped", []) if "docker" in r.keywords]
