"""The server in a subprocess, as the container runs it, and waiting until a URL answers."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from mllab.core.errors import MllabError
from mllab.core.poll import until
from mllab.measure.drift import TUTORIAL_ATOL, compare
from mllab.model.integrity import sha256_file
from mllab.model.preprocess import sample_images
from mllab.serve.client import predict_image, predict_json, predict_tensor
from mllab.serve.process import (
    NotReady,
    ServerExited,
    ServerProcess,
    free_port,
    port_open,
    start_server,
    wait_until_ready,
)

NPY = {"Content-Type": "application/x-npy"}
MAX_BODY_MB = 4.0
MAX_BATCH = 4


def test_free_port_is_free_and_port_open_sees_a_listener():
    port = free_port()
    assert not port_open(port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert port_open(port)


def test_wait_until_ready_gives_up_after_the_timeout():
    start = time.monotonic()
    with pytest.raises(NotReady, match=r"did not answer 200 within 0.5 s"):
        wait_until_ready(f"http://127.0.0.1:{free_port()}/ready", timeout=0.5, interval=0.05)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("as_callable", [False, True])
def test_wait_until_ready_stops_when_the_process_exits(as_callable):
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()
    watched = process.poll if as_callable else process
    with pytest.raises(ServerExited, match="exited with code 3") as caught:
        wait_until_ready(f"http://127.0.0.1:{free_port()}/", timeout=60, process=watched)
    assert caught.value.returncode == 3


def test_server_process_equals_host_ort(tiny_model, reference, random_batch):
    # 8 concurrent clients below: admission must let all 8 in (its default of 4 answers 503)
    admit_all = {"MAX_IN_FLIGHT": "8"}
    with start_server(
        tiny_model, max_body_mb=MAX_BODY_MB, max_batch=MAX_BATCH, env=admit_all
    ) as server:
        assert server.env["MODEL_PATH"] == str(tiny_model) and server.alive()
        x, one = random_batch(2), random_batch(1)  # one JSON image is ~3 MB of text
        for answer, sent in (
            (predict_tensor(server.url, x, "npy"), x),
            (predict_tensor(server.url, x, "raw", accept_npy=False), x),
            (predict_json(server.url, one), one),
        ):
            assert compare(answer["output"], reference(sent)).max_abs <= TUTORIAL_ATOL
            assert answer["sha256"] == sha256_file(tiny_model)
        image = predict_image(server.url, sample_images()[0], k=2)
        assert len(image["top_k"]) == 2
        assert httpx.get(f"{server.url}/metadata").json()["limits"]["max_batch"] == MAX_BATCH
        with ThreadPoolExecutor(8) as pool:  # concurrent clients: each gets its own answer
            inputs = [random_batch(1, seed) for seed in range(16)]
            outputs = list(pool.map(lambda a: predict_tensor(server.url, a)["output"], inputs))
        for sent, got in zip(inputs, outputs, strict=True):
            assert compare(got, reference(sent)).max_abs <= TUTORIAL_ATOL
        chunks = (b"\0" * (1024 * 1024) for _ in range(int(MAX_BODY_MB) + 4))  # chunked
        response = httpx.post(f"{server.url}/predict", content=chunks, headers=NPY)
        assert response.status_code == 413 and httpx.get(f"{server.url}/health").is_success
    assert not server.alive()


def test_the_with_block_stops_the_server_on_an_error(tiny_model):
    with pytest.raises(RuntimeError), start_server(tiny_model) as server:
        raise RuntimeError("a failing cell")
    assert not server.alive() and not port_open(server.port)


def test_start_server_reports_why_it_died(tampered):
    with pytest.raises(ServerExited, match="refusing to load") as caught:
        start_server(tampered, timeout=60)
    assert caught.value.returncode == 2 and isinstance(caught.value, MllabError)


def _zombie_or_running(pid: int) -> bool:
    """Whether ``pid`` is still listed by the kernel (a zombie is, until it is reaped)."""
    return Path(f"/proc/{pid}").exists()


def test_a_server_killed_by_someone_else_is_reaped_at_once(tmp_path):
    """A Jupyter kernel that shuts down signals its children and waits while any is listed: a
    zombie server would hold it ~29 s, and the kernel is killed before its atexit clean-up."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    server = ServerProcess(child, "http://127.0.0.1:1", 1, tmp_path / "log")
    child.terminate()  # as ipykernel's shutdown does, not through server.stop()
    assert until(lambda: not _zombie_or_running(child.pid), timeout=5, interval=0.05)
    assert server.stop() == -signal.SIGTERM  # stop() still answers the exit code


@pytest.mark.slow
def test_a_kernel_with_a_running_server_shuts_down_cleanly(tiny_model, tmp_path):
    """The lab's case: a server still running when the kernel is asked to shut down. The
    kernel must exit on the request (not be killed), so that its atexit clean-up runs."""
    from jupyter_client.manager import KernelManager  # the kernel machinery: this test only

    from mllab.report.runner import KERNEL

    marker = tmp_path / "atexit-ran"
    code = (
        "import atexit, pathlib\n"
        "from mllab.serve.process import start_server\n"
        f"server = start_server({str(tiny_model)!r}).__enter__()\n"
        f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'ran')\n"
        "print(server.log_path)"
    )
    manager = KernelManager(kernel_name=KERNEL)
    manager.start_kernel()
    try:
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        printed: list[str] = []
        reply = client.execute_interactive(
            code,
            timeout=120,
            output_hook=lambda msg: printed.append(msg["content"].get("text", "")),
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        client.stop_channels()
    finally:
        manager.shutdown_kernel()  # a shutdown request; SIGTERM after 2.5 s, SIGKILL after 5
    log = Path("".join(printed).strip())
    assert manager._shutdown_status.name == "ShutdownRequest", manager._shutdown_status
    assert marker.read_text() == "ran" and not log.exists()


@pytest.mark.slow
def test_resnet50_server_equals_host_ort():
    """The real model (lab 01's cached export) over a real socket, all three body kinds."""
    from mllab.model.artifacts import default_model  # deferred: exporting imports torch
    from mllab.model.preprocess import preprocess, top_k
    from mllab.runtime.sessions import create_session

    model = default_model()
    session = create_session(model)
    image = sample_images()[0]
    noise = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    x = np.concatenate([preprocess(image)[None], noise])
    expected = session.run(None, {"input": x})[0]
    with start_server(model) as server:
        assert compare(predict_tensor(server.url, x)["output"], expected).max_abs <= TUTORIAL_ATOL
        raw = predict_tensor(server.url, x, "raw", accept_npy=False)["output"]
        assert compare(raw, expected).max_abs <= TUTORIAL_ATOL
        json_answer = predict_json(server.url, x[:1])["output"]
        assert compare(json_answer, expected[:1]).max_abs <= TUTORIAL_ATOL
        best = predict_image(server.url, image, k=5)["top_k"]
        assert [e["label"] for e in best] == [name for name, _ in top_k(expected[0], 5)[0]]
