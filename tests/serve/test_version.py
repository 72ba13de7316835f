"""``X-Model-Version``: every answer names the build that served it (lab 08's rolling update
counts which version answered each request); ``MODEL_VERSION`` is checked before loading."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from mllab.core.errors import MllabError
from mllab.serve.admission import Admission, InFlight
from mllab.serve.api import create_app
from mllab.serve.config import ServerConfig
from mllab.serve.version import UNVERSIONED, VersionHeader, parse_version


def test_parse_version_takes_tags_and_semver_build_metadata():
    assert parse_version("1.0.0-build.472") == "1.0.0-build.472"
    assert parse_version(" 1.1.0-build.3+g3fde41e ") == "1.1.0-build.3+g3fde41e"
    assert parse_version(None) == parse_version("  ") == UNVERSIONED


@pytest.mark.parametrize("bad", ["1.0\nX-Evil: 1", "../etc", "-1.0", "v" * 129, "1 .0"])
def test_parse_version_refuses_what_is_not_a_tag(bad):
    with pytest.raises(MllabError, match="MODEL_VERSION must look like a Docker tag"):
        parse_version(bad)


def test_config_reads_model_version_from_env(tmp_path):
    config = ServerConfig.from_env({"MODEL_PATH": "m.onnx", "MODEL_VERSION": "1.2.0-build.9"})
    assert config.model_version == "1.2.0-build.9"
    assert ServerConfig.from_env({"MODEL_PATH": "m.onnx"}).model_version == UNVERSIONED


def test_the_header_is_on_refusals_too_and_replaces_a_header_of_the_app():
    async def app(scope, receive, send):
        headers = [(b"x-model-version", b"forged"), (b"x-other", b"1")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def call(asgi):
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        await asgi({"type": "http", "method": "POST", "path": "/", "headers": []}, receive, send)
        return sent[0]

    start = asyncio.run(call(VersionHeader(app, "1.1.0")))
    assert dict(start["headers"]) == {b"x-model-version": b"1.1.0", b"x-other": b"1"}
    full = InFlight(limit=1)
    full.now = 1  # every slot taken: admission refuses before the app
    refused = asyncio.run(call(VersionHeader(Admission(app, full), "1.1.0")))
    assert refused["status"] == 503
    assert dict(refused["headers"])[b"x-model-version"] == b"1.1.0"


def test_every_answer_of_the_server_names_its_version(tiny_model):
    with TestClient(create_app(tiny_model, model_version="1.0.0-build.7")) as http:
        for path in ("/health", "/ready", "/metadata"):
            assert http.get(path).headers["x-model-version"] == "1.0.0-build.7"
        assert http.get("/metadata").json()["model_version"] == "1.0.0-build.7"
        assert http.post("/predict", content=b"").headers["x-model-version"] == "1.0.0-build.7"
