"""Lab 07's record of its two updates under load: the rolling update and the failing one.

:func:`~mllab.experiments.delivery.rollout.rolling_update` and
:func:`~mllab.experiments.delivery.rollout.failing_update` each return a
:class:`~mllab.experiments.delivery.rollout.Rollout`; a run's records are stored by type name,
so the lab records both under one name, ``record("07", Rollouts(rolling, failing))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mllab.experiments.delivery.rollout import Rollout


@dataclass
class Rollouts:
    """The rolling update (goal: 0 failed requests, ``completed``) and the update to a build
    that fails its health check (goal: 0 failed requests, ``rollback_completed``)."""

    rolling: Rollout
    failing: Rollout

    SCHEMA_VERSION: ClassVar[int] = 1

    def failed_requests(self) -> dict[str, int]:
        """What the clients lost in each update: ``{"rolling": n, "failing": m}``."""
        return {"rolling": self.rolling.failures, "failing": self.failing.failures}
