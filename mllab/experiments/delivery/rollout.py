"""Lab 08: a rolling update and an automatic rollback on Docker Swarm, measured under load.

The stack ``mllab08`` (:mod:`mllab.experiments.delivery.swarm`) runs N replicas behind nginx;
locust (:func:`mllab.measure.load.run_load`) posts ``.npy`` predictions through nginx for a
fixed time while ``docker service update --image`` replaces the replicas. Every answer carries
``X-Model-Version``, recorded per request, so the timeline shows per second how many requests
each build answered and how many failed.

* :func:`rolling_update` 1.0 → 1.1: ``update_config`` is ``order: start-first`` (a new replica
  is healthy, its ``/ready`` passed, before an old one stops) and ``parallelism: 1``; an old
  replica drains on SIGTERM (``/ready`` 503, requests in flight finish) and nginx sends a request
  that meets a stopping replica (refused, 502, 503) to another one. Goal: 0 failed requests.
* :func:`failing_update` to a 1.2 that never becomes healthy: swarm's ``failure_action:
  rollback`` restores the previous spec. The kit's demo 1.2 (:func:`demo_versions`) is a build
  that asks for ``DEVICE=cuda`` from the slim image, whose ONNX Runtime is the CPU build (no
  CUDA provider, and the stack gives its tasks no GPU): the server refuses to start on any node
  (ONNX Runtime would silently fall back to CPU; the kit's session check refuses instead, exit
  2), so the new task fails before its health check ever passes. Thanks to start-first the old
  replicas never stop. Goal: 0 failed requests.

Both are recorded together, ``record("08", Rollouts(rolling, failing))``. Versions 1.0/1.1/1.2
for development and the lab come from :func:`demo_versions` (small images FROM the slim image
with ``ENV MODEL_VERSION``); the functions take any image references, e.g. the pipeline's
``127.0.0.1:5000/mllab/serve@sha256:…``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from mllab.containers.build import build
from mllab.containers.engine import client
from mllab.core.errors import InputError
from mllab.experiments.delivery.swarm import (
    Deployment,
    answered_version,
    deploy_down,
    deploy_up,
    deploy_update,
)
from mllab.measure.load import LoadResult, run_load
from mllab.serve.process import free_port
from mllab.serve.requests import load_request

if TYPE_CHECKING:  # annotations only: matplotlib is imported when the notebook plots
    from matplotlib.figure import Figure

T = TypeVar("T")
VERSION_HEADER = "X-Model-Version"
TAIL_S = 5.0  # load kept on after an update ends: what answers once it is over
#: demo builds: version -> extra ENV lines (1.2 asks for a GPU this node does not have)
DEMO_VERSIONS = {"1.0.0": {}, "1.1.0": {}, "1.2.0": {"DEVICE": "cuda"}}
DEMO_REPOSITORY = "mllab/serve-demo"
FAILING_HOW = (
    "1.2.0 is built with DEVICE=cuda on the slim image, whose ONNX Runtime has no CUDA "
    "provider: the server refuses to start (the kit's provider check, exit 2), so its health "
    "check never passes"
)


def demo_versions(
    base: str = "mllab/serve:slim",
    repository: str = DEMO_REPOSITORY,
    versions: Iterable[str] = tuple(DEMO_VERSIONS),
) -> dict[str, str]:
    """Small images FROM ``base``, by default all three: ``repository:1.0.0``, ``:1.1.0``
    (``ENV MODEL_VERSION`` only) and ``:1.2.0`` (also ``DEVICE=cuda``, see the module);
    version -> tag. ``versions`` builds only those. Cached: each is one ENV layer on ``base``."""
    unknown = sorted(set(versions) - set(DEMO_VERSIONS))
    if unknown:
        raise InputError(f"no demo version {unknown}; the demo versions are {list(DEMO_VERSIONS)}")
    tags = {}
    with tempfile.TemporaryDirectory(prefix="mllab-versions-") as folder:
        for version in versions:
            extra = DEMO_VERSIONS[version]
            env = " ".join(f"{k}={v}" for k, v in {"MODEL_VERSION": version, **extra}.items())
            dockerfile = Path(folder) / f"Dockerfile.{version}"
            dockerfile.write_text(f"FROM {base}\nENV {env}\n")
            tag = f"{repository}:{version}"
            build(dockerfile, tag, folder, on_log=None, labels={"org.mllab.demo": "lab08"})
            tags[version] = tag
    return tags


def image_version(image_ref: str) -> str | None:
    """The ``MODEL_VERSION`` an image sets (its ENV), or None when it is not here or sets none."""
    try:
        env = client().images.get(image_ref).attrs["Config"].get("Env") or []
    except Exception:  # noqa: BLE001 - not pulled yet, or no such image: unknown
        return None
    values = [e.split("=", 1)[1] for e in env if e.startswith("MODEL_VERSION=")]
    return values[-1] if values else None


@contextmanager
def stack_for(
    image_ref: str, deployment: Deployment | None, replicas: int, cpus: float
) -> Iterator[Deployment]:
    """``deployment`` as it is, or a fresh stack of ``image_ref`` removed afterwards (the swarm
    left if the kit made it), also when the experiment fails."""
    if deployment is not None:
        yield deployment
        return
    try:
        yield deploy_up(image_ref, replicas=replicas, port=free_port(), cpus=cpus)
    finally:
        deploy_down()


@dataclass
class UnderLoad:
    """A load run with an action in the middle of it."""

    load: LoadResult
    value: Any  # what the action returned
    action_start_s: float  # since the load generator was launched (locust's start-up included)
    action_s: float  # how long the action took
    #: wall clock (Unix s) of the load's own start: when it returned, less its duration (the
    #: locust process's exit is not counted out; a Prometheus timeline is aligned on it)
    load_start_unix: float = 0.0


def under_load(
    url: str,
    seconds: float,
    users: int,
    lead_s: float,
    action: Callable[[], T],
    tail_s: float | None = TAIL_S,
) -> UnderLoad:
    """Locust posts to ``url`` (recording ``X-Model-Version``); after ``lead_s`` the ``action``
    runs in this thread. The load ends ``tail_s`` after the action did (what answers once it is
    over is on the timeline too), or after ``seconds`` at most; ``tail_s`` None: always
    ``seconds``."""
    if seconds <= lead_s or lead_s < 0 or users < 1 or (tail_s is not None and tail_s < 0):
        raise InputError(
            f"need users >= 1, 0 <= lead_s < seconds and tail_s >= 0, not {lead_s}, {seconds}, "
            f"{tail_s}"
        )
    box: dict[str, Any] = {}
    folder = tempfile.TemporaryDirectory(prefix="mllab-under-load-")
    stop_file = Path(folder.name) / "stop"

    def load() -> None:
        try:
            result = run_load(
                url,
                load_request(),
                users,
                requests=10**7,
                max_seconds=seconds,
                header=VERSION_HEADER,
                stop_file=stop_file if tail_s is not None else None,
            )
            box["load_start_unix"] = time.time() - result.duration_s
            box["load"] = result
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = error

    thread = threading.Thread(target=load, name="mllab-load", daemon=True)
    launched = time.monotonic()
    thread.start()
    time.sleep(lead_s)
    started = time.monotonic()
    try:
        value = action()
    finally:
        ended = time.monotonic()
        if tail_s is not None:
            thread.join(timeout=tail_s)
            stop_file.touch()
        thread.join()
        folder.cleanup()
    if "error" in box:
        raise box["error"]
    loaded = box["load"]
    return UnderLoad(loaded, value, started - launched, ended - started, box["load_start_unix"])


def version_timeline(load: LoadResult) -> list[dict[str, Any]]:
    """Per second: ``t_s``, ``rps``, ``failures``, ``p99_ms`` and ``versions`` (answers per
    build)."""
    return [
        {
            "t_s": row["t_s"],
            "rps": row["rps"],
            "failures": int(row["failures"]),
            "p99_ms": row.get("p99_ms"),
            "versions": dict(row.get("by_header") or {}),
        }
        for row in load.timeline
    ]


@dataclass
class Rollout:
    """One update under load: what answered, per second, and how swarm ended it."""

    kind: str  # "rolling" or "failing"
    from_version: str | None
    to_version: str | None
    final_version: str | None  # what answers after the update (X-Model-Version)
    rolled_back: bool
    requests: int
    failures: int
    errors: dict[str, int]
    seconds: float  # the update, from `docker service update` until swarm ended it
    timeline: list[dict[str, Any]] = field(repr=False)
    update_state: str = ""  # completed, rollback_completed, paused, ...
    from_image: str = ""
    to_image: str = ""
    replicas: int = 0
    users: int = 0
    rps: float = 0.0
    update_start_s: float = 0.0  # on the timeline's clock (approx.: locust start-up ~1 s)
    covered: bool = True  # the load ran until after the update ended
    how: str = ""  # how the new version fails (failing updates)
    p99_ms: float | None = None  # the load's p99 over the whole run (answered requests)
    load_start_unix: float = 0.0  # the timeline's t_s 0 on the wall clock (UnderLoad)

    #: 2: ``p99_ms``, ``load_start_unix`` and the timeline's ``p99_ms`` (Prometheus beside it)
    SCHEMA_VERSION: ClassVar[int] = 2


@dataclass
class Rollouts:
    """Lab 08's record of its two updates under load, kept under one type name: the rolling
    update (goal: 0 failed requests, ``completed``) and the update to a build that fails its
    health check (goal: 0 failed requests, ``rollback_completed``)."""

    rolling: Rollout
    failing: Rollout

    #: 2: the rollouts' schema 2
    SCHEMA_VERSION: ClassVar[int] = 2

    def failed_requests(self) -> dict[str, int]:
        """What the clients lost in each update: ``{"rolling": n, "failing": m}``."""
        return {"rolling": self.rolling.failures, "failing": self.failing.failures}


def _update_under_load(
    kind: str,
    from_ref: str,
    to_ref: str,
    replicas: int,
    users: int,
    seconds: float,
    lead_s: float,
    cpus: float,
    deployment: Deployment | None,
    timeout: float,
) -> Rollout:
    with stack_for(from_ref, deployment, replicas, cpus) as stack:
        before = answered_version(stack.url)
        run = under_load(
            stack.url,
            seconds,
            users,
            lead_s,
            lambda: deploy_update(to_ref, timeout=timeout, check=False, url=stack.url),
        )
        update, load = run.value, run.load
        return Rollout(
            kind=kind,
            from_version=before,
            to_version=image_version(to_ref),
            final_version=update.version,
            rolled_back=update.state.startswith("rollback"),
            requests=load.requests,
            failures=load.failures,
            errors=dict(load.errors),
            seconds=update.seconds,
            timeline=version_timeline(load),
            update_state=update.state,
            from_image=from_ref,
            to_image=to_ref,
            replicas=stack.replicas,
            users=users,
            rps=load.rps,
            update_start_s=run.action_start_s,
            covered=run.action_start_s + run.action_s <= load.duration_s + 2.0,
            p99_ms=load.p99_ms,
            load_start_unix=run.load_start_unix,
        )


def rolling_update(
    from_ref: str,
    to_ref: str,
    replicas: int = 2,
    users: int = 4,
    seconds: float = 75.0,
    lead_s: float = 5.0,
    cpus: float = 1.0,
    deployment: Deployment | None = None,
    timeout: float = 240.0,
) -> Rollout:
    """``from_ref`` deployed (or ``deployment`` as it is), then updated to ``to_ref`` while
    ``users`` locust users post predictions; the stack is removed afterwards unless it was
    given. The load ends a few seconds (``TAIL_S``) after the update, or after ``seconds`` at
    most, which should outlast the update (``covered`` says if it did)."""
    return _update_under_load(
        "rolling", from_ref, to_ref, replicas, users, seconds, lead_s, cpus, deployment, timeout
    )


def failing_update(
    bad_ref: str,
    from_ref: str,
    replicas: int = 2,
    users: int = 4,
    seconds: float = 45.0,
    lead_s: float = 5.0,
    cpus: float = 1.0,
    deployment: Deployment | None = None,
    timeout: float = 240.0,
    how: str | None = None,
) -> Rollout:
    """An update to ``bad_ref``, a build that fails its health check, under load: swarm rolls
    it back (``failure_action: rollback``). ``rolled_back`` and ``final_version`` say whether
    the old version still answers; ``failures`` counts what the clients lost. ``how`` says how
    ``bad_ref`` fails (default: the demo 1.2's way, see the module)."""
    rollout = _update_under_load(
        "failing", from_ref, bad_ref, replicas, users, seconds, lead_s, cpus, deployment, timeout
    )
    # a bad_ref that turned out healthy is not hidden: rolled_back False, state "completed"
    rollout.how = how or FAILING_HOW
    return rollout


def short_version(version: str | None) -> str:
    """``1.0.0-build.55+g740021b385ff.ma9a82de44ebb`` without its build metadata (after ``+``:
    the commit and the model's hash), short enough for a legend or a table; ``?`` for None."""
    return version.split("+", 1)[0] if version else "?"


def plot_rollout(rollout: Rollout) -> Figure:
    """Requests per second answered by each version (stacked) and the failures, against time;
    a dashed line where the update began."""
    import matplotlib.pyplot as plt  # deferred: start-up time; only the notebook plots

    rows = rollout.timeline
    t = [row["t_s"] for row in rows]
    versions = sorted({v for row in rows for v in row["versions"]})
    fig, ax = plt.subplots(figsize=(10, 3.6))
    widths = [b - a for a, b in zip([0.0, *t[:-1]], t, strict=True)]
    bottom = [0.0] * len(rows)
    for i, version in enumerate(versions):
        values = [row["versions"].get(version, 0) / w for row, w in zip(rows, widths, strict=True)]
        label = short_version(version)
        ax.bar(t, values, width=-0.9, align="edge", bottom=bottom, color=f"C{i}", label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    fails = [row["failures"] for row in rows]
    ax.plot(t, fails, "x-", color="red", label=f"failed ({rollout.failures} in all)")
    ax.axvline(rollout.update_start_s, ls="--", color="grey", label="update starts (approx.)")
    versions_text = f"{short_version(rollout.from_version)} → {short_version(rollout.to_version)}"
    title = f"{rollout.kind} update {versions_text}"
    ax.set(xlabel="time, s", ylabel="answers/s", title=f"{title}: {rollout.update_state}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
