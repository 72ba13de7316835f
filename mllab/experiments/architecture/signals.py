"""Lab 03, PID 1 and signals: how long ``docker stop`` takes for each way of starting the server.

``docker stop`` sends SIGTERM to the container's PID 1, waits ``-t`` seconds (10 by default)
and then sends SIGKILL. Whether the server hears the SIGTERM depends on what PID 1 is
(:mod:`mllab.experiments.architecture.entrypoints` builds the forms):

* exec form (``CMD ["python", ...]``, ``ENTRYPOINT [...]``): PID 1 is the server, whose SIGTERM
  handler (``mllab.serve.app.DrainingServer``) drains the requests in flight and exits;
* shell form (``CMD python ...``): PID 1 is ``/bin/sh -c``, the server its child. The kernel
  delivers to a namespace's PID 1 only the signals it has a handler for, the shell has none for
  SIGTERM and does not pass it on: nothing happens until the SIGKILL;
* the shell form under ``docker run --init``: PID 1 is docker-init (tini), which passes the
  SIGTERM to its child, the shell.

Measured for each (:func:`stop_times`): PID 1's and the server's argv (``/proc``), the seconds
``docker stop`` took, the exit code (143 = 128 + SIGTERM, 137 = 128 + SIGKILL, 0 = the server
ended on its own), whether the server logged the SIGTERM and finished its graceful shutdown.
The slow stops run at once (threads), so the section costs one stop timeout, not one per form.
:func:`stop_summary` words the result, with the stop timeout as the line between "stopped on
SIGTERM" and "waited for the SIGKILL". :func:`stop_seconds` measures any Dockerfile the same
way (the exercise: fix a shell-form CMD that makes ``docker stop`` take 10 s).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar

from mllab.containers.build import build_slim, remove_image
from mllab.containers.docker_cli import docker
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.core.tables import hanging
from mllab.experiments.architecture.entrypoints import (
    FORMS,
    OVERRIDES,
    PREFIX,
    Case,
    EntrypointRun,
    attrs,
    build_text,
    container_name,
    form_images,
    logs,
    processes,
    remove,
    run_overrides,
    server_process,
    shown,
    start,
    wait_ready,
)

#: ``docker stop``'s own default ``-t``
DEFAULT_STOP_TIMEOUT = 10
#: what the server logs when it receives the signal, and once its graceful shutdown ended
SIGTERM_LINE = "SIGTERM: draining"
DRAINED_LINE = "Finished server process"
#: the runs that are stopped: each form with the image's defaults, and the shell form + --init
STOP_RUNS = (
    Case("CMD exec form", "cmd-exec"),
    Case("CMD shell form", "cmd-shell"),
    Case("ENTRYPOINT exec form + CMD", "entrypoint-exec"),
    Case("ENTRYPOINT shell form", "entrypoint-shell"),
    Case("CMD shell form + --init", "cmd-shell", ("--init",)),
)


@dataclass
class StopTime:
    """One ``docker stop -t stop_timeout`` of a server container.

    ``seconds``: how long ``docker stop`` took; ``exit_code``: the container's after it;
    ``got_sigterm``: the server logged the SIGTERM; ``drained``: it finished its graceful
    shutdown. ``pid1``/``server_argv``: the argv of PID 1 and of the server's process."""

    form: str
    command: str
    instructions: str
    stop_timeout: int
    outcome: Outcome
    pid1: list[str] = field(default_factory=list)
    server_argv: list[str] = field(default_factory=list)
    seconds: float | None = None
    exit_code: int | None = None
    got_sigterm: bool | None = None
    drained: bool | None = None

    SCHEMA_VERSION: ClassVar[int] = 1


@dataclass
class StopTimes:
    """The section's record: every form's stop and every ``docker run`` override's argv."""

    base: str
    stop_timeout: int
    stops: list[StopTime]
    entrypoints: list[EntrypointRun]
    seconds: float  # the section's wall time

    SCHEMA_VERSION: ClassVar[int] = 1


# --- pure: the line, the rows, the sentence --------------------------------------------------


def waited_for_kill(stop: StopTime) -> bool | None:
    """True when ``docker stop`` ran its whole timeout (so it ended with the SIGKILL), False
    when the container ended before, None when not measured. The timeout is the line: a stop
    cannot end later without the SIGKILL, nor that early with it."""
    if not stop.outcome.ok or stop.seconds is None:
        return None
    return stop.seconds >= stop.stop_timeout


def stop_rows(record: StopTimes | Sequence[StopTime]) -> list[dict[str, object]]:
    """One row per stopped run: PID 1, the server's argv, seconds, exit code, what happened."""
    stops = record.stops if isinstance(record, StopTimes) else record
    rows: list[dict[str, object]] = []
    for stop in stops:
        killed = waited_for_kill(stop)
        rows.append(
            {
                "form": stop.form,
                "outcome": stop.outcome,
                "PID 1": shown(stop.pid1),
                "server argv": shown(stop.server_argv),
                "docker stop s": None if stop.seconds is None else round(stop.seconds, 2),
                "exit code": stop.exit_code,
                "ended by": {None: "", True: "SIGKILL after -t", False: "SIGTERM"}[killed],
                "server got SIGTERM": stop.got_sigterm,
                "drained": stop.drained,
            }
        )
    return rows


def entrypoint_rows(record: StopTimes | Sequence[EntrypointRun]) -> list[dict[str, object]]:
    """One row per ``docker run``: the command, the image's and the container's ENTRYPOINT and
    CMD, PID 1 and the server's argv (``record``: a :class:`StopTimes` or its runs)."""
    runs = record.entrypoints if isinstance(record, StopTimes) else record
    return [
        {
            "override": run.label,
            "docker run": run.command.removeprefix("docker run "),  # the header says it once
            "outcome": run.outcome,
            "image ENTRYPOINT + CMD": f"{json.dumps(run.image_entrypoint)} + "
            f"{json.dumps(run.image_cmd)}",
            "container ENTRYPOINT + CMD": f"{json.dumps(run.entrypoint)} + {json.dumps(run.cmd)}",
            "PID 1": shown(run.pid1),
            "server argv": shown(run.server_argv),
        }
        for run in runs
    ]


def _range(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.1f} s" if round(low, 1) == round(high, 1) else f"{low:.1f}–{high:.1f} s"


def _clause(stops: Sequence[StopTime]) -> str:
    """One sentence for stops that ended alike (same line side, same drain, same SIGTERM)."""
    first = stops[0]
    forms = " and ".join(s.form for s in stops)
    seconds = _range([s.seconds for s in stops if s.seconds is not None])
    codes = "/".join(sorted({str(s.exit_code) for s in stops}))
    pid1 = " / ".join(sorted({shown(s.pid1[:1]) for s in stops}))
    if waited_for_kill(first):
        verb = "ran the whole timeout"
        what = (
            "the server got the SIGTERM but had not finished by then; the SIGKILL ended it"
            if first.got_sigterm
            else "the server never logged a SIGTERM; the SIGKILL ended it"
        )
    else:
        verb = "stopped before it"
        if first.drained:
            what = "the server got the SIGTERM and drained"
        elif first.got_sigterm:
            what = "the server got the SIGTERM but its graceful shutdown did not finish"
        else:
            what = "the server never logged a SIGTERM and ended with its container, not drained"
    return f"{forms} {verb} ({seconds}, exit {codes}; PID 1: {pid1}): {what}."


def _kind(stop: StopTime) -> tuple[bool | None, bool | None, bool | None]:
    return waited_for_kill(stop), stop.drained, stop.got_sigterm


def stop_summary(record: StopTimes | Sequence[StopTime]) -> str:
    """The section's sentence, computed from the stops: which forms ended before the stop
    timeout (SIGTERM reached the server) and which ran the whole timeout (SIGKILL)."""
    stops = record.stops if isinstance(record, StopTimes) else list(record)
    measured = [s for s in stops if waited_for_kill(s) is not None]
    if not measured:
        return "docker stop was not measured here: " + "; ".join(
            f"{s.form}: {s.outcome}" for s in stops
        )
    timeout = measured[0].stop_timeout
    kinds = list(dict.fromkeys(_kind(s) for s in measured))  # in the order of the runs
    clauses = [_clause([s for s in measured if _kind(s) == kind]) for kind in kinds]
    missing = [f"{s.form} ({s.outcome})" for s in stops if s not in measured]
    tail = [f"Not measured: {', '.join(missing)}."] if missing else []
    line = f"docker stop -t {timeout} (SIGTERM, then SIGKILL after {timeout} s; the line):"
    # one clause a line, wrapped at the tables' width: a 500-character sentence is a wall
    return "\n".join([line, *(hanging("- ", clause) for clause in [*clauses, *tail])])


# --- measuring -------------------------------------------------------------------------------


def _stop(name: str, timeout: int) -> float:
    """``docker stop -t timeout name``; the seconds it took."""
    began = time.perf_counter()
    docker(["stop", "-t", str(timeout), name], timeout=timeout + 60.0)
    return time.perf_counter() - began


def _measure(
    runs: Sequence[tuple[Case, str, str]], timeout: int, ready_timeout: float, threads: int
) -> list[StopTime]:
    """Start every run (case, image, container name), wait until each server listens, read its
    processes, then stop them all at once; one :class:`StopTime` each. The caller removes."""
    stops: dict[str, StopTime] = {}
    for case, image, name in runs:
        instructions = FORMS.get(case.form, "")
        stops[name] = StopTime(case.label, case.command(), instructions, timeout, Outcome.ran())
        try:
            start(name, image, case.options, case.args, threads)
        except MllabError as error:
            stops[name].outcome = Outcome.failed(error)
    for name, stop in stops.items():
        if stop.outcome.ok:
            try:
                wait_ready(name, ready_timeout)
                table = processes(name)
            except MllabError as error:
                stop.outcome = Outcome.failed(error)
                continue
            server = server_process(table)
            stop.pid1, stop.server_argv = table.get(1, []), server[1] if server else []
    ready = [name for name, stop in stops.items() if stop.outcome.ok]
    with ThreadPoolExecutor(max_workers=max(1, len(ready))) as pool:
        seconds = dict(zip(ready, pool.map(lambda n: _stop(n, timeout), ready), strict=True))
    for name in ready:
        stop, log = stops[name], logs(name)
        stop.seconds, stop.exit_code = seconds[name], int(attrs(name)["State"]["ExitCode"])
        stop.got_sigterm, stop.drained = SIGTERM_LINE in log, DRAINED_LINE in log
    return list(stops.values())


def stop_times(
    base: str | None = None,
    timeout: int = DEFAULT_STOP_TIMEOUT,
    ready_timeout: float = 90.0,
    threads: int = 1,
    overrides: Sequence[Case] = OVERRIDES,
) -> StopTimes:
    """Build the forms FROM ``base`` (default: the slim image), run :data:`STOP_RUNS` and
    ``overrides`` (``()``: none), stop the runs at once with ``docker stop -t timeout``.

    About one stop timeout plus the servers' start (~20 s here at the defaults); every image and
    container made is removed at the end, also when a step fails."""
    began = time.perf_counter()
    base = base or build_slim(on_log=None)
    names = [container_name(f"stop-{i}") for i in range(len(STOP_RUNS))]
    with form_images(base) as tags:  # the images go last, once no container uses them
        try:
            entrypoints = run_overrides(tags, overrides, threads)
            runs = [(c, tags[c.form], n) for c, n in zip(STOP_RUNS, names, strict=True)]
            stops = _measure(runs, timeout, ready_timeout, threads)
        finally:
            remove(names)
    return StopTimes(base, timeout, stops, entrypoints, time.perf_counter() - began)


def stop_seconds(
    dockerfile_text: str,
    base: str | None = None,
    timeout: int = DEFAULT_STOP_TIMEOUT,
    ready_timeout: float = 60.0,
    threads: int = 1,
    options: Sequence[str] = (),
) -> StopTime:
    """Build ``dockerfile_text`` FROM the slim image (it starts ``ARG BASE_IMAGE`` / ``FROM
    ${BASE_IMAGE}``, the ARG is added when missing; ``inference.py`` is in the context), run it
    (``options`` before the image) and time ``docker stop -t timeout``.

    A build that fails or a server that never listens gives a failed outcome, not an error.
    At most about build + start + ``timeout`` s (~15 s here at the defaults)."""
    base = base or build_slim(on_log=None)
    tag, name = f"{PREFIX}exercise:{os.getpid()}", container_name("exercise")
    case = Case("your Dockerfile", "IMAGE", tuple(options))
    try:
        build_text(dockerfile_text, tag, base)
    except MllabError as error:
        stop = StopTime(case.label, case.command(), dockerfile_text, timeout, Outcome.failed(error))
        remove_image(tag)
        return stop
    try:
        (stop,) = _measure([(case, tag, name)], timeout, ready_timeout, threads)
    finally:
        remove([name])
        remove_image(tag)
    stop.instructions = dockerfile_text
    return stop
