"""The swarm this engine is in: made by the kit when there is none, left by the kit only then.

``ensure_swarm()`` runs ``docker swarm init --advertise-addr 127.0.0.1`` (offline, one node)
when the engine is in no swarm and writes ``ARTIFACTS/swarm/created-by-kit.json``;
``leave_swarm_if_created()`` leaves only such a swarm, and only once no service runs in it, and
removes the ``docker_gwbridge`` network that ``swarm init`` made (the engine keeps it after a
leave) when it was not there before. A swarm the user had is never left. Used by
:mod:`mllab.experiments.delivery.swarm` (the lab-08 stack). ``docker swarm`` and ``docker info``
run on the CLI, through :func:`mllab.containers.docker_cli.docker`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mllab.containers.docker_cli import docker
from mllab.containers.engine import client
from mllab.core.errors import MllabError
from mllab.core.paths import ARTIFACTS
from mllab.core.poll import until

#: the kit's own note that it ran ``docker swarm init`` (so only it leaves that swarm)
STATE_FILE = ARTIFACTS / "swarm" / "created-by-kit.json"
#: seconds a ``docker info`` or ``docker swarm`` command may take
TIMEOUT = 120.0
#: the bridge ``docker swarm init`` creates for the swarm's containers; a leave keeps it
GWBRIDGE = "docker_gwbridge"


def _info(field: str) -> str:
    """``docker info --format {{.Swarm.<field>}}``, stripped."""
    return docker(["info", "--format", f"{{{{.Swarm.{field}}}}}"], timeout=TIMEOUT).stdout.strip()


def swarm_state() -> str:
    """This engine's swarm state: ``inactive``, ``active`` (a manager or worker), ``pending``,
    ``locked`` or ``error``."""
    return _info("LocalNodeState")


def created_by_kit() -> bool:
    """True when the state file says the kit initialised the swarm this engine is in."""
    return STATE_FILE.exists()


def settled_state(timeout: float = 30.0) -> str:
    """:func:`swarm_state` once it is no longer ``pending`` (a join, init or leave under way,
    perhaps by another process), or ``pending`` after ``timeout`` seconds."""

    def settled() -> str:  # "" (falsy: wait on) while pending
        state = swarm_state()
        return "" if state == "pending" else state

    return until(settled, timeout=timeout, interval=0.5, default="pending", what="a settled swarm")


def ensure_swarm() -> bool:
    """A swarm this engine manages: ``docker swarm init --advertise-addr 127.0.0.1`` when it is
    in none. True when the kit created it (now or earlier, per the state file)."""
    state = settled_state()
    if state == "inactive":
        gwbridge_before = _has_network(GWBRIDGE)
        try:
            docker(["swarm", "init", "--advertise-addr", "127.0.0.1"], timeout=TIMEOUT)
        except MllabError:
            if settled_state() != "active":  # not someone else's init racing this one
                raise
        else:
            STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
            note = {"created": time.time(), "by": __name__, "gwbridge_before": gwbridge_before}
            STATE_FILE.write_text(json.dumps(note))
            return True
        state = "active"
    if state != "active":
        raise MllabError(f"the engine's swarm is {state!r}: fix it (docker info) before deploying")
    if _info("ControlAvailable") != "true":
        raise MllabError(
            "this engine is a swarm worker: deploy from a manager node, or leave that swarm "
            "(docker swarm leave) so that the kit can make a one-node swarm of its own"
        )
    return created_by_kit()


def leave_swarm_if_created() -> bool:
    """Leave the swarm if the kit created it and no service runs in it any more; True if left.

    A swarm the user had stays; so does a kit swarm where someone else still runs services."""
    if not created_by_kit():
        return False
    if settled_state() != "active":
        STATE_FILE.unlink(missing_ok=True)  # someone left it already: nothing to undo
        return False
    if client().services.list():
        return False
    gwbridge_before = _note().get("gwbridge_before", True)  # unknown: keep it
    docker(["swarm", "leave", "--force"], timeout=60)
    if not gwbridge_before:  # gone already or in use by someone: rm fails, quietly
        docker(["network", "rm", GWBRIDGE], timeout=60, check=False)
    STATE_FILE.unlink(missing_ok=True)
    return True


def _note() -> dict[str, object]:
    """The kit's note on the swarm it made ({} when unreadable)."""
    try:
        note = json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}
    return note if isinstance(note, dict) else {}


def _has_network(name: str) -> bool:
    """Whether the engine has a network called ``name``."""
    return docker(["network", "inspect", name], timeout=TIMEOUT, check=False).returncode == 0


@contextmanager
def swarm_session() -> Iterator[bool]:
    """``with swarm_session() as created:`` a swarm for the block, left afterwards if the kit
    created it (also when the block fails)."""
    created = ensure_swarm()
    try:
        yield created
    finally:
        leave_swarm_if_created()
