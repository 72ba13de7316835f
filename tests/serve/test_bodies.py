"""Request bodies: reading each kind, checking the batch, the size limit while reading."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from mllab.serve.bodies import (
    BodyLimit,
    RequestError,
    check_batch,
    json_body,
    npy_bytes,
    tensor_from_json,
    tensor_from_npy,
    tensor_from_raw,
)

SAMPLE = (3, 224, 224)


def test_the_three_readers_give_back_the_same_tensor(random_batch):
    x = np.ascontiguousarray(random_batch(2)[:, :, :8, :8])  # small: JSON text is slow
    assert np.array_equal(tensor_from_npy(npy_bytes(x)), x)
    assert np.array_equal(tensor_from_raw(x.tobytes(), "2,3,8,8"), x)
    assert np.array_equal(tensor_from_raw(x.tobytes(), "2x3x8x8"), x)
    # the lecture's JSON list: Python's float repr round-trips float32 exactly
    assert np.array_equal(tensor_from_json(json_body(x)), x)
    assert json.loads(json_body(x[:, :1, :1, :2])) == {"input": x[:, :1, :1, :2].tolist()}


@pytest.mark.parametrize(
    "read, status, fragment",
    [
        (lambda: tensor_from_npy(b"junk"), 400, ".npy"),
        (lambda: tensor_from_raw(b"\0" * 8, None), 400, "X-Shape"),
        (lambda: tensor_from_raw(b"\0" * 8, "1,a"), 400, "comma-separated"),
        (lambda: tensor_from_raw(b"\0" * 8, "0,2"), 422, "positive"),
        (lambda: tensor_from_raw(b"\0" * 8, "1,3"), 422, "needs 12"),
        (lambda: tensor_from_json(b"[1,"), 400, "JSON"),
        (lambda: tensor_from_json(b"[1]"), 422, '"input"'),
        (lambda: tensor_from_json(b'{"input": [[1], [1, 2]]}'), 422, "rectangular"),
    ],
)
def test_unreadable_bodies_say_why_with_a_status(read, status, fragment):
    with pytest.raises(RequestError, match=fragment) as caught:
        read()
    assert caught.value.status == status


def test_check_batch_accepts_a_good_batch_as_contiguous_float32(random_batch):
    x = random_batch(2)[:, :, ::-1]  # not contiguous
    checked = check_batch(x, SAMPLE, max_batch=2)
    assert checked.flags.c_contiguous and np.array_equal(checked, x)


@pytest.mark.parametrize(
    "x, fragment",
    [
        (np.zeros((1, *SAMPLE), np.float64), "dtype float64"),
        (np.zeros((1, 3, 32, 32), np.float32), "shape (1, 3, 32, 32)"),
        (np.zeros(SAMPLE, np.float32), "(N, 3, 224, 224)"),
        (np.zeros((0, *SAMPLE), np.float32), "0 samples"),
        (np.zeros((3, *SAMPLE), np.float32), "1 to 2 (MAX_BATCH)"),
        (np.full((1, *SAMPLE), np.inf, np.float32), "NaN or infinity"),
    ],
)
def test_check_batch_rejects_with_422(x, fragment):
    with pytest.raises(RequestError) as caught:
        check_batch(x, SAMPLE, max_batch=2)
    assert caught.value.status == 422 and fragment in str(caught.value)


def _run_limit(chunks: list[bytes], max_bytes: int, headers=()) -> tuple[list, list, list]:
    """Feed ``chunks`` through :class:`BodyLimit`: (chunks read, messages sent, bodies seen)."""
    received, sent, seen = [], [], []
    queue = list(chunks)

    async def receive():
        received.append(1)
        body = queue.pop(0) if queue else b"\0" * 1000  # endless when the list runs out
        return {"type": "http.request", "body": body, "more_body": bool(queue) or not chunks}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        seen.append((await receive())["body"])

    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": list(headers)}
    asyncio.run(BodyLimit(app, max_bytes=max_bytes)(scope, receive, send))
    return received, sent, seen


def test_body_limit_stops_reading_a_stream_at_the_limit():
    """A chunked body has no Content-Length: the limit is counted as the chunks arrive, the
    rest is never read and the application never sees the request."""
    received, sent, seen = _run_limit([], max_bytes=10_500)
    assert len(received) == 11 and not seen
    assert sent[0]["status"] == 413
    assert "MAX_BODY_MB" in json.loads(sent[1]["body"])["error"]


def test_body_limit_rejects_a_declared_length_before_reading():
    received, sent, seen = _run_limit([b"x"], 10, headers=[(b"content-length", b"11")])
    assert not received and not seen and sent[0]["status"] == 413


def test_body_limit_passes_a_body_under_the_limit_whole():
    received, sent, seen = _run_limit([b"ab", b"cd"], max_bytes=4)
    assert seen == [b"abcd"] and not sent
