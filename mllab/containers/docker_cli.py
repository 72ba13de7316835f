"""The kit's docker CLI calls, in one place: ``docker save``, ``docker run --rm ... python -m``,
``docker buildx``, ``docker compose``, ``docker version`` and the ``docker`` runner they share.

Everything else goes through the docker SDK (:mod:`mllab.containers.engine`); these stay on the
CLI because the lab shows exactly what the student would type (``docker stats`` prints the
columns the lecture talks about; :mod:`mllab.containers.docker_stats` reads them through
:func:`docker`), because the CLI streams what the SDK would buffer (a ``docker save`` tar of
several GB), or because the SDK has no such call (buildx, compose). Every failure is a typed
error: :class:`DockerCliError` (the CLI failed or is missing) or :class:`ContainerFailed` (the
container's own program failed).

This module imports the standard library and :mod:`mllab.core` only: it also runs inside a bare
container (:mod:`mllab.experiments.environment.fingerprint` asks it for ``docker version``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from mllab.core.errors import MllabError


class DockerCliError(MllabError):
    """A docker CLI command failed, ran out of time or could not start (no ``docker`` here);
    the message names the command and ends with what it printed on stderr."""

    def __init__(self, message: str, returncode: int | None = None, stderr: str = ""):
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class ContainerFailed(MllabError):
    """A container exited (or never became ready); the message carries its exit code and log."""

    def __init__(self, message: str, exit_code: int | None = None, logs: str = ""):
        super().__init__(message)
        self.exit_code = exit_code
        self.logs = logs


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _shown(command: Sequence[str], words: int = 4) -> str:
    """The start of a command line, for a message (``docker buildx build --no-cache ...``)."""
    more = " ..." if len(command) > words else ""
    return " ".join(command[:words]) + more


# --- the runner ---------------------------------------------------------------------------------


def run_cli(
    command: Sequence[str],
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a docker CLI ``command`` (``["docker", ...]`` or ``["docker-compose", ...]``) and
    return the finished process, its output as text.

    ``env`` is laid over this process's environment. A CLI that is missing or runs over
    ``timeout`` raises :class:`DockerCliError`; so does a non-zero exit, with ``check``."""
    environment = {**os.environ, **env} if env is not None else None
    try:
        done = subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=environment,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DockerCliError(f"`{_shown(command)}` ran over {timeout:g} s") from None
    except OSError as error:
        raise DockerCliError(f"`{_shown(command)}` could not start: {error}") from None
    if check and done.returncode != 0:
        printed = (done.stderr or done.stdout).strip()
        raise DockerCliError(
            f"`{_shown(command)}` failed (exit {done.returncode}):\n{printed[-2000:]}",
            done.returncode,
            done.stderr,
        )
    return done


def docker(
    args: Sequence[str],
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``docker ARGS`` (keywords as :func:`run_cli`)."""
    return run_cli(["docker", *args], timeout=timeout, env=env, check=check)


# --- docker version, docker buildx, docker compose ------------------------------------------------


def version(side: str = "Server", timeout: float = 10.0) -> str | None:
    """``docker version --format {{.Server.Version}}`` (``side="Client"``: the CLI's own); None
    when the CLI is missing or the engine does not answer (a fingerprint records that as is)."""
    if shutil.which("docker") is None:
        return None
    try:
        done = docker(["version", "--format", f"{{{{.{side}.Version}}}}"], timeout=timeout)
    except DockerCliError:
        return None
    return done.stdout.strip() or None


def buildx_available() -> bool:
    """True when ``docker buildx version`` answers (the buildx plugin is installed)."""
    try:
        docker(["buildx", "version"], timeout=30.0)
    except DockerCliError:
        return False
    return True


def compose_command() -> list[str]:
    """``docker-compose`` (v1, Debian's package), or ``docker compose`` when that plugin
    answers; :class:`DockerCliError` when neither is installed."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if docker(["compose", "version"], timeout=30.0, check=False).returncode == 0:
        return ["docker", "compose"]
    raise DockerCliError(
        "neither docker-compose nor the docker compose plugin is installed "
        "(apt-get install docker-compose, or docker/engine/ensure-engine as root)"
    )


def compose(
    file: str | Path,
    project: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 300.0,
) -> str:
    """``docker-compose -f FILE -p PROJECT ARGS`` with ``env`` laid over this environment (the
    variables the compose file reads); what it printed on stdout."""
    command = [*compose_command(), "-f", str(file), "-p", project, *args]
    return run_cli(command, env=env, timeout=timeout).stdout


# --- docker save ------------------------------------------------------------------------------


def save(tag: str, out: str | Path, timeout: float | None = None) -> Path:
    """``docker save -o out tag``: the image as a tar (config, manifest, layer tars); ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    docker(["save", "-o", str(out), tag], timeout=timeout)
    return out


@contextlib.contextmanager
def save_stream(tag: str) -> Iterator[IO[bytes]]:
    """``docker save tag`` as a stream (read it with ``tarfile.open(fileobj=..., mode="r|")``);
    the process is killed on exit, so a reader may stop early (the config comes first)."""
    process = subprocess.Popen(
        ["docker", "save", tag], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None  # PIPE was asked for
        yield process.stdout
    finally:
        process.kill()
        process.wait()


# --- docker run --rm IMAGE python -m MODULE -----------------------------------------------------


def run_module_command(
    image: str,
    module: str,
    args: Sequence[str] = (),
    *,
    network: str | None = "none",
    user: str | None = None,
    volumes: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    options: Sequence[str] = (),
    python: str = "python",
) -> list[str]:
    """The ``docker run --rm`` command line that runs ``python -m module args`` in ``image``.

    ``volumes``: ``{host path: "container path[:ro]"}``; ``options``: further ``docker run``
    options (``--cpus=1``, ...). The image's ENTRYPOINT is replaced by ``python``."""
    command = ["docker", "run", "--rm", "--entrypoint", python]
    if network:
        command += ["--network", network]
    if user:
        command += ["--user", user]
    for host, inside in (volumes or {}).items():
        command += ["-v", f"{host}:{inside}"]
    for key, value in (env or {}).items():
        command += ["-e", f"{key}={value}"]
    return [*command, *options, image, "-m", module, *args]


def run_module(
    image: str,
    module: str,
    args: Sequence[str] = (),
    *,
    timeout: float | None = None,
    check: bool = True,
    **options: Any,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m module args`` in a throw-away container of ``image`` (no network by
    default; keywords as :func:`run_module_command`). With ``check``, a non-zero exit raises
    :class:`ContainerFailed` with the end of stderr."""
    command = run_module_command(image, module, args, **options)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ContainerFailed(f"python -m {module} in {image} ran over {timeout:g} s") from None
    if check and done.returncode != 0:
        raise ContainerFailed(
            f"python -m {module} in {image} exited with code {done.returncode}:\n"
            f"{_tail(done.stderr)}",
            done.returncode,
            done.stderr,
        )
    return done


def last_json_line(text: str) -> Any:
    """The last line of ``text`` that parses as JSON (a module may log before it prints)."""
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    raise MllabError(f"no JSON line in the output:\n{_tail(text, 5)}")


def run_module_json(image: str, module: str, args: Sequence[str] = (), **options: Any) -> Any:
    """:func:`run_module`, then the last JSON line it printed, parsed."""
    return last_json_line(run_module(image, module, args, **options).stdout)
