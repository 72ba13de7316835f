"""The dynamic batcher: Triton's semantics (full batch at once, bounded wait, FIFO, no split),
each caller's own rows, errors to every caller, drain on close; bit-identity on a real session."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mllab.core.errors import MllabError
from mllab.runtime.sessions import create_session
from mllab.serve.batcher import Batcher, BatcherClosed
from mllab.serve.disconnect import ClientGone
from mllab.serve.model import Model


class Recorder:
    """A ``run_batch`` that doubles its input and remembers the batch sizes it saw; it can be
    held (``gate``) so that requests queue up behind a running batch."""

    def __init__(self, hold: bool = False):
        self.sizes: list[int] = []
        self.gate = threading.Event()
        self.started = threading.Event()
        if not hold:
            self.gate.set()

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        self.started.set()
        self.gate.wait(10)
        self.sizes.append(int(x.shape[0]))
        return x * 2.0, 1.0


def rows(n: int, start: float) -> np.ndarray:
    """``n`` rows of 3 numbers, row i filled with ``start + i``: each caller's rows are known."""
    return np.repeat(np.arange(start, start + n, dtype=np.float32)[:, None], 3, axis=1)


def submit_all(batcher: Batcher, inputs: list[np.ndarray]):
    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(batcher.submit, inputs))


def queue_behind_a_held_batch(batcher: Batcher, recorder: Recorder, inputs: list[np.ndarray]):
    """Hold the worker in a first batch, queue ``inputs`` in order, then release it."""
    pool = ThreadPoolExecutor(len(inputs) + 1)
    first = pool.submit(batcher.submit, rows(1, 100))
    assert recorder.started.wait(5)
    futures = []
    for x in inputs:  # one at a time, so that the queue order is the list order
        futures.append(pool.submit(batcher.submit, x))
        while len(batcher._queue) < len(futures):
            time.sleep(0.001)
    recorder.gate.set()
    answers = [f.result(10) for f in futures]
    first.result(10)
    pool.shutdown()
    return answers


def test_requests_arriving_together_run_as_one_batch_and_get_their_own_rows():
    recorder = Recorder()
    batcher = Batcher(recorder, max_size=16, max_queue_delay_ms=500)
    inputs = [rows(n, 10 * i) for i, n in enumerate((1, 2, 3, 2))]
    answers = submit_all(batcher, inputs)
    assert recorder.sizes == [8]  # 1 + 2 + 3 + 2 rows, one session.run
    for x, answer in zip(inputs, answers, strict=True):
        assert np.array_equal(answer.logits, x * 2.0)  # its own rows, none of the others
        assert answer.batch_rows == 8 and answer.batch_id == 1
    spans = sorted((a.offset, a.offset + a.logits.shape[0]) for a in answers)
    assert spans[0][0] == 0 and spans[-1][1] == 8  # the rows tile the batch, no gap, no overlap
    assert all(end == start for (_, end), (start, _) in zip(spans, spans[1:], strict=False))
    assert batcher.counters()["mean_batch_rows"] == 8.0
    batcher.close()


def test_a_full_batch_starts_without_waiting_for_the_delay():
    recorder = Recorder()
    batcher = Batcher(recorder, max_size=4, max_queue_delay_ms=20_000)
    start = time.monotonic()
    submit_all(batcher, [rows(2, 0), rows(2, 10)])
    assert time.monotonic() - start < 5 and recorder.sizes == [4]
    batcher.close()


def test_a_lone_request_waits_at_most_the_queue_delay():
    batcher = Batcher(Recorder(), max_size=8, max_queue_delay_ms=150)
    start = time.monotonic()
    answer = batcher.submit(rows(1, 0))
    waited = time.monotonic() - start
    assert 0.14 <= waited < 2.0 and answer.batch_rows == 1
    assert answer.queue_ms >= 140
    batcher.close()


def test_no_delay_batches_what_queued_behind_a_running_batch():
    recorder = Recorder(hold=True)
    batcher = Batcher(recorder, max_size=8, max_queue_delay_ms=0)
    queue_behind_a_held_batch(batcher, recorder, [rows(1, 0), rows(1, 1), rows(1, 2)])
    assert recorder.sizes == [1, 3]
    batcher.close()


def test_first_in_first_out_and_a_request_is_never_split():
    recorder = Recorder(hold=True)
    batcher = Batcher(recorder, max_size=4, max_queue_delay_ms=0)
    inputs = [rows(3, 0), rows(2, 10), rows(1, 20), rows(1, 30)]
    answers = queue_behind_a_held_batch(batcher, recorder, inputs)
    # 3 fit; 2 more would make 5 > 4: the 2 wait (no split, no overtaking by the 1s behind)
    assert recorder.sizes == [1, 3, 4]
    assert [(a.batch_rows, a.offset) for a in answers] == [(3, 0), (4, 0), (4, 2), (4, 3)]
    for x, answer in zip(inputs, answers, strict=True):
        assert np.array_equal(answer.logits, x * 2.0)
    batcher.close()


def test_a_request_larger_than_the_batch_runs_alone():
    recorder = Recorder()
    batcher = Batcher(recorder, max_size=2, max_queue_delay_ms=0)
    answer = batcher.submit(rows(5, 0))
    assert recorder.sizes == [5] and answer.batch_rows == 5
    batcher.close()


def test_requests_of_another_sample_shape_go_to_the_next_batch():
    recorder = Recorder(hold=True)
    batcher = Batcher(recorder, max_size=8, max_queue_delay_ms=0)
    other = np.ones((1, 4), np.float32)
    queue_behind_a_held_batch(batcher, recorder, [rows(1, 0), other, rows(1, 2)])
    assert recorder.sizes == [1, 1, 1, 1]
    batcher.close()


def test_an_error_reaches_every_caller_of_the_batch_and_the_worker_goes_on():
    calls = []

    def failing(x):
        calls.append(x.shape[0])
        if len(calls) == 1:
            raise RuntimeError("session.run failed")
        return x, 1.0

    batcher = Batcher(failing, max_size=8, max_queue_delay_ms=300)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(batcher.submit, rows(1, i)) for i in range(2)]
        for future in futures:
            with pytest.raises(RuntimeError, match="session.run failed"):
                future.result(10)
    assert np.array_equal(batcher.submit(rows(1, 5)).logits, rows(1, 5))
    batcher.close()


def test_a_request_whose_client_left_gets_no_rows_and_the_others_run_without_it():
    recorder = Recorder(hold=True)
    batcher = Batcher(recorder, max_size=8, max_queue_delay_ms=0)
    left = threading.Event()
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(batcher.submit, rows(1, 100))
        assert recorder.started.wait(5)
        stays = pool.submit(batcher.submit, rows(2, 0))
        goes = pool.submit(batcher.submit, rows(3, 10), left.is_set)
        while len(batcher._queue) < 2:
            time.sleep(0.001)
        left.set()  # its client goes while it waits behind the running batch
        recorder.gate.set()
        first.result(10)
        np.testing.assert_array_equal(stays.result(10).logits, rows(2, 0) * 2.0)
        with pytest.raises(ClientGone, match="disconnected"):
            goes.result(10)
    batcher.close()
    assert recorder.sizes == [1, 2]  # the 3 rows of the request that left never ran
    assert batcher.counters()["dropped"] == 1


def test_close_runs_what_is_queued_then_refuses():
    recorder = Recorder(hold=True)
    batcher = Batcher(recorder, max_size=8, max_queue_delay_ms=0)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(batcher.submit, rows(1, 0))
        assert recorder.started.wait(5)
        queued = pool.submit(batcher.submit, rows(1, 1))
        while not batcher._queue:
            time.sleep(0.001)
        closing = pool.submit(batcher.close)
        recorder.gate.set()
        closing.result(10)
        assert np.array_equal(queued.result(10).logits, rows(1, 1) * 2.0) and first.result(10)
    with pytest.raises(BatcherClosed, match="shutting down"):
        batcher.submit(rows(1, 0))


@pytest.mark.parametrize("size, delay", [(0, 0.0), (4, -1.0)])
def test_bad_settings_are_clear_errors(size, delay):
    with pytest.raises(MllabError, match="at least 1|>= 0 ms"):
        Batcher(Recorder(), size, delay)


def test_batched_rows_are_bit_identical_to_one_session_run_of_the_same_batch(
    tiny_model, random_batch
):
    """What is compared: each caller's rows against ``session.run`` (a separate session on the
    same file, same options) of the batch assembled the same way — the callers' inputs
    concatenated in the order of their offsets — and against its own rows alone, placed at
    the same offset in a zero-filled batch of the same size. Identity is claimed per batch
    size only: a batch of another size may differ in the last bits."""
    model = Model(tiny_model, batch_max_size=8, batch_max_queue_delay_ms=300)
    session = create_session(tiny_model, threads=model.threads)
    inputs = [random_batch(n, seed) for seed, n in enumerate((1, 3, 2, 1, 1, 2))]
    with ThreadPoolExecutor(len(inputs)) as pool:
        answers = list(pool.map(model.infer, inputs))
    assert max(a.batch_rows for a in answers) > 1  # some requests did share a batch
    for batch_id in {a.batch_id for a in answers}:
        members = sorted(
            (a.offset, x, a) for x, a in zip(inputs, answers, strict=True) if a.batch_id == batch_id
        )
        assembled = np.concatenate([x for _, x, _ in members])
        alone = session.run(None, {"input": assembled})[0]
        for offset, x, answer in members:
            n = x.shape[0]
            assert np.array_equal(answer.logits, alone[offset : offset + n])
            padded = np.zeros_like(assembled)
            padded[offset : offset + n] = x
            own = session.run(None, {"input": padded})[0][offset : offset + n]
            assert np.array_equal(answer.logits, own)
    model.close()
