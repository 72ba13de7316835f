"""The client's three body kinds, against the app in process (FastAPI's test client is an
``httpx.Client``), and the server's errors as :class:`ServerError`."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.measure.drift import TUTORIAL_ATOL, compare
from mllab.model.integrity import sha256_file
from mllab.model.preprocess import sample_images
from mllab.serve.api import create_app
from mllab.serve.client import (
    ServerError,
    image_bytes,
    predict_image,
    predict_json,
    predict_tensor,
    served_model,
)

URL = "http://testserver"


@pytest.fixture(scope="module")
def http(tiny_model):
    from fastapi.testclient import TestClient

    with TestClient(create_app(tiny_model, max_batch=2), base_url=URL) as test_client:
        yield test_client


@pytest.mark.parametrize("fmt, accept_npy", [("npy", True), ("npy", False), ("raw", True)])
def test_predict_tensor_answers_logits_as_an_array(http, reference, random_batch, fmt, accept_npy):
    x = random_batch(2)
    answer = predict_tensor(URL, x, fmt, accept_npy=accept_npy, client=http)
    assert isinstance(answer["output"], np.ndarray) and answer["output"].dtype == np.float32
    assert compare(answer["output"], reference(x)).max_abs <= TUTORIAL_ATOL
    assert answer["provider"] == "CPUExecutionProvider" and answer["latency_ms"] > 0


def test_predict_json_and_image(http, reference, random_batch):
    x = random_batch(1)
    assert (
        compare(predict_json(URL, x, client=http)["output"], reference(x)).max_abs <= TUTORIAL_ATOL
    )
    path = sample_images()[0]
    assert image_bytes(path) == path.read_bytes()
    answer = predict_image(URL, path, k=3, client=http)
    assert len(answer["top_k"]) == 3 and answer["k"] == 3


def test_an_error_answer_is_a_server_error(http, random_batch):
    with pytest.raises(ServerError, match=r"HTTP 422: the batch has 3 samples") as caught:
        predict_tensor(URL, random_batch(3), client=http)
    assert caught.value.status == 422 and "error" in caught.value.payload


def test_an_unknown_format_is_refused_before_sending():
    with pytest.raises(ValueError, match="fmt must be"):
        predict_tensor(URL, np.zeros((1, 3, 224, 224), np.float32), "csv")


def test_served_model_says_what_runs_where(http, tiny_model):
    served = served_model(URL, client=http)
    assert served.path == str(tiny_model) and served.sha256 == sha256_file(tiny_model)
    assert served.provider == "CPUExecutionProvider" and served.opsets == {"ai.onnx": 17}
    assert served.limits["max_batch"] == 2 and "onnxruntime" in served.versions
