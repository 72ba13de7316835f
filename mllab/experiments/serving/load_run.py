"""Closed-loop load from locust (headless, in its own process) for any one POST request, with
the load generator's own CPU time measured::

    python -m mllab.experiments.serving.load_run '{"url": "http://127.0.0.1:8080",
        "path": "/v2/models/resnet50/infer", "body_file": "/tmp/body.bin", "headers": {...},
        "users": 4, "requests": 200, "max_seconds": 60, "label": "v2", "out": "/tmp/load.json"}'

Each of ``users`` locust users (``FastHttpUser``, geventhttpclient) posts the same body with
no wait: concurrency ``users``. The JSON written to ``out`` has the keys of
:mod:`mllab.experiments.resources.locust_run` (so :func:`~mllab.experiments.resources.load.
result_of` reads it) plus ``cpu_s``: user + system CPU seconds of this process during the load,
so that what the load generator took from a shared machine is accounted for, not hidden.
:func:`run_locust` is the parent's side.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllab.core.errors import InputError, MllabError
from mllab.experiments.resources.load import LoadResult, check_loopback, result_of

SETTINGS = ("url", "path", "body_file", "headers", "users", "requests", "max_seconds", "out")


@dataclass
class Load:
    """One locust run and the CPU seconds the load generator itself used."""

    result: LoadResult
    load_cpu_s: float


def run_locust(
    url: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    users: int,
    requests: int,
    max_seconds: float = 120.0,
    label: str = "",
    python: str | None = None,
) -> Load:
    """``requests`` POSTs of ``body`` to ``url + path`` from ``users`` concurrent locust users."""
    url = check_loopback(url)
    if users < 1 or requests < 1 or max_seconds <= 0:
        raise InputError("users, requests and max_seconds must be positive")
    with tempfile.TemporaryDirectory(prefix="mllab-load-") as folder:
        body_file, out = Path(folder) / "body.bin", Path(folder) / "load.json"
        body_file.write_bytes(body)
        settings = {"url": url, "path": path, "body_file": str(body_file), "headers": headers,
                    "users": users, "requests": requests, "max_seconds": max_seconds,
                    "label": label or path, "out": str(out)}  # fmt: skip
        command = [python or sys.executable, "-m", "mllab.experiments.serving.load_run"]
        done = subprocess.run(
            [*command, json.dumps(settings)],
            capture_output=True,
            text=True,
            timeout=max_seconds + 60,
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-10:])
            raise MllabError(f"the locust run failed (exit {done.returncode}):\n{tail}")
        raw = json.loads(out.read_text())
    return Load(result_of(raw), raw["cpu_s"])


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(settings: dict[str, Any]) -> dict[str, Any]:
    """Run locust with ``settings`` (see the module); what is written to ``settings["out"]``."""
    import gevent.event  # deferred: importing gevent/locust monkey-patches the interpreter
    from locust import FastHttpUser, constant, events, task
    from locust.env import Environment

    body = Path(settings["body_file"]).read_bytes()
    path, headers, label = settings["path"], settings["headers"], settings["label"]

    class PostUser(FastHttpUser):
        host = settings["url"]
        wait_time = constant(0)
        network_timeout = 120.0
        connection_timeout = 30.0

        @task
        def post(self) -> None:
            self.client.request("POST", path, data=body, headers=headers, name=label)

    env = Environment(user_classes=[PostUser], events=events)
    records: list[tuple[float, float, int]] = []  # [t_s since start, response ms, failed 0/1]
    errors: dict[str, int] = {}
    done = gevent.event.Event()
    cpu_start, start = _cpu_s(), time.monotonic()

    def on_request(response_time, exception, **_kw):
        records.append((time.monotonic() - start, float(response_time), int(exception is not None)))
        if exception is not None:
            key = f"{type(exception).__name__}: {exception}"[:200]
            errors[key] = errors.get(key, 0) + 1
        if len(records) >= settings["requests"]:
            done.set()

    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    runner.start(settings["users"], spawn_rate=settings["users"])
    stopped_by = "requests" if done.wait(timeout=settings["max_seconds"]) else "time"
    duration, cpu = time.monotonic() - start, _cpu_s() - cpu_start
    runner.quit()
    total = env.stats.total
    kept = records[: settings["requests"]]
    return {
        "url": settings["url"],
        "users": settings["users"],
        "spawn_rate": settings["users"],
        "payload": label,
        "duration_s": kept[-1][0] if kept and stopped_by == "requests" else duration,
        "stopped_by": stopped_by,
        "records": kept,
        "errors": errors,
        "locust": {"num_requests": total.num_requests, "num_failures": total.num_failures},
        "cpu_s": cpu,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m mllab.experiments.serving.load_run JSON``: the run's JSON written to out."""
    argv = sys.argv[1:] if argv is None else argv
    settings = json.loads(argv[0]) if argv else {}
    missing = [key for key in SETTINGS if key not in settings]
    if missing:
        print(f"usage: python -m mllab.experiments.serving.load_run JSON (missing: {missing})")
        return 2
    settings.setdefault("label", settings["path"])
    Path(settings["out"]).write_text(json.dumps(run(settings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
