"""Lab 02, claim C12: the lecture's Flask ``server.py``, run as written and corrected.

The lecture's file is kept verbatim in ``lecture_flask/server.py.txt`` (section "Python-скрипт",
lines 125–137); ``lecture_flask/app_run.py.txt`` holds the two lines it lacks for the
Dockerfile's ``CMD ["python", "server.py"]`` to serve. :func:`run_lecture_flask` writes the
script beside a ``model.onnx``, runs it with ``python server.py`` as that CMD would, and
observes (:class:`FlaskRun`): did it exit, with what code, does anything listen on the port,
what status does one prediction of the lecture's JSON body get. :func:`lecture_flask` does it
both ways (:class:`LectureFlask`, the C12 record). The verdict is ``mllab.report``'s.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import ClassVar

import httpx
import numpy as np

from mllab.core.outcome import Outcome
from mllab.core.poll import until
from mllab.measure.drift import compare
from mllab.runtime.sessions import create_session
from mllab.serve.bodies import json_body
from mllab.serve.process import free_port, port_open

#: the lecture's ``EXPOSE 8080`` and ``docker run -p 8080:8080``
LECTURE_PORT = 8080
#: the lines of a failing run's output kept in the record
LOG_LINES = 6
_SOURCES = resources.files("mllab.experiments.serving") / "lecture_flask"


def lecture_source(
    corrected: bool = False, port: int = LECTURE_PORT, fix: str | None = None
) -> str:
    """``server.py`` as the lecture prints it, or with ``app.run(..., port=port)`` appended
    (or with ``fix``, e.g. a student's lines, appended instead of the kit's)."""
    source = (_SOURCES / "server.py.txt").read_text()
    if fix is not None:
        return source + "\n" + fix
    if corrected:
        kit_fix = (_SOURCES / "app_run.py.txt").read_text()
        source += kit_fix.replace(f"port={LECTURE_PORT}", f"port={port}")
    return source


@dataclass
class FlaskRun:
    """One ``python server.py``: what happened, as a Docker CMD would see it."""

    outcome: Outcome  # ran: the script was started and observed
    exited: bool  # the process ended before anything listened (or the timeout)
    exit_code: int | None
    listening: bool  # something accepted connections on ``port``
    port: int
    status: int | None  # HTTP status of one prediction (None: nothing to ask)
    log_tail: str
    corrected: bool = False
    port_was_busy: bool = False  # 8080 was taken by another program: a free port was used
    seconds: float | None = None  # until it exited or listened
    output_shape: list[int] | None = None
    max_abs_vs_ort: float | None = None  # the answer against session.run in this process

    SCHEMA_VERSION: ClassVar[int] = 1


@dataclass
class LectureFlask:
    """C12: the lecture's service as written, and with ``app.run()`` added."""

    as_written: FlaskRun
    corrected: FlaskRun
    source: str = field(default="", repr=False)  # the lecture's file, as run

    SCHEMA_VERSION: ClassVar[int] = 1


def write_lecture_flask(
    folder: str | Path,
    model: str | Path,
    corrected: bool = False,
    port: int = LECTURE_PORT,
    fix: str | None = None,
) -> Path:
    """``folder/server.py`` (the lecture's, corrected, or with ``fix`` appended) beside
    ``folder/model.onnx``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "server.py"
    script.write_text(lecture_source(corrected, port, fix))
    link = folder / "model.onnx"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path(model).resolve())  # the script opens "model.onnx" from its folder
    return script


def _predict_zeros(model: str | Path, port: int) -> tuple[int, list[int] | None, float | None]:
    """POST the lecture's JSON body for one zero image: status, output shape, max-abs vs ORT."""
    x = np.zeros((1, 3, 224, 224), dtype=np.float32)
    response = httpx.post(
        f"http://127.0.0.1:{port}/predict",
        content=json_body(x),
        headers={"Content-Type": "application/json"},
        timeout=120.0,
    )
    if response.status_code != 200:
        return response.status_code, None, None
    output = np.asarray(response.json()["output"], dtype=np.float32)
    local = create_session(model).run(None, {"input": x})[0]
    return response.status_code, list(output.shape), compare(output, local).max_abs


def flask_workdir() -> Path:
    """A scratch folder for the lecture's ``server.py`` runs, removed when this process exits
    (a kernel restarted or a papermill run ended): nothing of the lab is left in /tmp."""
    folder = Path(tempfile.mkdtemp(prefix="mllab-lab02-flask-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def run_lecture_flask(
    model: str | Path,
    folder: str | Path,
    corrected: bool = False,
    port: int = LECTURE_PORT,
    timeout: float = 60.0,
    fix: str | None = None,
) -> FlaskRun:
    """Run ``python server.py`` in ``folder`` and find out whether it serves ``/predict``.

    Waits until the process exits or something listens on ``port`` (at most ``timeout``); when
    it listens, sends one prediction; then stops it. When ``port`` is taken by another
    program a free port is used instead (``port_was_busy``), so that the test is not confounded.
    ``fix``: lines appended to the lecture's file instead of the kit's correction.
    """
    busy = port_open(port)
    port = free_port() if busy else port
    script = write_lecture_flask(folder, model, corrected or fix is not None, port, fix)
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, script.name],
        cwd=script.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    outcome, status, shape, max_abs = Outcome.ran(), None, None, None
    try:
        # exited or listening, whichever comes first; at ``timeout`` it is neither
        until(
            lambda: process.poll() is not None or port_open(port),
            timeout=timeout,
            interval=0.1,
            default=False,
        )
        seconds = time.perf_counter() - start
        exited, exit_code, listening = (
            process.poll() is not None,
            process.returncode,
            port_open(port),
        )
        if listening:
            try:
                status, shape, max_abs = _predict_zeros(model, port)
            except httpx.HTTPError as error:  # it listened but the prediction got no answer
                outcome = Outcome.failed(error)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            output, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    tail = "\n".join((output or "").strip().splitlines()[-LOG_LINES:])
    return FlaskRun(
        outcome,
        exited,
        exit_code,
        listening,
        port,
        status,
        tail,
        corrected,
        busy,
        seconds,
        shape,
        max_abs,
    )


def lecture_flask(model: str | Path, folder: str | Path, timeout: float = 60.0) -> LectureFlask:
    """The lecture's service run as written (``folder/as_written``) and corrected."""
    folder = Path(folder)
    as_written = run_lecture_flask(model, folder / "as_written", timeout=timeout)
    corrected = run_lecture_flask(model, folder / "corrected", corrected=True, timeout=timeout)
    return LectureFlask(as_written, corrected, lecture_source())
