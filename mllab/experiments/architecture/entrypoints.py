"""Lab 03, "CMD и ENTRYPOINT": the same server started by each form, and what PID 1 then is.

The lecture: ``CMD`` is the default command, replaced by what ``docker run IMAGE ...`` adds;
``ENTRYPOINT`` is always run, and ``docker run`` arguments are appended to it (``--entrypoint``
replaces it). Each form is a small image FROM the slim server image (:data:`FORMS`)::

    CMD ["python", "-m", "mllab.serve.app"]                 exec form: python is PID 1
    CMD python -m mllab.serve.app                           shell form: /bin/sh -c "..."
    ENTRYPOINT ["python", "/app/inference.py"] + CMD ["--port", "8080"]
    ENTRYPOINT python /app/inference.py --port 8080         shell form: CMD and run args ignored

``/app/inference.py`` is the lecture's ``inference.py`` over the kit's server
(:mod:`mllab.experiments.architecture.inference`): its ``--port`` really decides where the
server listens, so an argument that reached it shows in its argv. What is read from the engine:
the image's and the container's ``Config.Entrypoint`` / ``Config.Cmd`` (``docker inspect``),
and every process's ``/proc/<pid>/cmdline`` inside the container (``docker exec``): PID 1 and
the server's own process. :mod:`mllab.experiments.architecture.signals` stops these containers
and times it. Images, tagged ``mllab-arch-sig-<form>:<pid>``, and containers,
``mllab-arch-sig-<case>-<pid>``, are removed at the end, also when a step fails.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mllab.containers.build import build, remove_image
from mllab.containers.docker_cli import ContainerFailed, docker
from mllab.containers.engine import client
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.core.poll import until
from mllab.experiments.architecture import inference

PREFIX = "mllab-arch-sig-"
#: the line uvicorn prints once the server listens (its signal handlers are installed by then)
READY_LINE = "Uvicorn running on"
#: the lines of each form after ``FROM``: what starts the server
FORMS = {
    "cmd-exec": 'CMD ["python", "-m", "mllab.serve.app"]',
    "cmd-shell": "CMD python -m mllab.serve.app",
    "entrypoint-exec": 'ENTRYPOINT ["python", "/app/inference.py"]\nCMD ["--port", "8080"]',
    "entrypoint-shell": "ENTRYPOINT python /app/inference.py --port 8080",
}
#: a Dockerfile over the slim image: ``BASE_IMAGE`` is a build argument, inference.py is there
TEMPLATE = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY inference.py /app/inference.py\n"
#: lists every process's argv inside a container, as JSON {pid: argv}, leaving out its own
PROBE = (
    "import json, os\n"
    "table = {}\n"
    "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
    "    try:\n"
    "        table[pid] = open(f'/proc/{pid}/cmdline', 'rb').read().decode()\n"
    "    except OSError:\n"
    "        pass\n"
    "table.pop(str(os.getpid()), None)\n"
    "print(json.dumps(table))\n"
)


@dataclass(frozen=True)
class Case:
    """One ``docker run`` of a form: ``options`` before the image, ``args`` after it."""

    label: str
    form: str
    options: tuple[str, ...] = ()
    args: tuple[str, ...] = ()

    def command(self) -> str:
        """The ``docker run`` line, as a student would type it (image: the form's name)."""
        return " ".join(["docker run", *self.options, self.form, *self.args])


#: the overrides at ``docker run`` (the image defaults of each form are the stop runs')
#: the labels are short (a table column): run args replace CMD; with an exec ENTRYPOINT they
#: become its CMD; ``--entrypoint`` replaces ENTRYPOINT and drops the image's CMD; a shell
#: ENTRYPOINT ignores them
OVERRIDES = (
    Case("CMD replaced by args", "cmd-exec", (), ("python", "/app/inference.py", "--port", "9090")),
    Case("ENTRYPOINT + args as CMD", "entrypoint-exec", (), ("--port", "9090")),
    Case(
        "--entrypoint, CMD dropped",
        "entrypoint-exec",
        ("--entrypoint", "python"),
        ("-m", "mllab.serve.app"),
    ),
    Case("shell ENTRYPOINT: no args", "entrypoint-shell", (), ("--port", "9090")),
)


@dataclass
class EntrypointRun:
    """What one ``docker run`` of a form really started.

    ``image_entrypoint``/``image_cmd``: the image's ``Config``; ``entrypoint``/``cmd``: the
    container's, after ``docker run``'s overrides; ``pid1``: ``/proc/1/cmdline`` inside;
    ``server_argv``: the argv of the server's process (PID 1 itself in the exec form)."""

    label: str
    command: str
    outcome: Outcome
    image_entrypoint: list[str] = field(default_factory=list)
    image_cmd: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    pid1: list[str] = field(default_factory=list)
    server_argv: list[str] = field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1


# --- pure: the probe's table, the server's process ---------------------------------------------


def parse_processes(text: str) -> dict[int, list[str]]:
    """The probe's JSON (``{pid: NUL-separated cmdline}``) as ``{pid: argv}``; a process with
    an empty command line (a zombie) is left out."""
    table = json.loads(text)
    return {int(pid): line.split("\0")[:-1] for pid, line in table.items() if line}


def server_process(table: dict[int, list[str]]) -> tuple[int, list[str]] | None:
    """The server's process in a process table: the lowest PID whose program is a Python
    (PID 1 itself in the exec form, a child of ``sh`` or of ``docker-init`` otherwise)."""
    for pid in sorted(table):
        argv = table[pid]
        if argv and Path(argv[0]).name.startswith("python"):
            return pid, argv
    return None


def shown(argv: Sequence[str]) -> str:
    """An argv as one line, each word that holds a space quoted: ``/bin/sh -c 'python -m x'``."""
    return " ".join(f"'{word}'" if " " in word or not word else word for word in argv)


# --- images ----------------------------------------------------------------------------------


def dockerfile(form: str) -> str:
    """The Dockerfile text of one of :data:`FORMS`."""
    return TEMPLATE + FORMS[form] + "\n"


def build_text(text: str, tag: str, base: str) -> str:
    """Build a Dockerfile ``text`` (``FROM ${BASE_IMAGE}``; the ``ARG`` is added when missing)
    with ``BASE_IMAGE=base`` over a context holding ``inference.py``; returns ``tag``."""
    if "ARG BASE_IMAGE" not in text:
        text = "ARG BASE_IMAGE\n" + text
    with tempfile.TemporaryDirectory(prefix=PREFIX) as folder:
        shutil.copyfile(inference.__file__, Path(folder) / "inference.py")
        (Path(folder) / "Dockerfile").write_text(text)
        build(
            "Dockerfile",
            tag,
            folder,
            {"BASE_IMAGE": base},
            on_log=None,
            labels={"org.mllab.demo": "lab03"},
        )
    return tag


def form_tag(form: str) -> str:
    """This process's tag of a form's image (the PID keeps two runs apart)."""
    return f"{PREFIX}{form}:{os.getpid()}"


@contextmanager
def form_images(base: str, forms: Sequence[str] = tuple(FORMS)) -> Iterator[dict[str, str]]:
    """Build the images of ``forms`` at once (form -> tag); removed on exit, whatever happened."""
    try:
        with ThreadPoolExecutor(max_workers=len(forms)) as pool:
            tags = list(pool.map(lambda f: build_text(dockerfile(f), form_tag(f), base), forms))
        yield dict(zip(forms, tags, strict=True))
    finally:
        for form in forms:
            remove_image(form_tag(form))


# --- containers ------------------------------------------------------------------------------


def container_name(slug: str) -> str:
    """``mllab-arch-sig-<slug>-<pid>``."""
    return f"{PREFIX}{slug}-{os.getpid()}"


def start(
    name: str, image: str, options: Sequence[str] = (), args: Sequence[str] = (), threads: int = 1
) -> None:
    """``docker run -d`` without network or health check, one ONNX Runtime thread (the lab
    starts several servers at once on few cores)."""
    docker(
        ["run", "-d", "--name", name, "--network", "none", "--no-healthcheck"]
        + ["-e", f"THREADS={threads}", *options, image, *args],
        timeout=60.0,
    )


def attrs(name: str) -> dict[str, Any]:
    """``docker inspect`` of a container, through the SDK."""
    info: dict[str, Any] = client().api.inspect_container(name)
    return info


def image_config(tag: str) -> dict[str, Any]:
    """The image's ``Config`` (its ENTRYPOINT, CMD, ENV, ...)."""
    config: dict[str, Any] = client().api.inspect_image(tag)["Config"]
    return config


def logs(name: str) -> str:
    """The container's stdout and stderr so far."""
    text: bytes = client().api.logs(name, stdout=True, stderr=True)
    return text.decode("utf-8", "replace")


def wait_ready(name: str, timeout: float) -> None:
    """Wait until the server in ``name`` listens; :class:`ContainerFailed` when it exits first."""

    def listening() -> bool:
        if READY_LINE in logs(name):
            return True
        state = attrs(name)["State"]
        if not state.get("Running"):
            raise ContainerFailed(
                f"{name} exited (code {state.get('ExitCode')}) before its server listened:\n"
                + "\n".join(logs(name).strip().splitlines()[-8:]),
                state.get("ExitCode"),
            )
        return False

    until(listening, timeout=timeout, interval=0.25, what=f"the server in {name} to listen")


def processes(name: str) -> dict[int, list[str]]:
    """Every process's argv inside the running container ``name`` (``docker exec``)."""
    return parse_processes(docker(["exec", name, "python", "-c", PROBE], timeout=30.0).stdout)


def wait_server(name: str, timeout: float = 20.0) -> dict[int, list[str]]:
    """The process table as soon as the server's process exists (before it listens)."""

    def table() -> dict[int, list[str]]:
        found = processes(name)
        return found if server_process(found) else {}  # empty: falsy, wait on

    return until(table, timeout=timeout, interval=0.2, what=f"a server process in {name}")


def remove(names: Sequence[str]) -> None:
    """``docker rm -f`` the containers (those already gone are no error)."""
    if names:
        docker(["rm", "-f", *names], timeout=60.0, check=False)


# --- the overrides ---------------------------------------------------------------------------


def observe(case: Case, name: str, table: dict[int, list[str]], image: str) -> EntrypointRun:
    """An :class:`EntrypointRun` from a started container's inspect and its process table."""
    config, defaults = attrs(name)["Config"], image_config(image)
    server = server_process(table)
    return EntrypointRun(
        case.label,
        case.command(),
        Outcome.ran(),
        list(defaults.get("Entrypoint") or []),
        list(defaults.get("Cmd") or []),
        list(config.get("Entrypoint") or []),
        list(config.get("Cmd") or []),
        table.get(1, []),
        server[1] if server else [],
    )


def run_override(case: Case, tags: dict[str, str], threads: int = 1) -> EntrypointRun:
    """Start one override, read what it started as soon as its server process exists, then
    remove it (its server never needs to finish loading)."""
    name = container_name(f"run-{OVERRIDES.index(case)}")
    try:
        start(name, tags[case.form], case.options, case.args, threads)
        return observe(case, name, wait_server(name), tags[case.form])
    except MllabError as error:
        return EntrypointRun(case.label, case.command(), Outcome.failed(error))
    finally:
        remove([name])


def run_overrides(
    tags: dict[str, str], cases: Sequence[Case] = OVERRIDES, threads: int = 1
) -> list[EntrypointRun]:
    """:func:`run_override` for every case, at once."""
    with ThreadPoolExecutor(max_workers=max(1, len(cases))) as pool:
        return list(pool.map(lambda case: run_override(case, tags, threads), cases))
