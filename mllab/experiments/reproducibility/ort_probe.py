"""Run a model under *this* interpreter's ONNX Runtime:
``python -m mllab.experiments.reproducibility.ort_probe``.

The drift experiments run it where another ONNX Runtime lives: inside the slim image (the
host's model and inputs mounted) and under this interpreter with an older onnxruntime first on
its path (C1). The image has only onnxruntime and numpy, so this module imports nothing else but
:mod:`mllab.runtime.sessions`, which itself needs only those. The session options come from
:func:`mllab.runtime.sessions.session_options`, the same function the host's sessions use, so
host and probe differ only in the ONNX Runtime they load.

Usage: ``python -m mllab.experiments.reproducibility.ort_probe '<json>'`` where the JSON holds
``model``,
``x`` (a ``.npy`` batch), ``out`` (the ``.npz`` to write), ``repeats`` and ``configs``
(name -> :class:`~mllab.runtime.sessions.SessionConfig` fields). The ``.npz`` holds, per
name, the stacked outputs of every repeat; stdout is one JSON line with the versions.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import onnxruntime as ort

from mllab.runtime.sessions import SessionConfig, session_options


def probe_request(
    model: str, x: str, out: str, configs: dict[str, dict[str, Any]], repeats: int = 1
) -> str:
    """The JSON argument of one probe run (what the caller passes on the command line)."""
    return json.dumps({"model": model, "x": x, "out": out, "configs": configs, "repeats": repeats})


def run_probe(request: dict[str, Any]) -> dict[str, str]:
    """Run every configuration of ``request`` ``repeats`` times; write the ``.npz``; return
    the versions that computed it."""
    x = np.load(request["x"])
    outputs: dict[str, np.ndarray] = {}
    for name, fields in request["configs"].items():
        options = session_options(SessionConfig(**fields))
        # CPU only: the probe measures the framework/container, not a GPU provider
        session = ort.InferenceSession(
            request["model"], options, providers=["CPUExecutionProvider"]
        )
        feed = {session.get_inputs()[0].name: x}
        runs = [session.run(None, feed)[0] for _ in range(int(request.get("repeats", 1)))]
        outputs[name] = np.stack(runs).astype(np.float32)
    # mypy matches **outputs against savez's own keyword ``allow_pickle: bool``
    np.savez(request["out"], **outputs)  # type: ignore[arg-type]
    return {"onnxruntime": ort.__version__, "numpy": np.__version__}


def main(argv: list[str] | None = None) -> int:
    """Entry point: one JSON argument in, one JSON line of versions out."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(
            "usage: python -m mllab.experiments.reproducibility.ort_probe '<json request>'",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(run_probe(json.loads(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
