"""Lab 03's measured exercise ``ex03_stop``: ``dockerfile_for(base, argv)``.

The answer is a Dockerfile text; it is judged by what the engine does with it, never by its
words: the text is built FROM the slim server image, the container started, and ``docker stop``
timed (:func:`mllab.experiments.architecture.signals.stop_seconds`). It passes when the server
itself received the SIGTERM and stopped before the stop timeout (no SIGKILL), and when PID 1
is the program the ``argv`` names (the exec form, its JSON quoting intact). The hidden cases
build it with other commands: a module flag, a program that execs the server (``env``), and an
argument with spaces and quotes that a hand-made JSON list breaks (Docker then falls back to
the shell form).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np

from mllab.containers.build import build_slim
from mllab.containers.kinds import kind
from mllab.exercises.check import Check, self_check, show
from mllab.exercises.hidden_run import Case, Group, Spec
from mllab.experiments.architecture.signals import StopTime, stop_seconds, waited_for_kill

SECTION_STOP = (
    "«CMD и ENTRYPOINT: интерфейс инференса» (the exec form runs the program itself as PID 1; "
    "the shell form runs /bin/sh -c, which does not pass docker stop's SIGTERM on)"
)
#: the server's command as the slim image runs it
SERVER_ARGV = ["python", "-m", "mllab.serve.app"]
#: seconds docker stop waits before its SIGKILL, in the checks (a right answer needs < 1 s)
CHECK_STOP_TIMEOUT = 5
#: the server's start in a fresh container, at most (it takes 1-3 s here)
READY_TIMEOUT_S = 30.0


def reference_dockerfile_for(base: str, argv: Sequence[str]) -> str:
    """The kit's answer to ``ex03_stop``: ``FROM base`` and ``CMD`` in the exec form, the list
    written by a JSON encoder (quotes and backslashes escaped)."""
    return f"FROM {base}\nCMD {json.dumps(list(argv))}\n"


def stop_problem(answer: Any, base: str) -> str | None:
    """What is wrong with a Dockerfile text (None if nothing), measured: built FROM ``base``
    (the slim image, built first if it is not there), run, stopped with ``docker stop -t
    CHECK_STOP_TIMEOUT``. Right: the server got the SIGTERM and stopped before the timeout. A
    broken JSON list makes Docker run the shell form, or nothing: both fail here."""
    if not isinstance(answer, str) or "FROM" not in answer.upper():
        return f"expected the text of a Dockerfile (FROM …), got {show(answer)}"
    _slim_built()
    stop = stop_seconds(
        answer, base=base, timeout=CHECK_STOP_TIMEOUT, ready_timeout=READY_TIMEOUT_S
    )
    return _stop_problem(stop)


def _stop_problem(stop: StopTime) -> str | None:
    if not stop.outcome.ok:
        return f"the image did not run the server: {stop.outcome}"
    pid1 = " ".join(stop.pid1) or "unknown"
    if waited_for_kill(stop):
        return (
            f"docker stop waited its whole {stop.stop_timeout} s for the SIGKILL (exit "
            f"{stop.exit_code}): PID 1 was `{pid1}`, which did not pass the SIGTERM on"
        )
    if not stop.got_sigterm:
        return (
            f"the container stopped (exit {stop.exit_code}) but the server never got the "
            f"SIGTERM: PID 1 was `{pid1}`"
        )
    return None


def check_stop(dockerfile_for: Callable[[str, list[str]], Any], base: str) -> Check:
    """``ex03_stop``: the student's Dockerfile for the server's command, FROM ``base`` (the slim
    image), built, run and stopped. ``value``: the Dockerfile text (the kit's if not right)."""
    argv = list(SERVER_ARGV)
    return self_check(
        "ex03_stop",
        dockerfile_for,
        (base, argv),
        reference=lambda: reference_dockerfile_for(base, argv),
        compare=lambda answer, _: stop_problem(answer, base),
        section=SECTION_STOP,
        passed="the server got docker stop's SIGTERM and stopped before the timeout",
    )


@cache
def _slim_built() -> str:
    """The slim image, built once per process (the hidden cases judge several answers)."""
    return build_slim(on_log=None)


def _commands(rng: np.random.Generator) -> dict[str, list[list[str]]]:
    note = f'server {int(rng.integers(1, 99))} "{rng.choice(["a b", "x  y", "q"])}"'
    return {
        "exec": [["python", "-u", "-m", "mllab.serve.app"]],
        "wrapper": [["env", f"PYTHONHASHSEED={int(rng.integers(1, 1000))}", *SERVER_ARGV]],
        "quotes": [["sh", "-c", f"exec python -m mllab.serve.app  # {note}"]],
    }


def hidden_stop_groups(rng: np.random.Generator) -> list[Group]:
    """``ex03_stop``' hidden cases: other commands, each built and stopped (a few s each)."""
    base = kind("slim").tag  # built when a case is judged, not when the cases are drawn
    commands = _commands(rng)

    def case(argv: list[str]) -> Case:
        return Case(f"argv {show(argv)}", (base, argv), argv)

    def compare_for(answer: Any, _argv: list[str]) -> str | None:
        return stop_problem(answer, base)

    return [
        Group(
            "the program is PID 1 and gets the SIGTERM",
            0.4,
            [case(a) for a in commands["exec"]],
            compare_for,
        ),
        Group(
            "a program that execs the server keeps the signal path",
            0.3,
            [case(a) for a in commands["wrapper"]],
            compare_for,
        ),
        Group(
            "arguments with spaces and quotes stay one argument each",
            0.3,
            [case(a) for a in commands["quotes"]],
            compare_for,
        ),
    ]


def spec() -> Spec:
    """``ex03_stop`` as :data:`mllab.exercises.hidden_cases.SPECS` holds it."""
    return Spec(
        "ex03_stop", "dockerfile_for", SECTION_STOP, (reference_dockerfile_for,), hidden_stop_groups
    )
