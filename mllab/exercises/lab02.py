"""Lab 02's exercise: the binary-body client.

* ``ex02_binary_client`` — ``send_binary_batch(url, x)``: send a float32 batch ``x`` of shape
  ``(N, 3, 224, 224)`` to the running server at ``url`` as a binary body and return the logits
  as a numpy array ``(N, 1000)``. Judged by what it sends as well as by what it returns: the
  function is given the URL of a recording proxy (:mod:`mllab.exercises.lab02_wire`) in front of
  the server, which keeps each request's content type and body size. The body must be binary
  (``.npy``, raw bytes, or the v2 binary extension) and about the tensor's float32 bytes, not
  the lecture's JSON text (several times larger); the logits must be the kit's client's within
  :data:`mllab.measure.drift.TUTORIAL_ATOL`; and the function's latency is measured beside the
  kit's JSON client on the same server, interleaved (failed only when every call of the
  function is slower than every call of the JSON client: beyond the spread).
* ``ex02_flask_fix`` — ``serving_lines(port)``: the lines to append to the lecture's Flask
  ``server.py`` so that ``python server.py`` (the image's ``CMD``) serves the app where
  ``docker run -p port:port`` can reach it. Checked by running the script with those lines:
  something listens on ``port``, ``POST /predict`` with the lecture's JSON answers 200, and the
  app is bound to every interface (``0.0.0.0``), not to the container's own loopback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mllab.exercises.check import Check, self_check, show
from mllab.exercises.lab02_wire import RecordingProxy, Sent
from mllab.experiments.serving.flask_demo import LECTURE_PORT, FlaskRun, run_lecture_flask
from mllab.measure.drift import TUTORIAL_ATOL
from mllab.serve.client import predict_json, predict_tensor
from mllab.serve.process import free_port, port_open

#: a binary body may exceed the tensor's bytes by this share and a header (.npy: 128 bytes; the
#: v2 extension: a JSON header of a few hundred bytes); the JSON list is several times larger
WIRE_SLACK, WIRE_HEADER_BYTES = 1.05, 4096
#: content types that carry numbers as text
TEXT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}
#: interleaved calls of the student's function and the kit's JSON client
LATENCY_ROUNDS = 3

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


def wire_problem(sent: Sequence[Sent], tensor_bytes: int) -> str | None:
    """What is wrong with the requests a client sent for a float32 tensor of ``tensor_bytes``
    (None if it went as binary, about that size): nothing sent through the URL given, a text
    content type, or a body that is not the tensor's bytes."""
    posts = [s for s in sent if s.method == "POST" and s.body_bytes]
    if not posts:
        return "nothing was POSTed to the url given: send the batch to that server"
    text = [s for s in posts if _is_text(s)]
    total = sum(s.body_bytes for s in posts)
    if text:
        kinds = ", ".join(sorted({s.content_type or "no content type" for s in text}))
        return (
            f"the body went as {kinds}: {total / 1e6:.2f} MB on the wire for "
            f"{tensor_bytes / 1e6:.2f} MB of float32 (×{total / tensor_bytes:.1f}) — numbers "
            "as text; send the tensor's own bytes"
        )
    if total > WIRE_SLACK * tensor_bytes + WIRE_HEADER_BYTES:
        return (
            f"{total / 1e6:.2f} MB on the wire for {tensor_bytes / 1e6:.2f} MB of float32 "
            f"(×{total / tensor_bytes:.1f}): more than the tensor's bytes and a header"
        )
    if total < tensor_bytes:
        return (
            f"{total} bytes on the wire for a float32 tensor of {tensor_bytes}: was the batch "
            "cast to a smaller type, or cut?"
        )
    return None


def _is_text(sent: Sent) -> bool:
    kind = sent.content_type.split(";")[0].strip().lower()
    if sent.v2_header_bytes is not None:
        return False  # the v2 binary extension: a short JSON header, then the raw tensor
    return kind.startswith("text/") or kind.endswith("json") or kind in TEXT_TYPES


def _median_s(calls: Callable[[], Any], times: list[float]) -> None:
    start = time.perf_counter()
    calls()
    times.append(time.perf_counter() - start)


def check_binary_client(
    send_binary_batch: Callable[[str, np.ndarray], np.ndarray],
    url: str,
    x: np.ndarray,
    rounds: int = LATENCY_ROUNDS,
) -> Check:
    """``ex02_binary_client``: the student's ``send_binary_batch(proxy_url, x)`` through a
    recording proxy in front of the server at ``url``: what it sent, its logits against the
    kit's ``predict_tensor(url, x)``, and its latency against the kit's JSON client
    (``rounds`` interleaved calls each). ``value``: the logits to go on with."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    seen: dict[str, Any] = {}
    with RecordingProxy(url) as proxy:

        def student() -> Any:
            answer = send_binary_batch(proxy.url, x.copy())
            seen["sent"] = proxy.take()
            return answer

        def compare(answer: Any, reference: np.ndarray) -> str | None:
            wrong = logits_problem(answer, reference) or wire_problem(seen["sent"], x.nbytes)
            if wrong:
                return wrong
            mine, text = seen["latency"] = _latencies(send_binary_batch, proxy, url, x, rounds)
            if min(mine) > max(text):
                return (
                    f"every call of yours ({_ms(mine)}) was slower than every call of the "
                    f"kit's JSON client ({_ms(text)}): what does your function do besides send?"
                )
            return None

        def passed(answer: np.ndarray) -> str:
            sent, (mine, text) = seen["sent"], seen["latency"]
            kinds = ", ".join(sorted({s.content_type or "?" for s in sent if s.body_bytes}))
            size = sum(s.body_bytes for s in sent) / x.nbytes
            return (
                f"{kinds}, ×{size:.3f} the float32 bytes; median {_ms(mine)} vs "
                f"{_ms(text)} for the JSON body; logits within {TUTORIAL_ATOL:g}"
            )

        return self_check(
            "ex02_binary_client",
            student,
            reference=lambda: predict_tensor(url, x)["output"],
            compare=compare,
            section=SECTION_CLIENT,
            passed=passed,
            blame=send_binary_batch,
        )


def _latencies(
    send: Callable[[str, np.ndarray], Any],
    proxy: RecordingProxy,
    url: str,
    x: np.ndarray,
    rounds: int,
) -> tuple[list[float], list[float]]:
    """Seconds per call of ``send`` through the proxy and of the kit's JSON client through the
    same proxy, interleaved round by round (a busy moment hits both)."""
    mine: list[float] = []
    text: list[float] = []
    for _ in range(rounds):
        _median_s(lambda: send(proxy.url, x.copy()), mine)
        _median_s(lambda: predict_json(proxy.url, x), text)
    proxy.take()
    return mine, text


def _ms(seconds: Sequence[float]) -> str:
    return f"{1000 * float(np.median(seconds)):.0f} ms"


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
    port: int | None = None,
) -> Check:
    """``ex02_flask_fix``: the lecture's ``server.py`` with the student's ``serving_lines(port)``
    appended, run as its ``CMD`` would run it (``value``: the :class:`FlaskRun` to go on with —
    the student's when it passed, else the kit's corrected run). ``port``: the lecture's (8080)
    when free, else a free one; a caller that runs beside other servers passes its own."""
    folder = Path(folder)
    if port is None:
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
