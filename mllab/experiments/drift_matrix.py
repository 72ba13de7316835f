"""The drift matrix: the same inputs through every runtime configuration, compared pairwise.

The lecture declares two environments equivalent when Δ = ‖f_host1(x) − f_host2(x)‖₂ ≤ 1e-3
and says that fixed seeds, ``ORT_DISABLE_ALL`` and ``enable_mem_pattern=False`` give equal
results "to ε = 1e-6". Here both are measured rather than assumed:

* :func:`configurations` lists every configuration the lab knows about: PyTorch eager (1 and
  2 threads), ONNX Runtime on the CPU at each graph optimisation level, the lecture's
  deterministic options, INT8, fp16, CUDA/TensorRT and the slim container. A configuration
  this machine cannot run (no GPU, no image) stays in the list with the reason: nothing is
  silently dropped.
* :func:`run_matrix` runs each one ``repeats`` times on the same inputs (sample photos and a
  seeded random batch) and keeps the sha256 of every output: a configuration is *bitwise
  repeatable* when all digests are equal.
* :class:`DriftMatrix` compares every pair with :func:`mllab.measure.drift.compare` (Δ, max-abs,
  relative, top-1 agreement) against the lecture's 1e-3 and ε = 1e-6; :func:`plot_heatmap`
  draws log10 Δ.

torch, onnxruntime and docker are imported inside functions: the CLI imports this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mllab.measure.drift import LECTURE_DELTA, LECTURE_EPSILON, compare
from mllab.core.errors import InputError, MllabError

#: what a configuration's runner does: inputs and a repeat count in, one output per repeat out
Runner = Callable[[np.ndarray, int], list[np.ndarray]]
OK = "ok"
NO_GPU = "not available: no GPU"


@dataclass
class Configuration:
    """One way of computing f(x). ``make`` builds the runner (loading a session, a model) and
    raises :class:`MllabError` with a reason when this machine cannot run it."""

    name: str
    description: str
    make: Callable[[], Runner]


@dataclass
class ConfigResult:
    """How one configuration went: its status, first output, and the digest of every repeat."""

    name: str
    description: str
    status: str  # "ok", "not available: <why>" or "failed: <error>"
    detail: str = ""  # the full message behind a status other than "ok"
    output: np.ndarray | None = field(default=None, repr=False)
    digests: list[str] = field(default_factory=list)
    repeat_max_abs: float | None = None  # largest |o_r − o_0| over the repeats
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def bitwise_repeatable(self) -> bool | None:
        """True when every repeat gave the same bytes (None when it did not run)."""
        return len(set(self.digests)) == 1 if self.ok and self.digests else None

    def row(self) -> dict[str, Any]:
        """A table row: status, repeats, distinct outputs, bitwise, spread, time."""
        return {
            "configuration": self.name,
            "status": self.status,
            "repeats": len(self.digests),
            "distinct outputs": len(set(self.digests)) if self.digests else None,
            "bitwise repeatable": self.bitwise_repeatable,
            "max |o_r - o_1|": self.repeat_max_abs,
            "seconds": round(self.seconds, 2),
            "description": self.description,
        }


def output_digest(array: np.ndarray) -> str:
    """sha256 of an output's bytes (float32, C order): equal digests = bitwise equal outputs."""
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()


def drift_inputs(n_random: int = 2, n_images: int | None = None, seed: int = 0) -> np.ndarray:
    """The matrix's inputs: the embedded photos (the first ``n_images``, default all) and a
    seeded standard-normal batch of ``n_random``, stacked into one float32 batch."""
    from mllab.model.preprocess import preprocess_batch, sample_images

    images = sample_images()[:n_images] if n_images else sample_images()
    parts = [preprocess_batch(images)] if images else []
    if n_random:
        rng = np.random.default_rng(seed)
        parts.append(rng.standard_normal((n_random, 3, 224, 224), dtype=np.float32))
    if not parts:
        raise InputError("the drift inputs are empty: ask for at least one image or random sample")
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


# --- runners -------------------------------------------------------------------------------


def _repeat(fn: Callable[[np.ndarray], np.ndarray]) -> Runner:
    return lambda x, repeats: [np.array(fn(x), dtype=np.float32) for _ in range(repeats)]


def torch_runner(threads: int, weights: str | Path | None = None, seed: int = 0) -> Runner:
    """PyTorch eager on the CPU with ``threads`` intra-op threads (restored afterwards)."""
    import torch

    from mllab.model.export import torch_logits
    from mllab.model.resnet import load_resnet50

    model = load_resnet50(weights, seed)

    def run(x: np.ndarray, repeats: int) -> list[np.ndarray]:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return [torch_logits(model, x).astype(np.float32) for _ in range(repeats)]
        finally:
            torch.set_num_threads(before)

    return run


def torch_cuda_runner(weights: str | Path | None = None, seed: int = 0) -> Runner:
    """PyTorch eager on the GPU; :class:`MllabError` when torch sees no CUDA device."""
    import torch

    from mllab.model.resnet import load_resnet50

    if not torch.cuda.is_available():
        raise MllabError(f"{NO_GPU} (torch.cuda.is_available() is False)")
    model = load_resnet50(weights, seed).cuda()

    def once(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x).cuda()).cpu().numpy()

    return _repeat(once)


def ort_runner(model: str | Path, **options: Any) -> Runner:
    """ONNX Runtime through :func:`mllab.runtime.sessions.create_session` (provider verified);
    ``options`` are :class:`mllab.runtime.sessions.SessionConfig` fields."""
    from mllab.model.export import run
    from mllab.runtime.sessions import create_session

    session = create_session(model, **options)
    return _repeat(lambda x: run(session, x))


#: the script the container runs: plain onnxruntime + numpy, the host's session options
_CONTAINER_SCRIPT = """
import json, sys, numpy as np, onnxruntime as ort
cfg = json.loads(sys.argv[1])
o = ort.SessionOptions()
o.intra_op_num_threads = cfg["threads"]; o.inter_op_num_threads = 1
o.graph_optimization_level = getattr(ort.GraphOptimizationLevel, cfg["level"])
if cfg["deterministic"]:
    o.enable_mem_pattern = False; o.use_deterministic_compute = True
s = ort.InferenceSession("/model.onnx", o, providers=["CPUExecutionProvider"])
x = np.load("/io/x.npy")
out = [s.run(None, {s.get_inputs()[0].name: x})[0] for _ in range(cfg["repeats"])]
np.save("/io/out.npy", np.stack(out).astype(np.float32))
print(json.dumps({"onnxruntime": ort.__version__, "numpy": np.__version__}))
"""


def container_runner(
    image: str, model: str | Path, threads: int, deterministic: bool = False
) -> Runner:
    """ONNX Runtime inside ``image`` (the slim serving image): the host's model and inputs are
    mounted read-only, the container runs all repeats in one ``docker run`` and writes the
    outputs back. Same session options as the host configuration it is compared with."""
    from mllab.containers.engine import client

    client().images.get(image)  # ImageNotFound -> "not available" in run_matrix
    model = Path(model).resolve()

    def run(x: np.ndarray, repeats: int) -> list[np.ndarray]:
        level = "ORT_DISABLE_ALL" if deterministic else "ORT_ENABLE_ALL"
        cfg = {"threads": threads, "level": level, "deterministic": deterministic}
        with tempfile.TemporaryDirectory(prefix="mllab-repro-") as io_dir:
            np.save(Path(io_dir, "x.npy"), x)
            command = [
                "docker", "run", "--rm", "--network", "none", "--entrypoint", "python",
                "--user", f"{os.getuid()}:{os.getgid()}",  # writes /io/out.npy as the caller
                "-v", f"{model}:/model.onnx:ro", "-v", f"{io_dir}:/io",
                image, "-c", _CONTAINER_SCRIPT, json.dumps({**cfg, "repeats": repeats}),
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise MllabError(f"the container run failed: {done.stderr.strip()[-600:]}")
            return list(np.load(Path(io_dir, "out.npy")))

    return run


def _unavailable(reason: str) -> Callable[[], Runner]:
    def make() -> Runner:
        raise MllabError(reason)

    return make


def configurations(
    model: str | Path | None = None,
    int8: str | Path | None = None,
    fp16: str | Path | None = None,
    image: str | None = None,
    threads: int | None = None,
) -> list[Configuration]:
    """Every configuration of the matrix (defaults: the cached fp32/INT8/fp16 models).

    ``threads`` is the intra-op pool of the multi-threaded rows (default: the cgroup quota);
    the ``-1t`` rows use one thread, to show what summation order does. ``image`` is the slim
    serving image (None: its rows say how to get one).
    """
    from mllab.runtime.cgroup import usable_cpus

    model = Path(model) if model else _default("mllab.model.export", "default_model")
    threads = threads or usable_cpus()
    t = f"{threads} threads"

    def ort(path_fn, **options) -> Callable[[], Runner]:
        return lambda: ort_runner(path_fn(), **options)

    configs = [
        Configuration("torch-cpu", f"PyTorch eager, CPU, {t}", lambda: torch_runner(threads)),
        Configuration("torch-cpu-1t", "PyTorch eager, CPU, 1 thread", lambda: torch_runner(1)),
    ]
    for level in ("disable", "basic", "extended", "all"):
        configs.append(
            Configuration(
                f"ort-{level}",
                f"ONNX Runtime CPU, graph optimisation {level}, {t}",
                ort(lambda: model, opt_level=level, threads=threads),
            )
        )
    configs += [
        Configuration(
            "ort-all-1t",
            "ONNX Runtime CPU, optimisation all, 1 thread",
            ort(lambda: model, threads=1),
        ),
        Configuration(
            "ort-deterministic",
            f"ORT_DISABLE_ALL + enable_mem_pattern=False (lecture), {t}",
            ort(lambda: model, deterministic=True, threads=threads),
        ),
        Configuration(
            "ort-deterministic-1t",
            "ORT_DISABLE_ALL + enable_mem_pattern=False (lecture), 1 thread",
            ort(lambda: model, deterministic=True, threads=1),
        ),
        Configuration(
            "ort-int8",
            f"INT8 static QDQ model, ONNX Runtime CPU, {t}",
            ort(lambda: int8 or _default("mllab.model.quantize", "default_int8_model"), threads=threads),
        ),
        Configuration(
            "ort-fp16",
            f"fp16 model (fp32 I/O), ONNX Runtime CPU, {t}",
            ort(lambda: fp16 or _default("mllab.fp16", "default_fp16_model"), threads=threads),
        ),
        Configuration("torch-cuda", "PyTorch eager, CUDA", lambda: torch_cuda_runner()),
        Configuration("ort-cuda", "ONNX Runtime CUDA EP, fp32", ort(lambda: model, device="cuda")),
        Configuration(
            "ort-cuda-deterministic",
            "ONNX Runtime CUDA EP, lecture's options + cuDNN DEFAULT algo, no TF32",
            ort(lambda: model, device="cuda", deterministic=True),
        ),
        Configuration(
            "ort-cuda-fp16",
            "fp16 model, ONNX Runtime CUDA EP",
            ort(
                lambda: fp16 or _default("mllab.fp16", "default_fp16_model"),
                device="cuda",
            ),
        ),
        Configuration(
            "ort-tensorrt", "ONNX Runtime TensorRT EP, fp32", ort(lambda: model, device="tensorrt")
        ),
    ]
    no_image = "not available: no slim image (build it with mllab.containers.images.build_slim())"
    for deterministic, suffix in ((False, "all"), (True, "deterministic")):
        configs.append(
            Configuration(
                f"container-ort-{suffix}",
                f"ONNX Runtime in the slim image {image or '(none)'}, same options as "
                f"ort-{suffix}, {t}",
                (lambda d=deterministic: container_runner(image, model, threads, d))
                if image
                else _unavailable(no_image),
            )
        )
    return configs


def _default(module: str, function: str) -> Path:
    import importlib

    return Path(getattr(importlib.import_module(module), function)())


def _status_of(error: Exception) -> str:
    """``not available: ...`` for a missing provider/image/GPU, ``failed: ...`` otherwise."""
    from mllab.core.errors import ProviderUnavailable

    text = str(error).strip()
    if text.startswith("not available"):
        return text
    if isinstance(error, ProviderUnavailable):
        if "No NVIDIA GPU" in text:  # mllab.runtime.sessions.why_provider_failed's diagnosis
            return f"{NO_GPU} (no NVIDIA GPU or driver found)"
        return f"not available: {text.split('. ', 1)[-1][:160]}"
    if type(error).__name__ == "ImageNotFound":
        return f"not available: image not found ({text})"
    return f"failed: {type(error).__name__}: {text}"


def run_config(config: Configuration, x: np.ndarray, repeats: int = 10) -> ConfigResult:
    """Build and run one configuration ``repeats`` times; never raises for a missing piece."""
    result = ConfigResult(config.name, config.description, OK)
    try:
        runner = config.make()
        start = time.perf_counter()
        outputs = runner(x, repeats)
        result.seconds = time.perf_counter() - start
    except Exception as error:  # noqa: BLE001 - every failure becomes a status, none a drop
        result.status, result.detail = _status_of(error), str(error)
        return result
    result.output = outputs[0]
    result.digests = [output_digest(o) for o in outputs]
    result.repeat_max_abs = max(float(np.abs(o - outputs[0]).max()) for o in outputs)
    return result


@dataclass
class DriftMatrix:
    """Results of every configuration on the same inputs, and their pairwise drift."""

    results: list[ConfigResult]
    n_inputs: int
    repeats: int

    def __getitem__(self, name: str) -> ConfigResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"no configuration {name!r}; known: {[r.name for r in self.results]}")

    @property
    def available(self) -> list[ConfigResult]:
        return [r for r in self.results if r.ok]

    def compare(self, a: str, b: str) -> dict[str, Any]:
        """Drift of ``a`` against reference ``b`` with the lecture's verdicts."""
        ra, rb = self[a], self[b]
        if not (ra.ok and rb.ok):
            raise InputError(f"cannot compare {a} ({ra.status}) with {b} ({rb.status})")
        drift = compare(ra.output, rb.output)
        return {
            "a": a,
            "b": b,
            "bitwise equal": ra.digests[0] == rb.digests[0],
            "delta_l2": drift.l2,
            "max_abs": drift.max_abs,
            "relative": drift.relative,
            "top1_agreement": drift.top1_agreement,
            f"delta<={LECTURE_DELTA:g}": drift.l2 <= LECTURE_DELTA,
            f"max_abs<={LECTURE_EPSILON:g}": drift.max_abs <= LECTURE_EPSILON,
        }

    def pairs(self) -> list[dict[str, Any]]:
        """Every unordered pair of available configurations."""
        names = [r.name for r in self.available]
        return [self.compare(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]

    def against(self, reference: str = "torch-cpu") -> list[dict[str, Any]]:
        """Every configuration against ``reference``; unavailable ones keep a row with status."""
        rows = []
        for result in self.results:
            if result.name == reference:
                continue
            if result.ok and self[reference].ok:
                rows.append({"status": OK, **self.compare(result.name, reference)})
            else:
                rows.append({"a": result.name, "b": reference, "status": result.status})
        return rows

    def metric_matrix(self, metric: str = "delta_l2") -> tuple[list[str], np.ndarray]:
        """Names of all configurations and the symmetric matrix of ``metric`` (NaN where a
        configuration did not run)."""
        names = [r.name for r in self.results]
        values = np.full((len(names), len(names)), np.nan)
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                if self[a].ok and self[b].ok:
                    values[i, j] = 0.0 if i == j else self.compare(a, b)[metric]
        return names, values

    def repeatability(self) -> list[dict[str, Any]]:
        """One row per configuration (unavailable ones included, with the reason)."""
        return [r.row() for r in self.results]

    def summary(self) -> dict[str, Any]:
        """Plain numbers for ``mllab.core.records.record`` (statuses, bitwise flags, key drifts)."""
        return {
            "n_inputs": self.n_inputs,
            "repeats": self.repeats,
            "configurations": {
                r.name: {
                    "status": r.status,
                    "bitwise_repeatable": r.bitwise_repeatable,
                    "repeat_max_abs": r.repeat_max_abs,
                }
                for r in self.results
            },
            "vs_torch": {
                row["a"]: {k: row[k] for k in ("delta_l2", "max_abs", "top1_agreement")}
                for row in self.against("torch-cpu")
                if row["status"] == OK
            },
            "pairs": {
                f"{row['a']}|{row['b']}": {
                    k: row[k] for k in ("bitwise equal", "delta_l2", "max_abs", "top1_agreement")
                }
                for row in self.pairs()
            },
        }


def run_matrix(
    configs: list[Configuration] | None = None,
    x: np.ndarray | None = None,
    repeats: int = 10,
    progress: bool = True,
) -> DriftMatrix:
    """Run every configuration ``repeats`` times on ``x`` (default :func:`drift_inputs`)."""
    if repeats < 1:
        raise InputError(f"repeats must be >= 1, not {repeats}")
    configs = configurations() if configs is None else configs
    x = drift_inputs() if x is None else np.ascontiguousarray(x, dtype=np.float32)
    results = []
    for config in configs:
        result = run_config(config, x, repeats)
        if progress:
            print(f"{config.name:<24} {result.status[:90]}  {result.seconds:.1f} s", flush=True)
        results.append(result)
    return DriftMatrix(results, n_inputs=int(x.shape[0]), repeats=repeats)


def _get(matrix: DriftMatrix, name: str) -> ConfigResult | None:
    return next((r for r in matrix.results if r.name == name), None)


def determinism_figures(matrix: DriftMatrix) -> dict[str, Any]:
    """What C6 can be measured against on one machine: the largest |Δ| of the deterministic
    options across runs, across thread counts and between host and container."""
    det = _get(matrix, "ort-deterministic")
    if det is None or not det.ok:
        return {"status": det.status if det else "not run: no ort-deterministic configuration"}
    figures: dict[str, Any] = {
        "across_runs_max_abs": det.repeat_max_abs,
        "across_runs_bitwise": det.bitwise_repeatable,
    }
    for label, name in (("threads_1_vs_n", "ort-deterministic-1t"),
                        ("host_vs_container", "container-ort-deterministic")):  # fmt: skip
        other = _get(matrix, name)
        if other is not None and other.ok:
            row = matrix.compare(name, "ort-deterministic")
            figures[f"{label}_max_abs"] = row["max_abs"]
            figures[f"{label}_bitwise"] = row["bitwise equal"]
        else:
            figures[f"{label}_status"] = other.status if other else f"not run: no {name}"
    return figures


def container_vs_host(matrix: DriftMatrix) -> dict[str, Any]:
    """What C4 is measured with: ONNX Runtime in the slim container vs on the host (same
    model, inputs and options), and PyTorch vs ONNX Runtime on the host for scale."""
    host, box = _get(matrix, "ort-all"), _get(matrix, "container-ort-all")
    if not (host and box and host.ok and box.ok):
        return {"status": box.status if box else "not run: no container configuration"}
    row = matrix.compare("container-ort-all", "ort-all")
    figures = {k: row[k] for k in ("delta_l2", "max_abs", "relative", "top1_agreement")}
    figures["bitwise_equal"] = row["bitwise equal"]
    torch = _get(matrix, "torch-cpu")
    if torch is not None and torch.ok:
        figures["torch_vs_ort_delta_l2"] = matrix.compare("ort-all", "torch-cpu")["delta_l2"]
    return figures


def plot_heatmap(matrix: DriftMatrix, metric: str = "delta_l2", ax=None):
    """log10 of ``metric`` for every pair; a bitwise-equal pair shows "0", an unavailable
    configuration "n/a" (its reason is in :meth:`DriftMatrix.repeatability`)."""
    import matplotlib.pyplot as plt

    names, values = matrix.metric_matrix(metric)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * len(names) + 3, 0.5 * len(names) + 2))
    with np.errstate(divide="ignore"):
        logs = np.where(values > 0, np.log10(np.where(values > 0, values, 1)), np.nan)
    # bitwise equal ("0") and not available ("n/a") cells: light grey
    cmap = plt.get_cmap("viridis").with_extremes(bad="#eeeeee")
    image = ax.imshow(logs, cmap=cmap)
    for i in range(len(names)):
        for j in range(len(names)):
            value = values[i, j]
            text = "n/a" if np.isnan(value) else ("0" if value == 0 else f"{np.log10(value):.1f}")
            light = np.isnan(logs[i, j]) or image.norm(logs[i, j]) > 0.6  # grey or yellow
            color = "k" if light else "w"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title(f"log10 {metric} between configurations (0 = bitwise equal)")
    ax.figure.colorbar(image, ax=ax, shrink=0.7)
    return ax


# --- C1: the same model under two ONNX Runtime versions ---------------------------------------

#: runs in the other version's venv: ORT + numpy only, the same options as the host session
_VERSION_SCRIPT = """
import json, sys, numpy as np, onnxruntime as ort
cfg = json.loads(sys.argv[1])
out = {}
for level in cfg["levels"]:
    o = ort.SessionOptions()
    o.intra_op_num_threads = cfg["threads"]; o.inter_op_num_threads = 1
    o.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    s = ort.InferenceSession(cfg["model"], o, providers=["CPUExecutionProvider"])
    out[level] = s.run(None, {s.get_inputs()[0].name: np.load(cfg["x"])})[0]
np.savez(cfg["out"], **out)
print(ort.__version__)
"""
ORT_LEVELS = {"all": "ORT_ENABLE_ALL", "disable": "ORT_DISABLE_ALL"}


def ort_version_env(version: str, on_log=print) -> Path:
    """A venv under ``artifacts/repro/ort-<version>`` with that onnxruntime (CPU wheel) and
    the host's numpy, installed from a wheelhouse that ``pip download`` fills once (cached)."""
    import importlib.metadata
    import sys

    from mllab.core.paths import ARTIFACTS

    home = ARTIFACTS / "repro" / f"ort-{version}"
    python = home / "venv" / "bin" / "python"
    marker = home / "venv" / ".installed"
    if marker.exists():
        return python
    numpy = importlib.metadata.version("numpy")
    house = home / "wheels"
    wanted = [f"onnxruntime=={version}", f"numpy=={numpy}"]
    steps = [
        [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--python-version",
         "3.11", "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
         "--platform", "manylinux2014_x86_64", "-d", str(house), *wanted],
        [sys.executable, "-m", "venv", "--clear", str(home / "venv")],
        [str(python), "-m", "pip", "install", "--no-index", "--find-links", str(house),
         "--disable-pip-version-check", *wanted],
    ]  # fmt: skip
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


def ort_version_drift(
    version: str,
    model: str | Path | None = None,
    x: np.ndarray | None = None,
    threads: int | None = None,
    python: str | Path | None = None,
) -> dict[str, Any]:
    """Logits of the same model and inputs under onnxruntime ``version`` (its own venv, or the
    interpreter ``python``) and under the host's onnxruntime, at graph optimisation ``all``
    and ``disable``, compared."""
    import onnxruntime as ort

    from mllab.runtime.cgroup import usable_cpus
    from mllab.model.export import run
    from mllab.runtime.sessions import create_session

    model = Path(model) if model else _default("mllab.model.export", "default_model")
    x = drift_inputs() if x is None else np.ascontiguousarray(x, dtype=np.float32)
    threads = threads or usable_cpus()
    python = python or ort_version_env(version)
    with tempfile.TemporaryDirectory(prefix="mllab-ortver-") as tmp:
        np.save(Path(tmp, "x.npy"), x)
        cfg = {
            "levels": list(ORT_LEVELS.values()), "threads": threads, "model": str(model),
            "x": str(Path(tmp, "x.npy")), "out": str(Path(tmp, "out.npz")),
        }  # fmt: skip
        done = subprocess.run(
            [str(python), "-c", _VERSION_SCRIPT, json.dumps(cfg)], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise MllabError(f"onnxruntime {version} failed: {done.stderr.strip()[-800:]}")
        old = dict(np.load(Path(tmp, "out.npz")))
    rows = {}
    for level, name in ORT_LEVELS.items():
        new = run(create_session(model, opt_level=level, threads=threads), x)
        drift = compare(old[name], new)
        rows[level] = {
            "old": done.stdout.strip(), "new": ort.__version__,
            "bitwise_equal": output_digest(old[name]) == output_digest(new),
            "max_abs": drift.max_abs, "delta_l2": drift.l2, "relative": drift.relative,
            "top1_agreement": drift.top1_agreement,
        }  # fmt: skip
    return {"version": version, **rows["all"], "levels": rows}


# --- the command line ---------------------------------------------------------------------------


def _cmd_matrix(args) -> int:
    from mllab.measure.drift import format_table

    x = drift_inputs(n_random=args.random, n_images=args.images)
    matrix = run_matrix(configurations(image=args.image, threads=args.threads), x, args.repeats)
    columns = ["configuration", "status", "distinct outputs", "bitwise repeatable"]
    print(
        format_table([{**r, "status": r["status"][:60]} for r in matrix.repeatability()], columns)
    )
    rows = [r for r in matrix.against("torch-cpu") if r["status"] == OK]
    print(format_table(rows, ["a", "bitwise equal", "delta_l2", "max_abs", "top1_agreement"]))
    return 0


def _cmd_versions(args) -> int:
    result = ort_version_drift(args.version, threads=args.threads)
    for level, row in result["levels"].items():
        print(f"{level:8} {row['old']} vs {row['new']}: bitwise {row['bitwise_equal']}, "
              f"max|Δ| {row['max_abs']:.3g}, Δ {row['delta_l2']:.3g}")  # fmt: skip
    return 0


def add_cli(sub) -> None:
    """``mllab repro matrix [--repeats N] [--image TAG]`` and ``mllab repro versions X``."""
    repro = sub.add_parser("repro", help="drift matrix and framework-version drift")
    actions = repro.add_subparsers(dest="action", required=True)
    matrix = actions.add_parser("matrix", help="every runtime configuration on the same inputs")
    matrix.add_argument("--repeats", type=int, default=10)
    matrix.add_argument("--images", type=int, default=None, help="sample photos (default all)")
    matrix.add_argument("--random", type=int, default=2, help="seeded random inputs")
    matrix.add_argument("--threads", type=int, default=None)
    matrix.add_argument("--image", help="slim image tag for the container rows")
    matrix.set_defaults(func=_cmd_matrix)
    versions = actions.add_parser("versions", help="the same model under another onnxruntime")
    versions.add_argument("version", help="an onnxruntime version with a cp311 CPU wheel")
    versions.add_argument("--threads", type=int, default=None)
    versions.set_defaults(func=_cmd_versions)
