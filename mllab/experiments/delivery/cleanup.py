"""Leave the machine as lab 08 found it: the stack removed, the registry stopped if the lab
started it, the swarm left only if the kit created it.

Lab 08 keeps a registry and a swarm stack up across many cells (one ``with`` block cannot span
them), so its last cell calls :func:`cleanup`, and the lab runner calls it again after lab 08
has run, also when a cell failed. Every step is tried even when an earlier one fails, and each
says what it did; running it twice, or with nothing up, changes nothing. A registry that was
already up when the lab began (``mllab registry up``, or ``REGISTRY``) is left up: the lab starts
its registry with :func:`lab_registry`, which notes in :data:`REGISTRY_MARK` that it did.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mllab.core.outcome import Outcome
from mllab.core.paths import ARTIFACTS
from mllab.core.tables import format_table
from mllab.experiments.delivery.registry import RegistryState, registry_down, registry_up
from mllab.experiments.delivery.swarm import deploy_down
from mllab.experiments.delivery.swarm_node import leave_swarm_if_created


@dataclass
class CleanupStep:
    """One step of the clean-up: what it is, how it went, and what it did (``done``)."""

    name: str
    outcome: Outcome
    done: bool | None = None  # True: something was removed / stopped / left; None: failed


@dataclass
class Cleanup:
    """What :func:`cleanup` did, step by step."""

    steps: list[CleanupStep] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def ok(self) -> bool:
        """True when every step ran (whether or not it had anything to undo)."""
        return all(step.outcome.ok for step in self.steps)

    def line(self) -> str:
        """One line: each step's outcome and whether it had something to undo."""
        return "; ".join(f"{s.name}: {s.outcome}{' (done)' if s.done else ''}" for s in self.steps)

    def __str__(self) -> str:
        return format_table(
            [{"step": s.name, "outcome": s.outcome, "did": s.done} for s in self.steps]
        )


#: present while a registry that lab 08 started runs (removed when the clean-up stops it)
REGISTRY_MARK = ARTIFACTS / "lab08" / "registry-started-by-the-lab.json"


def lab_registry(port: int) -> RegistryState:
    """:func:`~mllab.experiments.delivery.registry.registry_up` for the lab, noting when this
    call started it, so that :func:`cleanup` stops that registry and no other."""
    state = registry_up(port)
    if state.started:
        REGISTRY_MARK.parent.mkdir(parents=True, exist_ok=True)
        REGISTRY_MARK.write_text(json.dumps({"address": state.address, "pid": state.pid}))
    return state


def stop_lab_registry() -> bool:
    """Stop the registry :func:`lab_registry` started (True), or nothing when the lab found one
    running or started none (False)."""
    if not REGISTRY_MARK.exists():
        return False
    stopped = registry_down()
    REGISTRY_MARK.unlink(missing_ok=True)
    return stopped


#: the steps in order: the stack before the swarm it runs in; the registry is independent
STEPS: tuple[tuple[str, Callable[[], Any]], ...] = (
    ("remove the stack mllab08", lambda: deploy_down(leave=False)),
    ("stop the registry the lab started", stop_lab_registry),
    ("leave the swarm if the kit created it", leave_swarm_if_created),
)


def _step(name: str, action: Callable[[], Any]) -> CleanupStep:
    try:
        return CleanupStep(name, Outcome.ran(), bool(action()))
    except Exception as error:  # noqa: BLE001 — a clean-up tries every step and says what failed
        return CleanupStep(name, Outcome.failed(error))


def cleanup() -> Cleanup:
    """Remove lab 08's stack, stop the registry the lab started, leave the swarm the kit made;
    never raises (a step that fails is shown as ``failed: <error>``)."""
    return Cleanup([_step(name, action) for name, action in STEPS])
