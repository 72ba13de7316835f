"""The docker CLI calls of the kit, in one place: ``docker save``, ``docker run --rm ... python -m``
and ``docker stats --no-stream``.

Everything else goes through the docker SDK (:mod:`mllab.containers.engine`); these three stay on
the CLI because the lab shows exactly what the student would type (``docker stats`` prints the
columns the lecture talks about) or because the CLI streams what the SDK would buffer (a
``docker save`` tar of several GB).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

from mllab.core.errors import InputError, MllabError

#: words that would mark a GPU field in the stats JSON or a GPU column in the CLI's header
GPU_KEYS = ("gpu", "nvidia", "cuda")


class ContainerFailed(MllabError):
    """A container exited (or never became ready); the message carries its exit code and log."""

    def __init__(self, message: str, exit_code: int | None = None, logs: str = ""):
        super().__init__(message)
        self.exit_code = exit_code
        self.logs = logs


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --- docker save ------------------------------------------------------------------------------


def save(tag: str, out: str | Path, timeout: float | None = None) -> Path:
    """``docker save -o out tag``: the image as a tar (config, manifest, layer tars); ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = ["docker", "save", "-o", str(out), tag]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise InputError(f"docker save {tag} failed: {done.stderr.strip()}")
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


# --- docker stats --no-stream -------------------------------------------------------------------


@dataclass
class DockerStats:
    """What ``docker stats --no-stream`` printed for one container (claim C13).

    ``columns``: the header as printed; ``gpu_column``: whether one of them names a GPU (None
    when the CLI did not answer); ``gpu_fields``: keys of the stats API's JSON that name a GPU
    ([] when none, or when no API document was read); ``cpu_percent`` / ``mem_usage``: the
    ``CPU %`` and ``MEM USAGE / LIMIT`` cells as printed."""

    returncode: int | None
    error: str | None
    columns: list[str] = field(default_factory=list)
    gpu_column: bool | None = None
    gpu_fields: list[str] = field(default_factory=list)
    cpu_percent: str | None = None
    mem_usage: str | None = None

    SCHEMA_VERSION: ClassVar[int] = 1


def gpu_fields(document: Mapping[str, Any]) -> list[str]:
    """Keys anywhere in a stats API document that mention a GPU (empty: none reported)."""
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                where = f"{path}.{key}" if path else key
                if any(word in key.lower() for word in GPU_KEYS):
                    found.append(where)
                walk(value, where)

    walk(document, "")
    return found


def _cells(line: str) -> list[str]:
    # columns are separated by runs of 2+ spaces; "MEM USAGE / LIMIT" has single spaces
    return [cell.strip() for cell in line.split("  ") if cell.strip()]


def parse_stats_table(output: str) -> tuple[list[str], dict[str, str]]:
    """The header and the first row of ``docker stats --no-stream`` output, as printed."""
    lines = output.strip().splitlines()
    columns = _cells(lines[0]) if lines else []
    cells = _cells(lines[1]) if len(lines) > 1 else []
    return columns, dict(zip(columns, cells, strict=False))


def docker_stats(
    container_id: str,
    api_document: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
) -> DockerStats:
    """``docker stats --no-stream <container>`` once, as a :class:`DockerStats`.

    ``api_document``: one document of the engine's stats API for the same container (SDK
    ``container.stats(stream=False)``), searched for GPU keys. Never raises for a missing or
    failing CLI: ``returncode`` / ``error`` say what happened."""
    fields = gpu_fields(api_document) if api_document is not None else []
    try:
        done = subprocess.run(
            ["docker", "stats", "--no-stream", container_id],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return DockerStats(None, f"{type(error).__name__}: {error}", gpu_fields=fields)
    if done.returncode != 0 or not done.stdout.strip():
        error = done.stderr.strip() or "docker stats printed nothing"
        return DockerStats(done.returncode, error, gpu_fields=fields)
    columns, row = parse_stats_table(done.stdout)
    return DockerStats(
        returncode=done.returncode,
        error=None,
        columns=columns,
        gpu_column=any(word in c.lower() for c in columns for word in GPU_KEYS),
        gpu_fields=fields,
        cpu_percent=row.get("CPU %"),
        mem_usage=row.get("MEM USAGE / LIMIT"),
    )
