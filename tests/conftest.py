"""Shared fixtures. Docker tests need a real engine: in CI a missing engine is a failure, on a
user's machine without Docker they skip with a reason that says so."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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


def pytest_collection_modifyitems(config, items):
    """Every test marked ``docker`` gets the engine fixture, so none can silently run without it."""
    for item in items:
        if item.get_closest_marker("docker") and "docker_client" not in item.fixturenames:
            item.fixturenames.insert(0, "docker_client")


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
