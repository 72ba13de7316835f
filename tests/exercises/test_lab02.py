"""Lab 02's exercise check (the binary-body client) against a server on a tiny model: a right
answer passes (``.npy`` or v2 binary), a wrong one fails with max-abs, an unfinished one says so,
and the lab always goes on with logits of the right shape."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest

from mllab.exercises.lab02 import check_binary_client, check_flask_fix
from mllab.serve.process import start_server
from mllab.serve.v2_binary import binary_request, read_response


def npy_client(url: str, x: np.ndarray) -> np.ndarray:
    buffer = io.BytesIO()
    np.save(buffer, x)
    headers = {"Content-Type": "application/x-npy", "Accept": "application/x-npy"}
    response = httpx.post(f"{url}/predict", content=buffer.getvalue(), headers=headers)
    return np.load(io.BytesIO(response.content))


def v2_client(url: str, x: np.ndarray) -> np.ndarray:
    body, headers = binary_request(x, "input")
    response = httpx.post(f"{url}/v2/models/resnet50/infer", content=body, headers=headers)
    return read_response(response.content, response.headers.get("inference-header-content-length"))[
        "logits"
    ]


def not_done(url: str, x: np.ndarray) -> np.ndarray:
    raise NotImplementedError()


@pytest.fixture(scope="module")
def server(tiny_model):
    with start_server(tiny_model) as running:
        yield running


def random_batch(n: int) -> np.ndarray:
    return np.random.default_rng(n).standard_normal((n, 3, 224, 224)).astype(np.float32)


@pytest.mark.parametrize("student", [npy_client, v2_client])
def test_a_right_client_passes(server, student, capsys):
    checked = check_binary_client(student, server.url, random_batch(2))
    assert checked.passed and checked.value.shape == (2, 1000)
    assert "passed" in capsys.readouterr().out


def test_wrong_logits_fail_with_the_max_abs(server):
    checked = check_binary_client(
        lambda url, x: npy_client(url, x) + 1e-3, server.url, random_batch(1)
    )
    assert checked.done and not checked.passed and "max |" in checked.message
    assert checked.value.shape == (1, 1000)  # the kit's reference to go on with


def test_a_json_list_of_logits_is_not_an_array(server):
    checked = check_binary_client(
        lambda url, x: npy_client(url, x).tolist(), server.url, random_batch(1)
    )
    assert not checked.passed and "numpy array" in checked.message


def test_an_unfinished_function_is_not_done(server):
    checked = check_binary_client(not_done, server.url, random_batch(1))
    assert not checked.done and not checked.passed and checked.value.shape == (1, 1000)


# --- ex02_flask_fix: the lines that make the lecture's server.py serve ---------------------


def kit_lines(port: int) -> str:
    return f'if __name__ == "__main__":\n    app.run(host="0.0.0.0", port={port})\n'


@pytest.mark.parametrize(
    ("lines", "passed", "hint"),
    [
        (kit_lines, True, "POST /predict -> 200"),
        (lambda port: f"app.run(port={port})\n", False, "loopback address"),
        (lambda port: "\n", False, "exit code 0"),
        (lambda port: "raise SystemExit(3)\n", False, "exit code 3"),
    ],
    ids=["reference", "loopback-only", "nothing-starts-it", "crashes"],
)
def test_flask_fix_check(tiny_model, tmp_path, capsys, lines, passed, hint):
    checked = check_flask_fix(lines, tiny_model, tmp_path, timeout=30)
    shown = capsys.readouterr().out
    assert checked.passed is passed and checked.done
    assert hint in shown and "Traceback" not in shown
    assert checked.value.status == 200, "the lab goes on with a run that served"


def test_flask_fix_not_done_goes_on_with_the_kit_run(tiny_model, tmp_path, capsys):
    def unfinished(port: int) -> str:
        raise NotImplementedError()

    checked = check_flask_fix(unfinished, tiny_model, tmp_path, timeout=30)
    assert not checked.done and not checked.passed
    assert "not done yet" in capsys.readouterr().out
    assert checked.value.corrected and checked.value.status == 200
