"""Lab 03's exercises: the layer order that keeps ``pip install`` cached, and the interface of
the slim image's runtime stage. Both are checked statically, from the instructions; no build.

* ``ex03_order`` — ``cache_friendly_order(steps)``: the lecture's example Dockerfile, given in a
  naive order, reordered so that a new model (or new server code) reuses the ``pip install``
  layer, and a new model rebuilds nothing but its own layer and what follows.
* ``ex03_interface`` — ``interface_part()``: the end of the runtime stage as Dockerfile text: a
  non-root ``USER``, ``EXPOSE``, a ``HEALTHCHECK`` and an exec-form ``CMD`` starting the server.
  The kit's reference is the same part of ``docker/Dockerfile``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from mllab.containers.dockerfiles import instructions
from mllab.core.paths import DOCKER
from mllab.exercises.check import Check, self_check

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
    """What is wrong with an order of the lecture's steps (None if it keeps pip cached)."""
    if not isinstance(order, list | tuple) or not all(isinstance(s, str) for s in order):
        return "expected a list of the instruction strings, reordered"
    steps = [" ".join(s.split()) for s in order]
    if sorted(steps) != sorted(given):
        return "use each given instruction exactly once, unchanged (only the order changes)"
    if not steps[0].startswith("FROM") or not steps[-1].startswith("CMD"):
        return "FROM comes first and CMD last"
    position = {
        step.split()[1] if step.startswith("COPY") else step: i for i, step in enumerate(steps)
    }
    pip = next(i for i, step in enumerate(steps) if is_pip_step(step))
    if position["requirements.txt"] > pip:
        return "pip install needs requirements.txt: COPY it before the RUN"
    if steps.index("WORKDIR /app") > min(
        position[f] for f in ("requirements.txt", "inference.py", "model.onnx")
    ):
        return "the COPYs go to '.', the WORKDIR: set WORKDIR /app before them"
    for changed in ("model.onnx", "inference.py"):
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


def check_order(cache_friendly_order: Callable[[list[str]], list[str]]) -> Check:
    """``ex03_order``: the student's order of :data:`NAIVE_STEPS`. ``value``: the order to use."""
    return self_check(
        "ex03_order",
        cache_friendly_order,
        (list(NAIVE_STEPS),),
        reference=lambda: [NAIVE_STEPS[i] for i in REFERENCE_ORDER],
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
    """``ex03_interface``: check the student's text, then write it (if right) or the kit's part
    to ``out`` (the lab's ``Dockerfile.interface``). ``value``: the path written."""
    checked = self_check(
        "ex03_interface",
        interface_part,
        reference=reference_interface,
        compare=lambda answer, _reference: interface_problem(answer),
        section=SECTION_INTERFACE,
        passed="non-root USER, EXPOSE, HEALTHCHECK, exec-form CMD",
    )
    out = Path(out)
    out.write_text(checked.value)
    return replace(checked, value=out)
