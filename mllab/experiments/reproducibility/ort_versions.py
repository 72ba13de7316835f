"""C1: the same model and inputs under two ONNX Runtime versions.

The lecture says different framework/CUDA/cuDNN versions change logits by about 1e-2. Without
a GPU the framework half is measurable: :func:`ort_version_env` installs an older onnxruntime
CPU wheel alone into a folder put first on this interpreter's path, :func:`ort_version_drift`
runs :mod:`mllab.experiments.reproducibility.ort_probe` with it and the host's onnxruntime here,
with the same session options (:func:`mllab.runtime.sessions.session_options`), and compares
the logits. The interpreter, numpy and every other package are the same on both sides.
"""

from __future__ import annotations

import dataclasses
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
    """A folder under ``artifacts/repro/ort-<version>/site`` holding that onnxruntime CPU wheel
    alone (``pip install --no-deps --target``), its wheel fetched by ``pip download`` once
    (both cached). :func:`run_probe_with` puts it first on this interpreter's path, so that
    the probe and the host share the interpreter, numpy and every other package: only ONNX
    Runtime differs. Returns the folder."""
    home = ARTIFACTS / "repro" / f"ort-{version}"
    site = home / "site"
    marker = site / ".installed"
    if marker.exists():
        return site
    house, wanted = home / "wheels", f"onnxruntime=={version}"
    pip = [sys.executable, "-m", "pip"]
    platforms = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
    download = [*pip, "download", "--no-deps", "--only-binary=:all:", "--python-version=3.11"]
    download += [arg for platform in platforms for arg in ("--platform", platform)]
    steps = [
        [*download, "-d", str(house), wanted],
        [*pip, "install", "--no-deps", "--no-index", "--find-links", str(house), "--upgrade"]
        + ["--target", str(site), wanted],
    ]
    for command in steps:
        shown = "pip " + " ".join(command[3:6])  # the subcommand and its first options
        if on_log:
            on_log(f"$ {shown} ... {wanted}")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise MllabError(
                f"preparing onnxruntime {version} failed at `{shown}`: {done.stderr.strip()[-800:]}"
            )
    marker.write_text(wanted + "\n")
    return site


def run_probe_with(python: str | Path, request: str, site: Path | None = None) -> str:
    """:mod:`mllab.experiments.reproducibility.ort_probe` under ``python`` with this tree's
    mllab on its path, and ``site`` (another onnxruntime, :func:`ort_version_env`) before
    everything else; the onnxruntime version it used."""
    path = [str(site)] if site else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(PACKAGE.parent)])}
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
    """Logits of the same model and inputs under onnxruntime ``version`` (:func:`ort_version_env`
    first on this interpreter's path, or whatever the interpreter ``python`` imports) and
    under the host's onnxruntime, at each of :data:`LEVELS`."""
    model = Path(model).resolve() if model else default_model()
    x = drift_inputs() if x is None else np.ascontiguousarray(x, dtype=np.float32)
    threads = threads or usable_cpus()
    configs = {level: SessionConfig(threads=threads, opt_level=level) for level in LEVELS}
    site = None if python else ort_version_env(version)
    python = python or sys.executable
    with tempfile.TemporaryDirectory(prefix="mllab-ortver-") as tmp:
        np.save(Path(tmp, "x.npy"), x)
        fields = {level: dataclasses.asdict(c) for level, c in configs.items()}
        request = probe_request(
            str(model), str(Path(tmp, "x.npy")), str(Path(tmp, "out.npz")), fields
        )
        old_version = run_probe_with(python, request, site)
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
