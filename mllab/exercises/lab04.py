"""Lab 04's exercises: the layer order that keeps ``pip install`` cached, and the interface of
the slim image's runtime stage. Both are checked statically, from the instructions; no build.

* ``ex04_order`` — ``cache_friendly_order(steps)``: the lecture's example Dockerfile, given in a
  naive order, reordered so that a new model (or new server code) reuses the ``pip install``
  layer, and a new model rebuilds nothing but its own layer and what follows.
* ``ex04_interface`` — ``interface_part()``: the end of the runtime stage as Dockerfile text: a
  non-root ``USER``, ``EXPOSE``, a ``HEALTHCHECK`` and an exec-form ``CMD`` starting the server.
  The kit's reference is the same part of ``docker/Dockerfile``.

The hidden cases (``hidden_*_groups``, graded by :mod:`mllab.exercises.hidden`): the order on
the lecture's steps handed in other orders and on the same Dockerfile written otherwise; the
interface's four points one group each, on the text only (the image built from it is measured
by the lab's build cells, not here: no image is built in a hidden test).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mllab.containers.dockerfiles import instructions
from mllab.core.paths import DOCKER
from mllab.exercises.check import Check, self_check
from mllab.exercises.hidden_run import Case, Group
from mllab.serve.config import DEFAULT_PORT

SECTION_CACHE = (
    "«Слои образа и кэширование» (a changed layer rebuilds every layer after it) and "
    "«Модель как часть образа» (COPY model.onnx: the model is a layer)"
)
SECTION_INTERFACE = (
    "«Инженерные соображения при создании Dockerfile» (Безопасность: not as root), "
    "«CMD и ENTRYPOINT: интерфейс инференса» (exec form)"
)

#: the lecture's example Dockerfile (section «Слои образа и кэширование»), in a naive order
NAIVE_STEPS = (
    "FROM python:3.11-slim",
    "WORKDIR /app",
    "COPY model.onnx .",
    "COPY inference.py .",
    "COPY requirements.txt .",
    "RUN pip install --no-cache-dir -r requirements.txt",
    'CMD ["python", "inference.py"]',
)
REFERENCE_ORDER = (0, 1, 4, 5, 3, 2, 6)  # FROM, WORKDIR, requirements, pip, code, model, CMD
#: the lecture's own order (lines 293–297): the model before the code, both after pip install
LECTURE_ORDER = (0, 1, 4, 5, 2, 3, 6)
#: the first instruction of the interface part in docker/Dockerfile
INTERFACE_START = "USER "


def copied_sources(step: str) -> list[str]:
    """The build-context paths a ``COPY``/``ADD`` reads ([] for other steps and ``--from``)."""
    words = step.split()
    if not words or words[0].upper() not in ("COPY", "ADD"):
        return []
    args = words[1:]
    if any(arg.startswith("--from") for arg in args):
        return []  # reads another stage, not the context
    sources = [arg for arg in args if not arg.startswith("--")][:-1]
    return [source.rstrip("/") or "." for source in sources]


def _reads(step: str, changed: str) -> bool:
    return any(
        source in (".", "./", changed) or changed.startswith(source + "/")
        for source in copied_sources(step)
    )


def rebuilt_steps(steps: Sequence[str], changed: str) -> list[bool]:
    """Docker's cache rule, statically: the first step that copies ``changed`` (or the whole
    context) is rebuilt, and so is every step after it. One bool per step."""
    rebuilt, flags = False, []
    for step in steps:
        rebuilt = rebuilt or _reads(step, changed)
        flags.append(rebuilt)
    return flags


def pip_cached(steps: Sequence[str], changed: str) -> bool:
    """True when the ``pip install`` step is reused after ``changed`` changes."""
    flags = rebuilt_steps(steps, changed)
    pip = [flag for step, flag in zip(steps, flags, strict=True) if is_pip_step(step)]
    return bool(pip) and not any(pip)


def is_pip_step(step: str) -> bool:
    """A ``RUN`` that installs with pip (``pip install`` or ``.../pip --python ... install``)."""
    words = step.split()
    return (
        bool(words)
        and words[0] == "RUN"
        and "install" in words
        and any(word == "pip" or word.endswith("/pip") for word in words)
    )


def order_problem(order: object, given: Sequence[str] = NAIVE_STEPS) -> str | None:
    """What is wrong with an order of the ``given`` steps (None if it keeps pip cached): each
    step once, FROM first and CMD last, WORKDIR before the COPYs, the file pip reads copied
    before the ``RUN pip install``, and every other copied file after it."""
    if not isinstance(order, list | tuple) or not all(isinstance(s, str) for s in order):
        return "expected a list of the instruction strings, reordered"
    steps = [" ".join(s.split()) for s in order]
    if sorted(steps) != sorted(" ".join(s.split()) for s in given):
        return "use each given instruction exactly once, unchanged (only the order changes)"
    if not steps[0].startswith("FROM") or not steps[-1].startswith("CMD"):
        return "FROM comes first and CMD last"
    copies = {source: i for i, step in enumerate(steps) for source in copied_sources(step)}
    pip = next(i for i, step in enumerate(steps) if is_pip_step(step))
    needed = [source for source in copies if source in steps[pip].split()]  # -r requirements
    late = [source for source in needed if copies[source] > pip]
    if late:
        return f"pip install needs {late[0]}: COPY it before the RUN"
    workdir = [i for i, step in enumerate(steps) if step.startswith("WORKDIR")]
    if workdir and copies and workdir[0] > min(copies.values()):
        return "the COPYs go to '.', the WORKDIR: set WORKDIR before them"
    for changed in sorted(set(copies) - set(needed), key=copies.__getitem__):
        if not pip_cached(steps, changed):
            return f"a new {changed} reruns pip install: copy it after the RUN pip install"
    return None  # model before code (the lecture's) or after (the kit's): a trade-off, not a rule


def order_tradeoff(orders: dict[str, Sequence[str] | Path]) -> list[dict[str, object]]:
    """Per order (a list of steps or a Dockerfile): how many steps rebuild when the model
    changes and when the code changes. The lecture copies the model before the code, the kit
    after it: which rebuilds less depends on which of the two changes more often."""
    rows: list[dict[str, object]] = []
    for name, order in orders.items():
        steps = instructions(order) if isinstance(order, Path) else list(order)
        code = "inference.py" if any("inference.py" in s for s in steps) else "mllab"
        rows.append(
            {
                "order": name,
                "model changes": sum(rebuilt_steps(steps, "model.onnx")),
                "code changes": sum(rebuilt_steps(steps, code)),
                "steps": len(steps),
            }
        )
    return rows


def reference_order() -> list[str]:
    """The kit's order of the exercise's steps (code before model, as docker/Dockerfile)."""
    return [NAIVE_STEPS[i] for i in REFERENCE_ORDER]


def lecture_order() -> list[str]:
    """The lecture's own order of the exercise's steps (model before code)."""
    return [NAIVE_STEPS[i] for i in LECTURE_ORDER]


def check_order(cache_friendly_order: Callable[[list[str]], list[str]]) -> Check:
    """``ex04_order``: the student's order of :data:`NAIVE_STEPS`. ``value``: the order to use."""
    return self_check(
        "ex04_order",
        cache_friendly_order,
        (list(NAIVE_STEPS),),
        reference=reference_order,
        compare=lambda answer, _reference: order_problem(answer),
        section=SECTION_CACHE,
        passed="a new model or new code reuses the pip install layer",
    )


def rebuild_table(dockerfile_or_steps: Path | Sequence[str], changed: str) -> list[dict]:
    """Rows ``{"step", "when <changed> changes"}``: cached or rebuilt, for a table."""
    steps = (
        instructions(dockerfile_or_steps)
        if isinstance(dockerfile_or_steps, Path)
        else list(dockerfile_or_steps)
    )
    flags = rebuilt_steps(steps, changed)
    key = f"when {changed} changes"
    return [
        {"step": step[:70], key: "rebuilt" if flag else "cached"}
        for step, flag in zip(steps, flags, strict=True)
    ]


def reference_interface(dockerfile: Path = DOCKER / "Dockerfile") -> str:
    """The kit's interface part: docker/Dockerfile's lines from its last ``USER`` on, as written
    there (line breaks kept, comments left out)."""
    lines = Path(dockerfile).read_text().splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith(INTERFACE_START))
    return "\n".join(line for line in lines[start:] if not line.lstrip().startswith("#")) + "\n"


def interface_problem(text: object) -> str | None:
    """What is wrong with an interface part (None if the lecture's four points hold)."""
    if not isinstance(text, str):
        return "expected the Dockerfile text as a string"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Dockerfile.interface"
        path.write_text(text)
        steps = instructions(path)
    keyword = {step.split()[0].upper(): step for step in steps}
    user = keyword.get("USER", "").split()[1:2]
    if not user:
        return "no USER: the server would run as root"
    if user[0].split(":")[0] in ("root", "0"):
        return f"USER {user[0]} is root: use the unprivileged uid 10001"
    if "EXPOSE" not in keyword:
        return "no EXPOSE: say which port the server listens on (8080)"
    health = keyword.get("HEALTHCHECK", "")
    if not health or health.split()[1:2] == ["NONE"]:
        return "no HEALTHCHECK: Docker cannot tell a ready server from a hung one (probe /ready)"
    if "CMD" not in keyword:
        return "no CMD: the image does not start the server"
    try:
        command = json.loads(keyword["CMD"].split(None, 1)[1])
    except (json.JSONDecodeError, IndexError):
        command = None
    if not isinstance(command, list):
        return "CMD in shell form: sh becomes PID 1 and docker stop's SIGTERM misses the server"
    if "mllab.serve.app" not in command:
        return 'CMD must start the server: ["python", "-m", "mllab.serve.app"]'
    if steps[-1].split()[0].upper() != "CMD" or steps[0].split()[0].upper() != "USER":
        return "USER comes first (everything after runs unprivileged) and CMD last"
    return None


def check_interface(interface_part: Callable[[], str], out: str | Path) -> Check:
    """``ex04_interface``: check the student's text, then write it (if right) or the kit's part
    to ``out`` (the lab's ``Dockerfile.interface``). ``value``: the path written."""
    checked = self_check(
        "ex04_interface",
        interface_part,
        reference=reference_interface,
        compare=lambda answer, _reference: interface_problem(answer),
        section=SECTION_INTERFACE,
        passed="non-root USER, EXPOSE, HEALTHCHECK, exec-form CMD",
    )
    out = Path(out)
    out.write_text(checked.value)
    return replace(checked, value=out)


# --- the hidden cases (drawn by the grader's seed; see mllab.exercises.hidden) ----------------


def _order_compare(answer: object, given: Sequence[str]) -> str | None:
    return order_problem(answer, given)


def _shuffled(rng: Any, steps: Sequence[str]) -> list[str]:
    """``steps`` in another order than the one given (never the naive order itself)."""
    while True:
        order = [steps[int(i)] for i in rng.permutation(len(steps))]
        if order != list(steps):
            return order


def _rewritten(rng: Any) -> list[str]:
    """The lecture's Dockerfile written otherwise: another base, folder, destination, flags."""
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    dest = pick([".", "./"])
    port = int(rng.integers(8000, 9000))
    return [
        f"FROM {pick(['python:3.12-slim', 'python:3.10-slim-bookworm', 'python:3.11-slim'])}",
        f"WORKDIR {pick(['/srv/model', '/opt/app', '/app'])}",
        f"COPY model.onnx {dest}",
        f"COPY inference.py {dest}",
        f"COPY requirements.txt {dest}",
        f"RUN pip install {pick(['', '--no-cache-dir ', '--require-hashes '])}-r requirements.txt",
        f'CMD ["python", "inference.py", "--port", "{port}"]',
    ]


def hidden_order_groups(rng: Any) -> list[Group]:
    """``ex04_order``'s hidden cases: the lecture's steps handed in other orders, and the same
    Dockerfile written otherwise (an answer that returns fixed indices or fixed text fails)."""

    def case(label: str, given: list[str]) -> Case:
        return Case(label, (given,), given)

    return [
        Group(
            "the lecture's steps handed in other orders",
            0.5,
            [case(f"the steps in the order {s}", _shuffled(rng, NAIVE_STEPS)) for s in "abc"],
            _order_compare,
        ),
        Group(
            "the same Dockerfile written otherwise (another base, folder, flags, port)",
            0.5,
            [case(f"another writing of it ({s})", _shuffled(rng, _rewritten(rng))) for s in "ab"],
            _order_compare,
        ),
    ]


#: tools a slim Debian base does not have: a HEALTHCHECK calling them fails in the container
MISSING_TOOLS = ("curl", "wget", "nc", "netcat")


def _the_user(dockerfile: Path = DOCKER / "Dockerfile") -> str:
    """The user the kit's runtime stage creates (``useradd ... NAME``)."""
    for step in instructions(dockerfile):
        if step.startswith("RUN useradd"):
            return step.split()[-1]
    return ""


def _interface_steps(text: object) -> dict[str, list[str]]:
    """The interface part's instructions by keyword (every one of each, in order)."""
    if not isinstance(text, str):
        raise TypeError("expected the Dockerfile text as a string")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Dockerfile.interface"
        path.write_text(text)
        steps = instructions(path)
    found: dict[str, list[str]] = {}
    for step in steps:
        keyword, _, rest = step.partition(" ")
        found.setdefault(keyword.upper(), []).append(rest)
    return found


def _exec_form(rest: str) -> list[str] | None:
    try:
        command = json.loads(rest)
    except json.JSONDecodeError:
        return None
    return command if isinstance(command, list) and command else None


def _user_problem(steps: dict[str, list[str]], expected: dict[str, Any]) -> str | None:
    users = steps.get("USER", [])
    if not users:
        return "no USER: the server would run as root"
    user = users[-1].split()[0].split(":")[0] if users[-1].split() else ""
    if user in ("root", "0") or (user.isdigit() and int(user) == 0):
        return f"USER {user} is root"
    if not user.isdigit() and user != expected["user"]:
        return (
            f"USER {user}: no such user in the slim image (the runtime stage creates "
            f"{expected['user']!r}, uid 10001): use the uid, or that name"
        )
    return None


def _port_problem(steps: dict[str, list[str]], expected: dict[str, Any]) -> str | None:
    ports = [p.split("/")[0] for rest in steps.get("EXPOSE", []) for p in rest.split()]
    if str(expected["port"]) not in ports:
        return f"EXPOSE {' '.join(ports) or '(none)'}: the server listens on {expected['port']}"
    return None


def _health_problem(steps: dict[str, list[str]], expected: dict[str, Any]) -> str | None:
    checks = steps.get("HEALTHCHECK", [])
    if not checks or checks[-1].split()[:1] == ["NONE"]:
        return "no HEALTHCHECK: Docker cannot tell a ready server from a hung one"
    words = checks[-1].replace('"', " ").replace(",", " ").replace("[", " ").split()
    missing = [w for w in words if w.rsplit("/", 1)[-1] in MISSING_TOOLS]
    if missing:
        return f"the HEALTHCHECK calls {missing[0]}, which the slim image does not have"
    probe = checks[-1]
    if "/ready" not in probe and "/health" not in probe:
        return "the HEALTHCHECK must ask the server itself (/ready), not just that a process runs"
    if str(expected["port"]) not in probe and "PORT" not in probe:
        return f"the HEALTHCHECK probes another port than the server's {expected['port']}"
    return None


def _stop_problem(steps: dict[str, list[str]], _expected: dict[str, Any]) -> str | None:
    if "CMD" not in steps:
        return "no CMD: the image does not start the server"
    command = _exec_form(steps["CMD"][-1])
    if command is None:
        return "CMD in shell form: sh becomes PID 1 and docker stop's SIGTERM misses the server"
    if command[0].rsplit("/", 1)[-1] in ("sh", "bash"):
        return f"CMD {command[:2]}: a shell is PID 1, docker stop's SIGTERM misses the server"
    if "mllab.serve.app" not in command:
        return 'CMD must start the server: ["python", "-m", "mllab.serve.app"]'
    entry = steps.get("ENTRYPOINT", [])
    if entry and _exec_form(entry[-1]) is None:
        return "ENTRYPOINT in shell form: sh becomes PID 1 (and CMD is ignored)"
    signal = (steps.get("STOPSIGNAL") or ["SIGTERM"])[-1].strip().upper()
    if signal not in ("SIGTERM", "TERM", "15"):
        return f"STOPSIGNAL {signal}: the server drains on SIGTERM, docker stop's default"
    return None


def _interface_compare(
    problem: Callable[[dict[str, list[str]], dict[str, Any]], str | None],
) -> Callable[[object, dict[str, Any]], str | None]:
    def compare(answer: object, expected: dict[str, Any]) -> str | None:
        return problem(_interface_steps(answer), expected)

    return compare


def hidden_interface_groups(_rng: Any) -> list[Group]:
    """``ex04_interface``'s hidden cases, on the text (the image built from it is measured by
    the lab's build cells, not here): a user that exists and is not root, the server's port,
    a health check the slim image can run that asks the server, and a CMD that docker stop's
    SIGTERM reaches. One group per point of the lecture."""

    expected = {"user": _the_user(), "port": DEFAULT_PORT}
    built = " (the text; the built image is not measured here)"
    problems = {
        "an unprivileged user that exists in the slim image": _user_problem,
        f"EXPOSE the port the server listens on ({DEFAULT_PORT})": _port_problem,
        "a HEALTHCHECK the slim image can run, asking the server (/ready)": _health_problem,
        "docker stop's SIGTERM reaches the server (exec-form CMD, no shell)": _stop_problem,
    }
    return [
        Group(
            name + built, 0.25, [Case("your interface part", (), expected)], _interface_compare(p)
        )
        for name, p in problems.items()
    ]
