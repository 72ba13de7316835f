"""The peer of ``mllab serve``: KServe's Python ModelServer, and ONNX Runtime in this process.

:func:`kserve_python` makes the peer's own virtual environment once (``artifacts/kserve-venv``:
KServe pins protobuf < 7, which the kit's environment does not allow); :func:`start_kserve`
runs :mod:`mllab.experiments.serving.kserve_model` in it, as a context manager.
:func:`in_process` is the floor: ``session.run`` called by ``concurrency`` threads in this
process (:func:`mllab.measure.closed_loop.closed_loop`), the same session options and threads as
the servers (or those asked for), no HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mllab.core.errors import MllabError
from mllab.core.paths import ROOT, artifact
from mllab.measure.closed_loop import closed_loop
from mllab.measure.stats import summarize
from mllab.runtime.sessions import SessionConfig, create_session
from mllab.serve.process import ServerProcess, free_port, scratch_log, wait_until_ready

#: the peer's pins: KServe and the kit's own ONNX Runtime and numpy (same kernels both sides)
KSERVE_PINS = ("kserve==0.21.0", "onnxruntime==1.31.1", "numpy==2.4.6")


@dataclass
class Point:
    """One target at one concurrency: closed-loop throughput and latency percentiles."""

    target: str
    concurrency: int
    requests: int
    errors: int
    throughput: float  # requests/s over the run's wall time
    p50_ms: float | None
    p99_ms: float | None
    load_cpu_s: float = 0.0  # CPU seconds the load generator used (0 in process)


def kserve_python(venv: Path | None = None) -> Path:
    """The python of the peer's virtual environment, made (pip, pinned) on first use."""
    venv = venv or artifact("kserve-venv")
    python = venv / "bin" / "python"
    ready = venv / ".mllab-pins"
    if ready.exists() and ready.read_text().split() == list(KSERVE_PINS):
        return python
    base = getattr(sys, "_base_executable", sys.executable)
    steps = [[base, "-m", "venv", str(venv)], [str(python), "-m", "pip", "install", *KSERVE_PINS]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise MllabError(f"making the KServe environment failed: {done.stderr[-1500:]}")
    ready.write_text("\n".join(KSERVE_PINS))
    return python


@contextmanager
def start_kserve(
    model: str | Path, name: str = "resnet50", threads: int | None = None, timeout: float = 120.0
) -> Iterator[ServerProcess]:
    """KServe's ModelServer on ``model`` on a free port, ready; stopped on exit."""
    python, port = kserve_python(), free_port()
    command = [str(python), "-m", "mllab.experiments.serving.kserve_model", "--model", str(model)]
    command += ["--name", name, "--http_port", str(port), "--grpc_port", str(free_port())]
    command += ["--threads", str(threads)] if threads else []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log_path = scratch_log("mllab-kserve-")
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = ServerProcess(process, f"http://127.0.0.1:{port}", port, log_path)
    with server:
        try:
            wait_until_ready(f"{server.url}/v2/models/{name}/ready", timeout, process)
        except MllabError as error:
            tail = "\n".join(server.log().strip().splitlines()[-8:])
            raise MllabError(f"KServe did not start: {error}\n{tail}") from None
        yield server


def in_process(
    model: str | Path,
    x: np.ndarray,
    threads: int | None,
    concurrency: int,
    requests: int,
    config: SessionConfig | None = None,
    target: str = "onnxruntime in-process",
) -> Point:
    """``requests`` calls of ``session.run(x)`` from ``concurrency`` threads in this process
    (the kit's closed loop), after one warm-up run; the session as the server makes it
    (``threads``, no spinning) unless ``config`` says otherwise."""
    config = config or SessionConfig(threads=threads, allow_spinning=False)
    session = create_session(model, config)
    name = session.get_inputs()[0].name
    session.run(None, {name: x})  # warm-up
    loop = closed_loop(lambda user: session.run(None, {name: x}), concurrency, requests)
    if loop.failures:  # in process nothing is refused: a failing run is the model's error
        raise MllabError(f"session.run failed in process: {next(iter(loop.errors))}")
    stats = summarize(loop.latencies_s, wall_s=loop.wall_s)
    return Point(target, concurrency, requests, 0, loop.rps, stats.p50_ms, stats.p99_ms)
