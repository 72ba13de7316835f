"""Test helpers of the dropped-request tests (REST and gRPC): a session held at will, and one
figure of a Prometheus text exposition."""

from __future__ import annotations

import threading
from typing import Any

#: the counter of requests dropped because their client had gone
DROPPED = 'mllab_requests_dropped_total{reason="client_disconnected"}'


class GatedSession:
    """An ONNX Runtime session whose ``run`` waits until :meth:`open`: one inference holds the
    session as long as the test wants. Counts the runs that started."""

    def __init__(self, session: Any):
        self.session = session
        self.runs = 0
        self.started = threading.Event()
        self._open = threading.Event()

    def open(self) -> None:
        self._open.set()

    def run(self, outputs: Any, feeds: Any) -> Any:
        self.runs += 1
        self.started.set()
        assert self._open.wait(30), "the test never opened the gate"
        return self.session.run(outputs, feeds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def metric(text: str, name: str) -> float:
    """The value of the one sample ``name`` (with its labels) in ``text``."""
    [line] = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[-1])
