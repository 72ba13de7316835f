"""Lab 02: the server against ONNX Runtime in this process — same answers, and what HTTP costs.

:func:`server_parity` compares the logits the server answers for each body kind with
``session.run`` here (:class:`ServerParity`). :func:`measure_overhead` times the same input over
HTTP and in this process, side by side and interleaved, so that the ratio HTTP / in-process is
measured under the same conditions (:class:`HttpOverhead`); :func:`http_overhead` starts a
server for the purpose (benchmarks, the suite).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np

from mllab.measure.drift import Drift, compare
from mllab.measure.stats import Stats, summarize
from mllab.model.preprocess import preprocess, sample_images
from mllab.runtime.sessions import create_session
from mllab.serve.bodies import json_body, npy_bytes
from mllab.serve.client import BODY_KINDS, image_bytes, predict_image, predict_json, predict_tensor
from mllab.serve.process import start_server

#: seconds between timed calls (idle ONNX Runtime pools stop spinning before the next one)
PAUSE = 0.02


@dataclass
class BodyParity:
    """The server's logits for one body kind against ``session.run`` in this process."""

    body: str
    drift: Drift


@dataclass
class ServerParity:
    """f_prod(x) = f(x)? One :class:`BodyParity` per body kind that answers logits."""

    bodies: list[BodyParity]

    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def worst_max_abs(self) -> float:
        """The largest max-abs difference over the body kinds."""
        return max(b.drift.max_abs for b in self.bodies)

    def rows(self) -> list[dict[str, Any]]:
        """Table rows: the body kind and its distances."""
        return [{"body": b.body, **asdict(b.drift)} for b in self.bodies]


def server_parity(answers: Mapping[str, Mapping[str, Any]], local: np.ndarray) -> ServerParity:
    """Compare each answer's ``output`` (``predict_tensor``/``predict_json``) with ``local``."""
    return ServerParity(
        [BodyParity(kind, compare(a["output"], local)) for kind, a in answers.items()]
    )


@dataclass
class BodyOverhead:
    """HTTP and in-process latency of one body kind at batch 1 (medians in ms)."""

    body: str
    http_ms: float
    in_process_ms: float
    ratio: float  # of the medians
    ratio_min: float  # of the fastest calls: what is left when no other process interferes
    server_inference_ms: float  # the server's own ``latency_ms`` (its session.run)
    body_bytes: int
    repeats: int


@dataclass
class HttpOverhead:
    """What HTTP costs on top of ``session.run``, per body kind, measured interleaved."""

    bodies: list[BodyOverhead]
    threads: int | None  # ONNX Runtime threads of the in-process session (None: the quota)

    SCHEMA_VERSION: ClassVar[int] = 1

    def by_body(self) -> dict[str, BodyOverhead]:
        """The rows keyed by body kind (``image``, ``npy``, ``raw``, ``json``)."""
        return {b.body: b for b in self.bodies}


def _timed(fn: Callable[[], Any], pause: float = 0.0) -> tuple[float, Any]:
    """Seconds ``fn`` took, after an untimed ``pause``, and what it returned."""
    time.sleep(pause)
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _row(kind: str, http: Stats, local: Stats, server_ms: list[float], size: int) -> BodyOverhead:
    return BodyOverhead(
        body=kind,
        http_ms=http.p50_ms,
        in_process_ms=local.p50_ms,
        ratio=http.p50_ms / local.p50_ms,
        ratio_min=http.min_ms / local.min_ms,
        server_inference_ms=float(np.median(server_ms)),
        body_bytes=size,
        repeats=http.repeats,
    )


def measure_overhead(
    url: str,
    model: str | Path,
    image: str | Path | bytes | None = None,
    repeats: int = 20,
    warmup: int = 3,
    threads: int | None = None,
    pause: float = PAUSE,
) -> HttpOverhead:
    """HTTP and in-process latency of batch 1 for each body kind, measured interleaved.

    In-process is ``session.run`` on the same input (plus decoding and preprocessing for the
    image, which the server does too); HTTP is the client's whole round trip (serialising,
    sending, parsing on the server, inference, the answer). Each repeat times every kind both
    ways in turn, so that a slow moment of this shared machine hits both sides.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, not {repeats} and {warmup}")
    data = image_bytes(image if image is not None else sample_images()[0])
    x = preprocess(data)[None]
    session = create_session(model, threads=threads)
    name = session.get_inputs()[0].name
    in_process = {
        "image": lambda: session.run(None, {name: preprocess(data)[None]}),
        **{kind: lambda: session.run(None, {name: x}) for kind in ("npy", "raw", "json")},
    }
    samples: dict[str, dict[str, list[float]]] = {k: {"http": [], "local": []} for k in BODY_KINDS}
    server_ms: dict[str, list[float]] = {k: [] for k in BODY_KINDS}
    with httpx.Client(timeout=120.0) as client:  # one connection, kept alive, as a real client
        over_http = {
            "image": lambda: predict_image(url, data, client=client),
            "npy": lambda: predict_tensor(url, x, "npy", client=client),
            "raw": lambda: predict_tensor(url, x, "raw", client=client),
            "json": lambda: predict_json(url, x, client=client),
        }
        for round_ in range(warmup + repeats):
            for kind in BODY_KINDS:
                # Alternate which side goes first, and pause before each timed call: an ONNX
                # Runtime pool spins for a while after a run, and on a 2-core machine those
                # spinning threads would slow whichever side runs next.
                local_first = round_ % 2 == 1
                first, second = (
                    (in_process[kind], over_http[kind])
                    if local_first
                    else (over_http[kind], in_process[kind])
                )
                a, b = _timed(first, pause), _timed(second, pause)
                (local_s, _), (http_s, answer) = (a, b) if local_first else (b, a)
                if round_ >= warmup:
                    samples[kind]["local"].append(local_s)
                    samples[kind]["http"].append(http_s)
                    server_ms[kind].append(answer["latency_ms"])
    sizes = {
        "image": len(data),
        "npy": len(npy_bytes(x)),
        "raw": x.nbytes,
        "json": len(json_body(x)),
    }
    rows = [
        _row(
            kind,
            summarize(samples[kind]["http"], name=f"{kind} over HTTP"),
            summarize(samples[kind]["local"], name=f"{kind} in process"),
            server_ms[kind],
            sizes[kind],
        )
        for kind in BODY_KINDS
    ]
    return HttpOverhead(rows, threads)


def http_overhead(
    model: str | Path | None = None,
    repeats: int = 20,
    warmup: int = 3,
    threads: int | None = None,
    pause: float = PAUSE,
) -> HttpOverhead:
    """:func:`measure_overhead` against a server started here for the purpose (benchmarks)."""
    if model is None:
        from mllab.model.artifacts import default_model  # onnx + torch (~0.5 s): only here

        model = default_model()
    with start_server(model, threads=threads) as server:
        return measure_overhead(server.url, model, None, repeats, warmup, threads, pause)
