"""Running the server: ``python -m mllab.serve.app`` (the container's CMD) and ``mllab serve``
refuse a tampered model with one clear line; nothing on the serving path imports torch."""

from __future__ import annotations

import subprocess
import sys

from mllab.model.preprocess import sample_images


def test_tampered_model_stops_python_m_serve_app(tampered):
    env = {"MODEL_PATH": str(tampered), "PORT": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "mllab.serve.app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one clear line, no traceback
    assert lines[0].startswith("mllab.serve.app: error: refusing to load")
    assert "sha256" in lines[0] and str(tampered) in lines[0]


def test_mllab_serve_refuses_tampered_model(tampered, capsys):
    from mllab.cli.main import main

    assert main(["serve", "--model", str(tampered), "--port", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mllab serve: error: refusing to load")


def test_mllab_serve_rejects_a_bad_flag(tiny_model, capsys):
    from mllab.cli.main import main

    assert main(["serve", "--model", str(tiny_model), "--threads", "0"]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err


def test_serving_imports_no_torch_onnx_or_docker(tiny_model):
    """The slim image has neither torch nor onnx nor docker: nothing reachable may import them,
    neither the server nor its client nor ``mllab serve``."""
    code = f"""
import sys
from fastapi.testclient import TestClient
import mllab.serve.app, mllab.serve.client, mllab.serve.process, mllab.cli.serve
from mllab.serve.api import create_app
client = TestClient(create_app({str(tiny_model)!r}))
data = open({str(sample_images()[0])!r}, "rb").read()
assert client.post("/predict", content=data, headers={{"Content-Type": "image/jpeg"}}).is_success
assert client.post("/predict", json={{"input": [[[[0.0] * 224] * 224] * 3]}}).is_success
assert client.get("/metadata").is_success
heavy = ("torch", "torchvision", "onnx", "onnxscript", "docker")
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_mllab_help_does_not_import_fastapi():
    """``mllab --help`` stays instant: the server's stack loads only when it starts."""
    code = "import sys, mllab.cli.main as m; m.build_parser(); print('fastapi' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
