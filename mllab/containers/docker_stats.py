"""``docker stats``, in one place: the CLI's ``--no-stream`` table (claim C13) and the engine's
stats API sampled over time during load.

Lecture, "Мониторинг потребления ресурсов": ``docker stats`` shows CPU, memory (and, the lecture
says, GPU memory) per container. Two ways to read it, both here:

* :func:`snapshot`: ``docker stats --no-stream <container>`` once, as printed (the columns the
  student sees), with one stats API document searched for GPU keys: a :class:`DockerStats`
  record. Whether a GPU column or GPU field appears is measured, not assumed.
* :class:`StatsMonitor`: the engine's stats API streams one JSON document per second; the CLI's
  columns are computed from it, and :func:`cpu_percent` / :func:`memory_usage` compute them the
  same way (docker CLI 20.10, ``cli/command/container/stats_helpers.go``):

  * CPU % = Δ container CPU time / Δ host CPU time × online CPUs × 100, the deltas taken
    between ``cpu_stats`` and ``precpu_stats`` (the previous sample): 200 % means two full cores;
  * memory = usage minus the inactive page cache (``total_inactive_file`` on cgroup v1,
    ``inactive_file`` on v2), against the limit (the host's RAM when there is none).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from mllab.containers.docker_cli import DockerCliError, docker

#: words that would mark a GPU field in the stats JSON or a GPU column in the CLI's header
GPU_KEYS = ("gpu", "nvidia", "cuda")


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


# --- docker stats --no-stream (the CLI's table, claim C13) ------------------------------------


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


def _cells(line: str) -> list[str]:
    # columns are separated by runs of 2+ spaces; "MEM USAGE / LIMIT" has single spaces
    return [cell.strip() for cell in line.split("  ") if cell.strip()]


def parse_stats_table(output: str) -> tuple[list[str], dict[str, str]]:
    """The header and the first row of ``docker stats --no-stream`` output, as printed."""
    lines = output.strip().splitlines()
    columns = _cells(lines[0]) if lines else []
    cells = _cells(lines[1]) if len(lines) > 1 else []
    return columns, dict(zip(columns, cells, strict=False))


def snapshot(
    container_id: str,
    api_document: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
) -> DockerStats:
    """``docker stats --no-stream <container>`` once, as a :class:`DockerStats`.

    ``api_document``: one document of the engine's stats API for the same container (SDK
    ``container.stats(stream=False)``), searched for GPU keys. Never raises for a missing or
    failing CLI: ``returncode`` / ``error`` say what happened (a record the judge reads)."""
    fields = gpu_fields(api_document) if api_document is not None else []
    try:
        done = docker(["stats", "--no-stream", container_id], timeout=timeout, check=False)
    except DockerCliError as error:
        return DockerStats(None, f"{type(error).__name__}: {error}", gpu_fields=fields)
    if done.returncode != 0 or not done.stdout.strip():
        said = done.stderr.strip() or "docker stats printed nothing"
        return DockerStats(done.returncode, said, gpu_fields=fields)
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


def snapshot_of(container: Any, timeout: float = 30.0) -> DockerStats:
    """:func:`snapshot` of a docker SDK container, with one stats API document of it."""
    return snapshot(container.id, container.stats(stream=False), timeout)


# --- the stats API over time (during load) ------------------------------------------------------


@dataclass(frozen=True)
class StatsSample:
    """One ``docker stats`` reading: seconds since the monitor started, CPU %, memory."""

    t_s: float
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int
    pids: int | None = None
    throttled_periods: int | None = None  # CFS periods in which --cpus ran out, so far

    @property
    def memory_percent(self) -> float:
        return (
            100.0 * self.memory_bytes / self.memory_limit_bytes if self.memory_limit_bytes else 0.0
        )


def cpu_percent(stats: dict[str, Any]) -> float:
    """The CLI's ``CPU %`` of one stats document (0.0 when there is no previous sample yet)."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or [])
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_usage(stats: dict[str, Any]) -> int:
    """The CLI's ``MEM USAGE``: usage minus inactive page cache (cgroup v1 and v2)."""
    memory = stats.get("memory_stats") or {}
    usage, detail = memory.get("usage", 0), memory.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):  # v1 first, as the CLI does
        if key in detail and detail[key] < usage:
            return usage - detail[key]
    return usage


def sample_of(stats: dict[str, Any], t_s: float) -> StatsSample:
    """A :class:`StatsSample` from one stats document."""
    return StatsSample(
        t_s=t_s,
        cpu_percent=cpu_percent(stats),
        memory_bytes=memory_usage(stats),
        memory_limit_bytes=(stats.get("memory_stats") or {}).get("limit", 0),
        pids=(stats.get("pids_stats") or {}).get("current"),
        throttled_periods=(stats.get("cpu_stats") or {})
        .get("throttling_data", {})
        .get("throttled_periods"),
    )


class StatsMonitor:
    """Samples ``container.stats(stream=True, decode=True)`` in a background thread.

    Use as a context manager around the load: ``with StatsMonitor(container) as monitor: ...``
    then ``monitor.samples``. The engine sends one document per second; the stream ends when
    the container stops.
    """

    def __init__(self, container: Any) -> None:
        self.container = container
        self.samples: list[StatsSample] = []
        self.keys: list[str] = []  # top-level keys of the stats documents seen
        self.gpu_fields: list[str] = []
        self.error: str | None = None
        self.last_raw: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="docker-stats", daemon=True)
        self._start = 0.0

    def start(self) -> StatsMonitor:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            stream = self.container.stats(stream=True, decode=True)
            for stats in stream:
                if self._stop.is_set():
                    break
                if not self.keys:
                    self.keys = sorted(stats)
                    self.gpu_fields = gpu_fields(stats)
                self.last_raw = stats
                if stats.get("precpu_stats", {}).get("system_cpu_usage"):  # first one has none
                    self.samples.append(sample_of(stats, time.monotonic() - self._start))
            stream.close()
        except Exception as error:  # noqa: BLE001 - reported to the caller, never raised in a thread
            if not self._stop.is_set():
                self.error = f"{type(error).__name__}: {error}"

    def stop(self, timeout: float = 5.0) -> list[StatsSample]:
        """Stop sampling (the thread ends at the next document) and return the samples."""
        self._stop.set()
        self._thread.join(timeout)
        return list(self.samples)

    def __enter__(self) -> StatsMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def summary(self) -> dict[str, Any]:
        """Peak and mean CPU %, peak memory, and what the documents held (for the results)."""
        cpu = [s.cpu_percent for s in self.samples]
        memory = [s.memory_bytes for s in self.samples]
        return {
            "samples": len(self.samples),
            "cpu_percent_max": max(cpu, default=None),
            "cpu_percent_mean": sum(cpu) / len(cpu) if cpu else None,
            "memory_mib_max": max(memory) / 2**20 if memory else None,
            "memory_limit_mib": self.samples[-1].memory_limit_bytes / 2**20 if memory else None,
            "stats_keys": self.keys,
            "gpu_fields": self.gpu_fields,
            "error": self.error,
        }

    def rows(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in self.samples]


def _host_memory() -> int:
    """This host's RAM in bytes (what the stats API reports as the limit when there is none)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def plot_stats(samples: list[StatsSample], title: str = "docker stats during load") -> Any:
    """CPU % and memory (MiB, with the limit) against time, one panel each."""
    import matplotlib.pyplot as plt  # deferred: only notebooks plot

    fig, (cpu, memory) = plt.subplots(1, 2, figsize=(11, 3.6))
    t = [s.t_s for s in samples]
    cpu.plot(t, [s.cpu_percent for s in samples], "o-", ms=3)
    cpu.set(xlabel="time, s", ylabel="CPU % (100 % = one core)", title="CPU")
    memory.plot(t, [s.memory_bytes / 2**20 for s in samples], "o-", ms=3, color="C1", label="usage")
    limit = samples[-1].memory_limit_bytes if samples else 0
    if limit and limit < 0.9 * _host_memory():  # a real --memory limit, not the host's RAM
        memory.axhline(limit / 2**20, color="C3", ls="--", label="limit (--memory)")
    memory.set(xlabel="time, s", ylabel="MiB", title="memory (without page cache)")
    for axis in (cpu, memory):  # from zero: a 0.6 MiB wobble must not read like a leak
        axis.set_ylim(bottom=0)
    memory.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
