"""The locust subprocess of :func:`mllab.measure.load.run_load`: headless, bounded by requests or
seconds, per-request records written as JSON::

    python -m mllab.measure.locust_run '{"url": "http://127.0.0.1:8080", "users": 8,
        "spawn_rate": 8, "requests": 300, "max_seconds": 120, "method": "POST",
        "path": "/predict", "body_file": "/tmp/body.bin", "headers": {...}, "label": "npy",
        "out": "/tmp/load.json"}'

Locust monkey-patches ``socket``, ``threading`` and ``time`` (gevent) when it is imported, which
is why it runs here, in its own process, never in a notebook kernel or in pytest. The users are
``FastHttpUser`` (geventhttpclient): far less CPU per request than ``HttpUser``, so the load
generator disturbs a server sharing its cores less. Each sends the same request with no wait:
``method`` to ``path`` with the bytes of ``body_file`` and ``headers`` (``label`` names it).

The JSON also carries ``cpu_s``, the user + system CPU seconds this process used during the
load: what the load generator took from a shared machine is accounted for, not hidden. With
``"header": "X-Model-Version"`` in the settings, that response header of each request is kept
too (``header_values``, in the order of ``records``; ``null`` when an answer did not carry it,
or there was no answer). With ``"stop_file": PATH`` the run also ends as soon as that file
exists (``stopped_by`` "stop"): a caller whose load only has to outlast an action (a rolling
update) ends it when the action is over instead of waiting out ``max_seconds``.

This module knows no server: the caller builds the request
(:class:`mllab.measure.load.LoadRequest`).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

STOP_POLL_S = 0.2  # how often the stop file is looked for
SETTINGS = ("url", "users", "spawn_rate", "requests", "max_seconds", "out", "method", "path")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(settings: dict[str, Any]) -> dict[str, Any]:
    """Run locust with ``settings`` (see the module); what is written to ``settings["out"]``."""
    import gevent  # deferred: importing gevent/locust monkey-patches the interpreter
    import gevent.event  # deferred: importing gevent/locust monkey-patches the interpreter
    from locust import FastHttpUser, constant, events, task
    from locust.env import Environment

    method, path = settings["method"], settings["path"]
    body_file = settings.get("body_file")
    body = Path(body_file).read_bytes() if body_file else b""
    headers = dict(settings.get("headers") or {})
    label = settings.get("label") or path

    class ModelUser(FastHttpUser):
        host = settings["url"]
        wait_time = constant(0)
        network_timeout = 120.0
        connection_timeout = 30.0

        @task
        def send(self) -> None:
            # bytes go out as they are (locust's hint says str | dict, its code takes bytes)
            data: Any = body or None
            self.client.request(method, path, data=data, headers=headers, name=label)

    env = Environment(user_classes=[ModelUser], events=events)
    records: list[tuple[float, float, int]] = []  # [t_s since start, response ms, failed 0/1]
    header = settings.get("header")
    header_values: list[str | None] = []  # that response header per record (when asked)
    errors: dict[str, int] = {}
    done = gevent.event.Event()
    cpu_start, start = _cpu_s(), time.monotonic()

    def on_request(
        response_time: float,
        exception: BaseException | None,
        response: Any = None,
        **_kw: Any,
    ) -> None:
        records.append((time.monotonic() - start, float(response_time), int(exception is not None)))
        if header:
            header_values.append(_header(response, header))
        if exception is not None:
            key = f"{type(exception).__name__}: {exception}"[:200]
            errors[key] = errors.get(key, 0) + 1
        if len(records) >= settings["requests"]:
            done.set()

    env.events.request.add_listener(on_request)  # type: ignore[no-untyped-call]
    stop_file, asked_to_stop = settings.get("stop_file"), gevent.event.Event()

    def watch_stop_file(path: str) -> None:  # a greenlet: the caller's signal that the load may end
        while not done.is_set():
            if os.path.exists(path):
                asked_to_stop.set()
                done.set()
                return
            gevent.sleep(STOP_POLL_S)

    runner = env.create_local_runner()
    runner.start(settings["users"], spawn_rate=settings["spawn_rate"])
    if stop_file:
        gevent.spawn(watch_stop_file, str(stop_file))
    finished = done.wait(timeout=settings["max_seconds"])
    stopped_by = "stop" if asked_to_stop.is_set() else "requests" if finished else "time"
    duration, cpu = time.monotonic() - start, _cpu_s() - cpu_start
    runner.quit()
    total = env.stats.total
    bucketed = {  # locust rounds response times into buckets; kept for comparison
        "num_requests": total.num_requests,
        "num_failures": total.num_failures,
        "median_ms": total.median_response_time,
        "p95_ms": total.get_response_time_percentile(0.95),
        "p99_ms": total.get_response_time_percentile(0.99),
        "total_rps": total.total_rps,
    }
    kept = records[: settings["requests"]]  # requests in flight at the stop are not counted twice
    return {
        **{key: settings[key] for key in ("url", "users", "spawn_rate")},
        "payload": label,  # what was sent, by its label
        "duration_s": kept[-1][0] if kept and stopped_by == "requests" else duration,
        "stopped_by": stopped_by,
        "records": kept,
        "errors": errors,
        "locust": bucketed,
        "pid": os.getpid(),
        "cpu_s": cpu,
        **({"header": header, "header_values": header_values[: len(kept)]} if header else {}),
    }


def _header(response: Any, name: str) -> str | None:
    """Header ``name`` of a locust response (any case), or None without an answer."""
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get(name) or headers.get(name.lower())
    return str(value) if value is not None else None


def main(argv: list[str] | None = None) -> int:
    """``python -m mllab.measure.locust_run JSON``: the run's JSON written to ``out``."""
    argv = sys.argv[1:] if argv is None else argv
    settings = json.loads(argv[0]) if argv else {}
    missing = [key for key in SETTINGS if key not in settings]
    if missing:
        print(f"usage: python -m mllab.measure.locust_run JSON (missing: {missing})")
        return 2
    Path(settings["out"]).write_text(json.dumps(run(settings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
