"""The served model: a file whose sha256 was checked, its ONNX Runtime session, its header.

With ``batch_max_size`` > 0 (default: 0 on CPU, 8 on a GPU), :meth:`Model.run` goes through a
:class:`~mllab.serve.batcher.Batcher`: concurrent requests run as one batch (Triton's dynamic
batcher), and one worker thread owns ``session.run``. Without it, requests run one at a time
under a lock.

Only numpy and onnxruntime (through :mod:`mllab.runtime.sessions`) are used, never torch or
onnx: this runs in the slim serving image.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from mllab.core.errors import MllabError
from mllab.model.integrity import verify_model
from mllab.runtime.cgroup import usable_cpus
from mllab.runtime.sessions import SessionConfig, create_session
from mllab.serve.batcher import Batcher, Inference, default_batch_size
from mllab.serve.disconnect import ClientGone, client_gone

#: :meth:`Model.probe`: a run this recent proves the session answers; how long to wait for it
PROBE_MAX_AGE_S = 5.0
PROBE_WAIT_S = 10.0


class Model:
    """A model file whose sha256 was checked, and its ONNX Runtime session."""

    def __init__(
        self,
        path: str | Path,
        device: str = "cpu",
        threads: int | None = None,
        batch_max_size: int | None = None,
        batch_max_queue_delay_ms: float = 0.0,
    ):
        self.path = Path(path)
        if not self.path.is_file():
            raise MllabError(f"no model file at {self.path} (set MODEL_PATH or --model)")
        # The digest is checked before ONNX Runtime parses a byte of the file: a tampered
        # model must never serve, not even once.
        self.sha256 = verify_model(self.path)
        # no spinning: a server shares its cores (and its --cpus quota) with the HTTP stack
        config = SessionConfig(device=device, threads=threads, allow_spinning=False)
        try:
            self.session = create_session(self.path, config)
        except MllabError:
            raise
        except Exception as error:  # onnxruntime's own errors: not a model it can run
            raise MllabError(f"ONNX Runtime cannot load {self.path}: {error}") from None
        self.provider = self.session.get_providers()[0]
        self.threads = threads or usable_cpus()
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        self.input_name, self.output_name = inputs[0].name, outputs[0].name
        if inputs[0].type != "tensor(float)":
            raise MllabError(f"{self.path} takes {inputs[0].type}; the server sends float32")
        self.sample_shape = _sample_shape(inputs[0].shape, self.path)
        # One inference at a time: the intra-op pool already uses every core the quota
        # allows, and two runs sharing them would only make both slower.
        self._lock = threading.Lock()
        self._batcher: Batcher | None = None
        self._answered = 0.0  # time.monotonic() of the last session.run that answered
        try:  # warm-up: arenas and kernels are set up before the first client waits for them
            self.run(np.zeros((1, *self.sample_shape), dtype=np.float32))
        except Exception as error:
            raise MllabError(f"{self.path} fails on a zero input: {error}") from None
        if batch_max_size is not None and batch_max_size < 0:
            raise MllabError(f"BATCH_MAX_SIZE must be 0 (off) or more, not {batch_max_size}")
        if batch_max_size is None:  # not configured: what pays on this provider
            batch_max_size = default_batch_size(self.provider)
        if batch_max_size > 0:  # after the warm-up, which runs alone
            self._batcher = Batcher(self._run_session, batch_max_size, batch_max_queue_delay_ms)
        self.ready = True

    def run(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """Logits for a checked batch and the milliseconds ``session.run`` took (of the whole
        batch it ran in, when batching is on). Thread-safe; blocks until the answer is there."""
        inference = self.infer(x)
        return inference.logits, inference.latency_ms

    def infer(self, x: np.ndarray) -> Inference:
        """:meth:`run` with how the batch was formed (its rows, this request's offset).

        :class:`~mllab.serve.disconnect.ClientGone` instead when the current request's client
        has gone by the time the session is free for it (:mod:`mllab.serve.disconnect`)."""
        if self._batcher is not None:
            return self._batcher.submit(x, client_gone())
        logits, latency_ms = self._run_session(x)
        return Inference(logits, latency_ms, int(x.shape[0]), 0)

    @property
    def batching(self) -> dict[str, float] | None:
        """The batcher's settings and counters (None when batching is off), for /metadata."""
        return None if self._batcher is None else self._batcher.counters()

    def close(self) -> None:
        """Run what is queued, then stop the batch worker (a no-op without batching)."""
        if self._batcher is not None:
            self._batcher.close()

    def probe(self, max_age_s: float = PROBE_MAX_AGE_S, wait_s: float = PROBE_WAIT_S) -> bool:
        """Readiness: whether the session still answers.

        True at once when a ``session.run`` answered within ``max_age_s`` (under load the
        requests themselves prove it; no extra inference). Otherwise one batch-1 run of zeros,
        if the session is free within ``wait_s``; False when it is not (a run hangs) or fails.
        """
        if time.monotonic() - self._answered < max_age_s:
            return True
        if not self._lock.acquire(timeout=wait_s):
            return False
        try:
            if time.monotonic() - self._answered < max_age_s:  # another probe just ran
                return True
            zeros = np.zeros((1, *self.sample_shape), dtype=np.float32)
            self.session.run([self.output_name], {self.input_name: zeros})
            self._answered = time.monotonic()
            return True
        except Exception:  # noqa: BLE001 - any failure of the session means "not ready"
            return False
        finally:
            self._lock.release()

    def _run_session(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """``session.run`` on ``x`` alone, under the lock; the logits and its milliseconds.
        :class:`ClientGone` when the current request's client has gone once the lock is ours
        (the batcher's worker thread runs outside any request: it checks per request)."""
        with self._lock:
            gone = client_gone()
            if gone is not None and gone():
                raise ClientGone()
            start = time.perf_counter()
            logits = self.session.run([self.output_name], {self.input_name: x})[0]
            latency_ms = (time.perf_counter() - start) * 1000.0
            self._answered = time.monotonic()
            return logits, latency_ms

    def metadata(self) -> dict[str, Any]:
        """What ``GET /metadata`` answers (without the server's limits and versions)."""
        meta = self.session.get_modelmeta()
        inputs, outputs = self.session.get_inputs()[0], self.session.get_outputs()[0]
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "size_bytes": self.path.stat().st_size,
            **onnx_header(self.path),
            "producer": meta.producer_name,
            "graph_name": meta.graph_name,
            "metadata_props": dict(meta.custom_metadata_map),
            "input": {"name": inputs.name, "shape": inputs.shape, "type": inputs.type},
            "output": {"name": outputs.name, "shape": outputs.shape, "type": outputs.type},
        }


def _sample_shape(shape: list[Any], path: Path) -> tuple[int, ...]:
    """The per-sample shape of an ``(N, C, H, W)`` input whose C, H, W are fixed."""
    rest = shape[1:]
    if len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in rest):
        raise MllabError(f"{path} takes input of shape {shape}; the server needs (N, C, H, W)")
    return tuple(rest)


def onnx_header(path: str | Path) -> dict[str, Any]:
    """``ir_version``, ``producer_version`` and ``opsets`` ({domain: version}) of an ONNX file.

    ONNX Runtime does not expose the opset and the ``onnx`` package is not in the serving image,
    so the top-level protobuf fields of ``ModelProto`` are read directly; the graph (field 7,
    the weights) is skipped with a seek, not read.
    """
    header: dict[str, Any] = {"ir_version": None, "producer_version": None, "opsets": {}}
    try:
        with open(path, "rb") as handle:
            for number, value in _proto_fields(handle, skip={7}):
                if number == 1:
                    header["ir_version"] = value
                elif number == 3:
                    header["producer_version"] = value.decode("utf-8", "replace")
                elif number == 8:
                    fields = dict(_proto_fields(io.BytesIO(value)))
                    domain = fields.get(1, b"").decode("utf-8", "replace") or "ai.onnx"
                    header["opsets"][domain] = fields.get(2)
    except (OSError, ValueError):  # not protobuf as expected: the session loaded it anyway
        pass
    return header


def _proto_fields(
    handle: IO[bytes], skip: frozenset[int] | set[int] = frozenset()
) -> Iterator[tuple[int, Any]]:
    """(field number, value) of one protobuf message: varints as int, the rest as bytes."""
    while True:
        key = _varint(handle)
        if key is None:
            return
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, _varint(handle)
        elif wire == 2:
            size = _varint(handle)
            if size is None:
                raise ValueError("truncated field: no length after its key")
            if number in skip:
                handle.seek(size, io.SEEK_CUR)
            else:
                yield number, handle.read(size)
        elif wire in (1, 5):
            handle.read(8 if wire == 1 else 4)
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")


def _varint(handle: IO[bytes]) -> int | None:
    """One base-128 varint, or None at the end of the message."""
    result, shift = 0, 0
    while True:
        byte = handle.read(1)
        if not byte:
            if shift:
                raise ValueError("truncated varint")
            return None
        result |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            return result
