"""C1: the same model and inputs under two ONNX Runtime versions.

The lecture says different framework/CUDA/cuDNN versions change logits by about 1e-2. Without
a GPU the framework half is measurable: :func:`ort_version_env` makes a venv with an older
onnxruntime CPU wheel (and the host's numpy), :func:`ort_version_drift` runs
:mod:`mllab.experiments.reproducibility.ort_probe` there and the host's onnxruntime here, with the
same session
options (:func:`mllab.runtime.sessions.session_options`), and compares the logits.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import onnxruntime as ort

from mllab.containers.kinds import LogFn
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.core.paths import ARTIFACTS, PACKAGE
from mllab.experiments.reproducibility.drift_configs import drift_inputs, output_digest
from mllab.experiments.reproducibility.ort_probe import probe_request
from mllab.measure.drift import compare
from mllab.measure.runners import ort_predictor
from mllab.model.artifacts import default_model
from mllab.runtime.cgroup import usable_cpus
from mllab.runtime.sessions import SessionConfig

#: graph optimisation levels compared (the lecture's deterministic level and the default)
LEVELS = ("all", "disable")


@dataclass
class LevelDrift:
    """Old vs new onnxruntime at one graph optimisation level."""

    level: str
    bitwise_equal: bool
    max_abs: float
    delta_l2: float
    relative: float
    top1_agreement: float


@dataclass
class OrtVersionDrift:
    """C1 record: logits of onnxruntime ``old`` vs ``new`` (the host's) at optimisation
    ``all`` (the top-level figures) and per level; PyTorch vs ONNX Runtime for scale."""

    SCHEMA_VERSION: ClassVar[int] = 1

    outcome: Outcome
    old: str | None = None
    new: str | None = None
    max_abs: float | None = None
    delta_l2: float | None = None
    top1_agreement: float | None = None
    torch_vs_ort_max_abs: float | None = None
    bitwise_equal: bool | None = None
    levels: list[LevelDrift] = field(default_factory=list)
    device: str = "cpu"  # "cpu": a proxy of the lecture's case (CUDA/cuDNN versions on a GPU)


def ort_version_env(version: str, on_log: LogFn | None = print) -> Path:
    """A venv under ``artifacts/repro/ort-<version>`` with that onnxruntime (CPU wheel) and
    the host's numpy, installed from a wheelhouse that ``pip download`` fills once (cached).
    Returns its python."""
    home = ARTIFACTS / "repro" / f"ort-{version}"
    python = home / "venv" / "bin" / "python"
    marker = home / "venv" / ".installed"
    if marker.exists():
        return python
    house = home / "wheels"
    wanted = [f"onnxruntime=={version}", f"numpy=={importlib.metadata.version('numpy')}"]
    steps = [
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--platform",
            "manylinux_2_28_x86_64",
            "--platform",
            "manylinux_2_17_x86_64",
            "--platform",
            "manylinux2014_x86_64",
            "-d",
            str(house),
            *wanted,
        ],
        [sys.executable, "-m", "venv", "--clear", str(home / "venv")],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-index",
            "--find-links",
            str(house),
            "--disable-pip-version-check",
            *wanted,
        ],
    ]
    for command in steps:
        if on_log:
            on_log("$ " + " ".join(command[:6]) + " ...")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise MllabError(
                f"preparing onnxruntime {version} failed at `{' '.join(command[:5])}`: "
                f"{done.stderr.strip()[-800:]}"
            )
    marker.write_text(" ".join(wanted) + "\n")
    return python


def run_probe_with(python: str | Path, request: str) -> str:
    """:mod:`mllab.experiments.reproducibility.ort_probe` under another interpreter (this tree's
    mllab on its
    path: that venv holds only onnxruntime and numpy); the onnxruntime version it used."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    command = [str(python), "-m", "mllab.experiments.reproducibility.ort_probe", request]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise MllabError(f"the probe under {python} failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["onnxruntime"]


def ort_version_drift(
    version: str,
    model: str | Path | None = None,
    x: np.ndarray | None = None,
    threads: int | None = None,
    python: str | Path | None = None,
) -> OrtVersionDrift:
    """Logits of the same model and inputs under onnxruntime ``version`` (its own venv, or the
    interpreter ``python``) and under the host's onnxruntime, at each of :data:`LEVELS`."""
    model = Path(model).resolve() if model else default_model()
    x = drift_inputs() if x is None else np.ascontiguousarray(x, dtype=np.float32)
    threads = threads or usable_cpus()
    configs = {level: SessionConfig(threads=threads, opt_level=level) for level in LEVELS}
    python = python or ort_version_env(version)
    with tempfile.TemporaryDirectory(prefix="mllab-ortver-") as tmp:
        np.save(Path(tmp, "x.npy"), x)
        fields = {level: dataclasses.asdict(c) for level, c in configs.items()}
        request = probe_request(
            str(model), str(Path(tmp, "x.npy")), str(Path(tmp, "out.npz")), fields
        )
        old_version = run_probe_with(python, request)
        old = {level: outputs[0] for level, outputs in np.load(Path(tmp, "out.npz")).items()}
    levels = []
    for level, config in configs.items():
        new = ort_predictor(model, **dataclasses.asdict(config))(x)
        drift = compare(old[level], new)
        levels.append(
            LevelDrift(
                level,
                output_digest(old[level]) == output_digest(new),
                drift.max_abs,
                drift.l2,
                drift.relative,
                drift.top1_agreement,
            )
        )
    top = levels[0]  # "all": what the host serves with
    return OrtVersionDrift(
        Outcome.ran(),
        old=old_version,
        new=ort.__version__,
        max_abs=top.max_abs,
        delta_l2=top.delta_l2,
        top1_agreement=top.top1_agreement,
        bitwise_equal=top.bitwise_equal,
        levels=levels,
    )
