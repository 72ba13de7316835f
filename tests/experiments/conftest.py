"""Fixtures shared by the experiment tests (lab 07 so far)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def slim(docker_client) -> str:
    """The slim server image's tag, built when its inputs changed (lab 07's containers)."""
    from mllab.experiments.resources.container_limits import (
        slim_image,  # deferred: only Docker tests need it
    )

    return slim_image()
