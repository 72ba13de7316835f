"""The requests a load test repeats, by kind: each one the real app answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mllab.core.errors import InputError
from mllab.serve.api import create_app
from mllab.serve.requests import PAYLOADS, load_request


@pytest.mark.parametrize("kind", PAYLOADS)
def test_each_load_payload_is_a_request_the_server_answers(kind, tiny_model):
    """Lab 07's load can target either API (or an image upload, or the health check): the
    request locust repeats gets a 200 from the real app (in-process, on a tiny model with
    ResNet-50's interface)."""
    request = load_request(kind)
    with TestClient(create_app(tiny_model)) as client:
        response = client.request(
            request.method, request.path, content=request.body, headers=request.headers
        )
    assert response.status_code == 200, response.text[:300]
    assert request.name == kind
    expected = {"npy": "/predict", "v2": "/v2/models/resnet50/infer", "image": "/predict"}
    assert request.path == expected.get(kind, "/health")


def test_an_unknown_payload_names_the_known_ones():
    with pytest.raises(InputError, match="npy, v2, image, health"):
        load_request("video")
