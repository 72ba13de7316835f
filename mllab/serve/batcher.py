"""Dynamic batching with the semantics of Triton's dynamic batcher.

Requests that arrive together run as one ``session.run`` of up to ``max_size`` rows; the
oldest request waits at most ``max_queue_delay_ms`` for company (Triton's
``max_queue_delay_microseconds``), and a batch starts at once when it is full. As in Triton:

* requests are taken first in, first out and are never split: a request that does not fit in
  the rows left waits for the next batch (a request larger than ``max_size`` runs alone: the
  server's ``MAX_BATCH`` already bounds a request's rows);
* a delay of 0 batches only what queued up while the previous batch ran;
* each caller gets its own rows back: the rows ``offset:offset + n`` of the batch's output, a
  view of the same array, so they are bit-identical to ``session.run`` of the same assembled
  batch. Between batch sizes they may differ in the last bits (ONNX Runtime's kernels block
  their loops by batch size): identity holds per batch size, which is what
  :class:`Inference` reports with ``batch_rows`` and ``offset``.

One worker thread owns ``session.run`` for every batch; callers block in their own threads
(the server's thread pool) on a future. Bounding how many callers queue is admission control's
job (the server's in-flight limit), not the batcher's. A caller may pass a ``gone`` check
(:mod:`mllab.serve.disconnect`): a request whose client has gone by the time its batch is
formed gets :class:`~mllab.serve.disconnect.ClientGone` and no rows in the batch.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from mllab.core.errors import MllabError
from mllab.serve.disconnect import ClientGone

#: Batching off on CPU: measured on this kit's 2-core machine (ResNet-50, 2 threads), images/s
#: fall with the batch size (batch 1: 7.7/s, 4: 5.5/s, 8: 4.7/s), so a batch only adds queueing.
#: On a GPU a batch of 8 fills the device far better than 8 runs of 1.
DEFAULT_BATCH_SIZES = {"CPUExecutionProvider": 0}
DEFAULT_ACCELERATOR_BATCH = 8

#: ``run_batch(x) -> (outputs, milliseconds session.run took)``
BatchRunner = Callable[[np.ndarray], tuple[np.ndarray, float]]


def default_batch_size(provider: str) -> int:
    """The batch size when none is configured: 0 (off) on CPU, 8 on an accelerator."""
    return DEFAULT_BATCH_SIZES.get(provider, DEFAULT_ACCELERATOR_BATCH)


class BatcherClosed(MllabError):
    """A request reached a batcher that is shutting down."""


@dataclass(frozen=True)
class Inference:
    """One caller's answer: its rows of the batch it ran in, and how that batch was formed."""

    logits: np.ndarray
    latency_ms: float  # session.run of the whole batch
    batch_rows: int  # rows in that batch (the batch size the answer is bit-identical at)
    offset: int  # this request's first row in the batch
    queue_ms: float = 0.0  # waited from submission until its batch started
    batch_id: int = 0  # which batch (1, 2, ... in the order they ran; 0: not batched)


@dataclass
class _Pending:
    x: np.ndarray
    gone: Callable[[], bool] | None = None  # whether its client has gone (then: dropped)
    arrived: float = field(default_factory=time.monotonic)
    future: Future[Inference] = field(default_factory=Future)

    @property
    def rows(self) -> int:
        return int(self.x.shape[0])

    def joins(self, other: _Pending) -> bool:
        """Whether this request can share a batch with ``other`` (same sample shape, dtype)."""
        return self.x.shape[1:] == other.x.shape[1:] and self.x.dtype == other.x.dtype


class Batcher:
    """Runs submitted batches together, Triton-style; one worker thread calls ``run_batch``."""

    def __init__(
        self,
        run_batch: BatchRunner,
        max_size: int,
        max_queue_delay_ms: float = 0.0,
        name: str = "mllab-batcher",
    ):
        if max_size < 1:
            raise MllabError(f"the batch size must be at least 1, not {max_size}")
        if max_queue_delay_ms < 0:
            raise MllabError(f"the queue delay must be >= 0 ms, not {max_queue_delay_ms}")
        self.run_batch = run_batch
        self.max_size = max_size
        self.max_queue_delay_ms = max_queue_delay_ms
        self._queue: deque[_Pending] = deque()
        self._wakeup = threading.Condition()
        self._closed = False
        self.batches = self.requests = self.rows = 0  # counters, read by /metadata
        self.dropped = 0  # requests whose client had gone: never run
        self._worker = threading.Thread(target=self._loop, name=name, daemon=True)
        self._worker.start()

    def submit(self, x: np.ndarray, gone: Callable[[], bool] | None = None) -> Inference:
        """Queue ``x`` (``(n, ...)``), wait for its batch to run and return its rows;
        :class:`ClientGone` instead when ``gone()`` is true as its batch is formed."""
        pending = _Pending(x, gone)
        with self._wakeup:
            if self._closed:
                raise BatcherClosed("the server is shutting down: send the request again later")
            self._queue.append(pending)
            self._wakeup.notify()
        return pending.future.result()

    def close(self, timeout: float | None = 30.0) -> None:
        """Accept nothing more, run what is queued, stop the worker."""
        with self._wakeup:
            self._closed = True
            self._wakeup.notify()
        self._worker.join(timeout)

    def counters(self) -> dict[str, float]:
        """Configuration and what ran so far: batches, requests, rows, mean rows per batch."""
        return {
            "max_size": self.max_size,
            "max_queue_delay_ms": self.max_queue_delay_ms,
            "batches": self.batches,
            "requests": self.requests,
            "rows": self.rows,
            "dropped": self.dropped,
            "mean_batch_rows": self.rows / self.batches if self.batches else 0.0,
        }

    def _take(self) -> list[_Pending] | None:
        """The next batch, once it is full or its oldest request waited long enough; None when
        closed and drained."""
        with self._wakeup:
            while not self._queue:
                if self._closed:
                    return None
                self._wakeup.wait()
            deadline = self._queue[0].arrived + self.max_queue_delay_ms / 1000.0
            while not self._closed and not self._full():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._wakeup.wait(left)
            batch = [self._queue.popleft()]
            rows = batch[0].rows
            while self._queue and self._fits(batch[0], rows, self._queue[0]):
                rows += self._queue[0].rows
                batch.append(self._queue.popleft())
            return batch

    def _fits(self, first: _Pending, rows: int, candidate: _Pending) -> bool:
        return rows + candidate.rows <= self.max_size and candidate.joins(first)

    def _full(self) -> bool:
        """No request can join the batch at the head of the queue any more."""
        first = self._queue[0]
        rows = first.rows
        for pending in list(self._queue)[1:]:
            if not self._fits(first, rows, pending):
                return True
            rows += pending.rows
        return rows >= self.max_size

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            if batch := self._live(batch):
                self._run(batch)

    def _live(self, batch: list[_Pending]) -> list[_Pending]:
        """The requests of ``batch`` whose client is still there; the others get
        :class:`ClientGone` now, before ``session.run`` (the batch runs smaller)."""
        live = []
        for pending in batch:
            if pending.gone is not None and pending.gone():
                self.dropped += 1
                pending.future.set_exception(ClientGone())
            else:
                live.append(pending)
        return live

    def _run(self, batch: list[_Pending]) -> None:
        started = time.monotonic()
        x = batch[0].x if len(batch) == 1 else np.concatenate([p.x for p in batch])
        try:
            out, latency_ms = self.run_batch(x)
        except BaseException as error:  # every caller of the batch gets the error, not a hang
            for pending in batch:
                pending.future.set_exception(error)
            return
        self.batches += 1
        self.requests += len(batch)
        self.rows += x.shape[0]
        offset = 0
        for pending in batch:
            rows = out[offset : offset + pending.rows]
            queue_ms = (started - pending.arrived) * 1000.0
            answer = Inference(rows, latency_ms, x.shape[0], offset, queue_ms, self.batches)
            pending.future.set_result(answer)
            offset += pending.rows
