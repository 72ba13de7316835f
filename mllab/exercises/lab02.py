"""Lab 02's exercise: the binary-body client.

* ``ex02_binary_client`` — ``send_binary_batch(url, x)``: send a float32 batch ``x`` of shape
  ``(N, 3, 224, 224)`` to the running server at ``url`` as a binary body (``.npy`` on
  ``POST /predict``, or the v2 binary tensor extension on ``/v2/models/{name}/infer``) and return
  the logits as a numpy array ``(N, 1000)``. Checked against the kit's own client
  (:func:`mllab.serve.client.predict_tensor`) on the same server: same shape, max-abs within
  the kit's tolerance (:data:`mllab.measure.drift.TUTORIAL_ATOL`).
* ``ex02_flask_fix`` — ``serving_lines(port)``: the lines to append to the lecture's Flask
  ``server.py`` so that ``python server.py`` (the image's ``CMD``) serves the app where
  ``docker run -p port:port`` can reach it. Checked by running the script with those lines:
  something listens on ``port``, ``POST /predict`` with the lecture's JSON answers 200, and the
  app is bound to every interface (``0.0.0.0``), not to the container's own loopback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mllab.exercises.check import Check, self_check, show
from mllab.experiments.serving.flask_demo import LECTURE_PORT, FlaskRun, run_lecture_flask
from mllab.measure.drift import TUTORIAL_ATOL
from mllab.serve.client import predict_tensor
from mllab.serve.process import free_port, port_open

SECTION_CLIENT = (
    "«Практический пример инференса» (the service's POST /predict and latency_ms; a binary "
    "body carries float32 as it is, where the JSON list turns every number into text)"
)


def logits_problem(answer: Any, reference: np.ndarray) -> str | None:
    """What is wrong with the student's logits (None if nothing): not an array, another
    shape, or a max-abs difference from the kit's client over :data:`TUTORIAL_ATOL`."""
    if answer is None:
        return "the function returned None (a missing return?)"
    if not isinstance(answer, np.ndarray):
        return f"expected the logits as a numpy array, got {type(answer).__name__}: {show(answer)}"
    if answer.shape != reference.shape:
        return f"expected logits of shape {reference.shape}, got {answer.shape}"
    if not np.issubdtype(answer.dtype, np.floating):
        return f"expected float logits, got dtype {answer.dtype}"
    worst = float(np.max(np.abs(answer.astype(np.float64) - reference.astype(np.float64))))
    if not worst <= TUTORIAL_ATOL:
        return (
            f"max |your logits − the kit's| = {worst:.3g} > {TUTORIAL_ATOL:g}: was the batch "
            "sent as float32, in C order, with its shape?"
        )
    return None


def check_binary_client(
    send_binary_batch: Callable[[str, np.ndarray], np.ndarray], url: str, x: np.ndarray
) -> Check:
    """``ex02_binary_client``: the student's ``send_binary_batch(url, x)`` against the kit's
    ``predict_tensor(url, x)`` on the same server (``value``: the logits to go on with)."""
    x = np.ascontiguousarray(x, dtype=np.float32)

    def passed(answer: np.ndarray) -> str:
        return f"logits {answer.shape} within {TUTORIAL_ATOL:g} (max-abs) of the kit's client"

    return self_check(
        "ex02_binary_client",
        send_binary_batch,
        (url, x.copy()),
        reference=lambda: predict_tensor(url, x)["output"],
        compare=logits_problem,
        section=SECTION_CLIENT,
        passed=passed,
    )


SECTION_FLASK = (
    "«Python-скрипт» and «Dockerfile» of the Flask service (what keeps ``python server.py`` "
    "running, and which address ``docker run -p 8080:8080`` forwards to)"
)


def flask_fix_problem(run: FlaskRun, lines: str) -> str | None:
    """What is wrong with the student's run of the corrected script (None if it serves)."""
    if run.status == 200:
        if "0.0.0.0" not in lines:
            return (
                "it serves here, but only on the loopback address: in a container, "
                "docker run -p forwards to the container's network interface, not to its "
                "127.0.0.1 — which host must the app listen on?"
            )
        return None
    if run.exited and run.exit_code == 0:
        return (
            "python server.py ended (exit code 0) before anything listened: the app is "
            "defined, but what starts it when the file is run as a script?"
        )
    if run.exited:
        last = run.log_tail.splitlines()[-1] if run.log_tail else "no output"
        return f"python server.py failed with exit code {run.exit_code}: {last}"
    if not run.listening:
        return f"nothing listened on port {run.port}: is the port the one passed in?"
    return f"something listens on port {run.port}, but POST /predict answered {run.status}"


def check_flask_fix(
    serving_lines: Callable[[int], str],
    model: str | Path,
    folder: str | Path,
    timeout: float = 60.0,
) -> Check:
    """``ex02_flask_fix``: the lecture's ``server.py`` with the student's ``serving_lines(port)``
    appended, run as its ``CMD`` would run it (``value``: the :class:`FlaskRun` to go on with —
    the student's when it passed, else the kit's corrected run)."""
    folder = Path(folder)
    port = free_port() if port_open(LECTURE_PORT) else LECTURE_PORT
    written: dict[str, str] = {}

    def run_with_student_lines(port: int) -> FlaskRun:
        lines = serving_lines(port)
        if not isinstance(lines, str):
            raise TypeError(f"return the lines as one string, not {type(lines).__name__}")
        written["lines"] = lines
        return run_lecture_flask(model, folder / "student", port=port, timeout=timeout, fix=lines)

    return self_check(
        "ex02_flask_fix",
        run_with_student_lines,
        (port,),
        reference=lambda: run_lecture_flask(
            model, folder / "corrected", corrected=True, port=port, timeout=timeout
        ),
        compare=lambda run, reference: flask_fix_problem(run, written.get("lines", "")),
        section=SECTION_FLASK,
        passed=lambda run: f"python server.py serves: POST /predict -> {run.status} on {run.port}",
    )
