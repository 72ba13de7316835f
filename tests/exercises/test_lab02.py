"""Lab 02's exercise checks against a server on a tiny model. The binary-body client: a right
answer passes (``.npy`` or v2 binary), a JSON client with the right logits fails by what it put
on the wire, a client that bypasses the recording proxy is seen, wrong logits fail with max-abs,
an unfinished one says so, and the lab always goes on with logits of the right shape."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest

from mllab.exercises.hidden_cases import SPECS
from mllab.exercises.hidden_run import run_groups
from mllab.exercises.lab02 import check_binary_client, check_flask_fix, wire_problem
from mllab.exercises.lab02_wire import Sent
from mllab.serve import client
from mllab.serve.process import free_port, start_server
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


def json_client(url: str, x: np.ndarray) -> np.ndarray:
    """The plausible wrong answer: the lecture's JSON body, whose logits are right."""
    response = httpx.post(f"{url}/predict", json={"input": x.tolist()}, timeout=60)
    return np.asarray(response.json()["output"], dtype=np.float32)


@pytest.mark.parametrize("student", [npy_client, v2_client])
def test_a_right_client_passes(server, student, capsys):
    checked = check_binary_client(student, server.url, random_batch(2))
    assert checked.passed and checked.value.shape == (2, 1000)
    out = " ".join(capsys.readouterr().out.split())  # the printed check wraps its lines
    assert "passed" in out and "the float32 bytes" in out and "for the JSON body" in out


def test_a_json_client_with_the_right_logits_fails_by_what_it_sent(server, capsys):
    checked = check_binary_client(json_client, server.url, random_batch(2))
    assert checked.done and not checked.passed
    assert "application/json" in checked.message and "numbers as text" in checked.message
    assert checked.value.shape == (2, 1000)


def test_a_client_that_bypasses_the_url_given_is_seen(server):
    checked = check_binary_client(
        lambda url, x: npy_client(server.url, x), server.url, random_batch(1)
    )
    assert not checked.passed and "nothing was POSTed to the url given" in checked.message


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


def sent(content_type: str, size: int, v2: int | None = None) -> Sent:
    return Sent("POST", "/predict", content_type, size, v2, 200)


@pytest.mark.parametrize(
    ("requests", "hint"),
    [
        ([sent("application/x-npy", 4 * 150528 + 128)], None),
        ([sent("application/octet-stream", 4 * 150528 + 300, v2=300)], None),
        ([sent("application/json", 5 * 4 * 150528)], "numbers as text"),
        ([sent("text/plain", 4 * 150528)], "numbers as text"),
        ([sent("application/x-npy", 8 * 150528 + 128)], "more than the tensor's bytes"),
        ([sent("application/x-npy", 2 * 150528 + 128)], "a smaller type"),
        ([], "nothing was POSTed"),
    ],
    ids=["npy", "v2-binary", "json", "text", "float64", "float16", "nothing"],
)
def test_what_went_on_the_wire(requests, hint):
    wrong = wire_problem(requests, 4 * 150528)
    assert wrong is None if hint is None else hint in wrong


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
    checked = check_flask_fix(lines, tiny_model, tmp_path, timeout=30, port=free_port())
    shown = capsys.readouterr().out
    assert checked.passed is passed and checked.done
    assert hint in shown and "Traceback" not in shown
    assert checked.value.status == 200, "the lab goes on with a run that served"


def test_flask_fix_not_done_goes_on_with_the_kit_run(tiny_model, tmp_path, capsys):
    def unfinished(port: int) -> str:
        raise NotImplementedError()

    checked = check_flask_fix(unfinished, tiny_model, tmp_path, timeout=30, port=free_port())
    assert not checked.done and not checked.passed
    assert "not done yet" in capsys.readouterr().out
    assert checked.value.corrected and checked.value.status == 200


def test_hidden_cases_give_a_json_client_only_the_logits_share(solution):
    spec = SPECS["ex02_binary_client"]
    groups = spec.groups(np.random.default_rng(0))
    answer = solution("02", "ex02_binary_client", {"np": np, "httpx": httpx})
    assert run_groups(spec, groups, answer).share == 1.0
    result = run_groups(spec, spec.groups(np.random.default_rng(0)), json_client)
    assert result.share == 0.3 and "numbers as text" in result.reason
    refused = run_groups(spec, groups, lambda url, x: client.predict_tensor(url, x)["output"])
    assert refused.share == 0.0 and "kit's own answer" in refused.reason
