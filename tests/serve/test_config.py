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
        ({"MAX_IN_FLIGHT": "0"}, "MAX_IN_FLIGHT must be at least 1"),
        ({"MAX_JSON_DEPTH": "deep"}, "MAX_JSON_DEPTH must be a number"),
        ({"MAX_IMAGE_MP": "0.001"}, "MAX_IMAGE_MP"),
        ({"DRAIN_TIMEOUT_S": "-1"}, "DRAIN_TIMEOUT_S"),
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


def test_limits_and_admission_from_env_with_defaults_for_a_1g_container():
    defaults = ServerConfig.from_env({})
    limits = defaults.limits()
    assert (limits.max_body_mb, limits.max_batch) == (defaults.max_body_mb, defaults.max_batch)
    # what the defaults let in flight at once stays well under 1 GB next to the model
    assert defaults.max_in_flight * (limits.max_body_mb + limits.max_tensor_mb) < 512
    env = {
        "MAX_TENSOR_MB": "8",
        "MAX_IMAGE_MP": "2.5",
        "MAX_JSON_DEPTH": "6",
        "MAX_JSON_VALUES": "1000",
        "MAX_PARTS": "2",
        "MAX_IN_FLIGHT": "16",
        "RETRY_AFTER_S": "5",
        "DRAIN_TIMEOUT_S": "3.5",
    }
    config = ServerConfig.from_env(env)
    assert config.limits().as_dict() == {
        **limits.as_dict(),
        "max_tensor_mb": 8.0,
        "max_image_mp": 2.5,
        "max_json_depth": 6,
        "max_json_values": 1000,
        "max_parts": 2,
    }
    assert (config.max_in_flight, config.retry_after_s, config.drain_timeout_s) == (16, 5, 3.5)


def test_config_reads_the_dynamic_batching_settings():
    config = ServerConfig.from_env({"BATCH_MAX_SIZE": "6", "BATCH_MAX_QUEUE_DELAY_MS": "2.5"})
    assert (config.batch_max_size, config.batch_max_queue_delay_ms) == (6, 2.5)
    default = ServerConfig.from_env({})
    assert default.batch_max_size is None  # per device: off on CPU, 8 on a GPU
    with pytest.raises(MllabError, match="BATCH_MAX_SIZE must be at least 0"):
        ServerConfig.from_env({"BATCH_MAX_SIZE": "-1"})
