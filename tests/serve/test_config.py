"""The server's configuration from ENV: the lecture's defaults, every variable, clear errors."""

from __future__ import annotations

import pytest

from mllab.core.errors import MllabError
from mllab.serve.config import ServerConfig


def test_config_from_env_defaults_are_the_lecture():
    config = ServerConfig.from_env({})
    assert (config.port, config.host, config.device, config.threads) == (
        8080,
        "0.0.0.0",
        "cpu",
        None,
    )
    assert str(config.model_path) == "model.onnx" and config.log_level == "info"


def test_config_from_env_reads_every_variable():
    env = {
        "MODEL_PATH": "/models/m.onnx",
        "PORT": "9000",
        "HOST": "127.0.0.1",
        "THREADS": "3",
        "PROVIDER": "CUDAExecutionProvider",
        "MAX_BODY_MB": "4.5",
        "MAX_BATCH": "8",
        "LOG_LEVEL": "WARNING",
    }
    config = ServerConfig.from_env(env)
    assert str(config.model_path) == "/models/m.onnx" and config.port == 9000
    assert config.host == "127.0.0.1" and config.threads == 3 and config.device == "cuda"
    assert config.max_body_mb == 4.5 and config.max_batch == 8 and config.log_level == "warning"
    assert ServerConfig.from_env({**env, "ORT_THREADS": "2"}).threads == 2  # ORT_THREADS first
    assert ServerConfig.from_env({"DEVICE": "auto", "PROVIDER": "cuda"}).device == "auto"


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"PORT": "http"}, "PORT must be a number"),
        ({"PORT": "70000"}, "at most 65535"),
        ({"THREADS": "0"}, "at least 1"),
        ({"DEVICE": "gpu"}, "DEVICE/PROVIDER"),
        ({"MAX_BODY_MB": "nan"}, "MAX_BODY_MB"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ],
)
def test_config_from_env_rejects_bad_values(env, fragment):
    with pytest.raises(MllabError, match=fragment):
        ServerConfig.from_env(env)


@pytest.mark.parametrize(
    "field, value, fragment", [("threads", 0, "--threads"), ("port", 70000, "--port")]
)
def test_check_rejects_what_a_flag_set(field, value, fragment):
    config = ServerConfig.from_env({})
    assert config.check() is config
    setattr(config, field, value)
    with pytest.raises(MllabError, match=fragment):
        config.check()
