"""The configurations of the drift matrix: every way the kit computes f(x), and the inputs.

:func:`configurations` lists PyTorch eager (n and 1 threads), ONNX Runtime on the CPU at each
graph optimisation level, the lecture's deterministic options, INT8, fp16, CUDA/TensorRT and
ONNX Runtime inside the slim container. Each :class:`Configuration` builds its runner only
when it runs; a runner this machine cannot build raises :class:`Unavailable` (or
:class:`~mllab.core.errors.ProviderUnavailable`) with the reason, and the matrix keeps the row.

torch is imported inside the torch runners (start-up time: the CLI imports this module).
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mllab.containers.docker_cli import run_module
from mllab.containers.engine import client
from mllab.core.errors import MllabError
from mllab.core.hashing import sha256_bytes
from mllab.core.paths import PACKAGE
from mllab.experiments.reproducibility.ort_probe import probe_request
from mllab.measure.runners import (
    ort_predictor,
    reference_inputs,
    require_torch_cuda,
    torch_predictor,
)
from mllab.model.artifacts import default_model
from mllab.model.fp16 import default_fp16_model
from mllab.model.preprocess import preprocess_batch, sample_images
from mllab.model.quantize import default_int8_model
from mllab.model.resnet import load_resnet50
from mllab.runtime.cgroup import usable_cpus
from mllab.runtime.sessions import SessionConfig

#: what a configuration's runner does: inputs and a repeat count in, one output per repeat out
Runner = Callable[[np.ndarray, int], list[np.ndarray]]
#: the mllab package, mounted into the container so that it runs this tree's probe module


class Unavailable(MllabError):
    """This machine cannot run a configuration (no GPU, no image): the reason, not a failure."""


@dataclass
class Configuration:
    """One way of computing f(x). ``make`` builds the runner (loading a session, a model) and
    raises :class:`Unavailable` with a reason when this machine cannot run it."""

    name: str
    description: str
    make: Callable[[], Runner]


def output_digest(array: np.ndarray) -> str:
    """sha256 of an output's bytes (float32, C order): equal digests = bitwise equal outputs."""
    return sha256_bytes(np.ascontiguousarray(array, dtype=np.float32).tobytes())


def drift_inputs(n_random: int = 2, n_images: int | None = None, seed: int = 0) -> np.ndarray:
    """The matrix's inputs: the embedded photos (the first ``n_images``, default all) and a
    seeded standard-normal batch of ``n_random``, stacked into one float32 batch."""
    images = sample_images()[:n_images] if n_images else sample_images()
    return reference_inputs(preprocess_batch(images) if images else None, n_random, seed)


# --- runners -------------------------------------------------------------------------------


def _repeat(fn: Callable[[np.ndarray], np.ndarray]) -> Runner:
    return lambda x, repeats: [np.array(fn(x), dtype=np.float32) for _ in range(repeats)]


def torch_runner(threads: int, weights: str | Path | None = None, seed: int = 0) -> Runner:
    """PyTorch eager on the CPU with ``threads`` intra-op threads (restored afterwards)."""
    return _repeat(torch_predictor(lambda: load_resnet50(weights, seed), "cpu", threads))


def torch_cuda_runner(weights: str | Path | None = None, seed: int = 0) -> Runner:
    """PyTorch eager on the GPU; :class:`ProviderUnavailable` when torch sees no CUDA device."""
    require_torch_cuda()
    return _repeat(torch_predictor(lambda: load_resnet50(weights, seed), "cuda"))


def ort_runner(model: str | Path, **options: Any) -> Runner:
    """ONNX Runtime through :func:`mllab.runtime.sessions.create_session` (provider verified);
    ``options`` are :class:`mllab.runtime.sessions.SessionConfig` fields."""
    return _repeat(ort_predictor(model, **options))


def container_runner(
    image: str, model: str | Path, threads: int, deterministic: bool = False
) -> Runner:
    """ONNX Runtime inside ``image`` (the slim serving image):
    :mod:`~mllab.experiments.reproducibility.ort_probe`
    runs all repeats in one ``docker run`` with the session options of the host configuration
    it is compared with (``ort-all`` or ``ort-deterministic``). The model, an I/O folder and
    this tree's mllab package are mounted; no network; it runs as the calling user."""
    from docker.errors import ImageNotFound  # deferred: the docker SDK is optional

    try:
        client().images.get(image)
    except ImageNotFound as error:
        raise Unavailable(f"image not found ({error})") from error
    model = Path(model).resolve()
    config = SessionConfig(threads=threads, deterministic=deterministic)

    def run_in_container(x: np.ndarray, repeats: int) -> list[np.ndarray]:
        with tempfile.TemporaryDirectory(prefix="mllab-repro-") as io_dir:
            np.save(Path(io_dir, "x.npy"), x)
            request = probe_request(
                "/model.onnx", "/io/x.npy", "/io/out.npz", {"c": asdict(config)}, repeats
            )
            run_module(
                image,
                "mllab.experiments.reproducibility.ort_probe",
                [request],
                user=f"{os.getuid()}:{os.getgid()}",  # writes /io/out.npz as the caller
                volumes={
                    str(model): "/model.onnx:ro",
                    io_dir: "/io",
                    str(PACKAGE): "/src/mllab:ro",
                },
                env={"PYTHONPATH": "/src"},  # this tree's probe, whatever mllab the image has
            )
            return list(np.load(Path(io_dir, "out.npz"))["c"])

    return run_in_container


def _unavailable(reason: str) -> Callable[[], Runner]:
    def make() -> Runner:
        raise Unavailable(reason)

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
    fp32 = Path(model) if model else default_model()
    threads = threads or usable_cpus()
    t = f"{threads} threads"

    def ort(path: Callable[[], str | Path], **options: Any) -> Callable[[], Runner]:
        return lambda: ort_runner(path(), **options)

    def int8_path() -> str | Path:
        return int8 or default_int8_model()

    def fp16_path() -> str | Path:
        return fp16 or default_fp16_model()

    configs = [
        Configuration("torch-cpu", f"PyTorch eager, CPU, {t}", lambda: torch_runner(threads)),
        Configuration("torch-cpu-1t", "PyTorch eager, CPU, 1 thread", lambda: torch_runner(1)),
    ]
    configs += [
        Configuration(
            f"ort-{level}",
            f"ONNX Runtime CPU, graph optimisation {level}, {t}",
            ort(lambda: fp32, opt_level=level, threads=threads),
        )
        for level in ("disable", "basic", "extended", "all")
    ]
    lecture = "ORT_DISABLE_ALL + enable_mem_pattern=False (lecture)"
    configs += [
        Configuration(
            "ort-all-1t",
            "ONNX Runtime CPU, optimisation all, 1 thread",
            ort(lambda: fp32, threads=1),
        ),
        Configuration(
            "ort-deterministic",
            f"{lecture}, {t}",
            ort(lambda: fp32, deterministic=True, threads=threads),
        ),
        Configuration(
            "ort-deterministic-1t",
            f"{lecture}, 1 thread",
            ort(lambda: fp32, deterministic=True, threads=1),
        ),
        Configuration(
            "ort-int8",
            f"INT8 static QDQ model, ONNX Runtime CPU, {t}",
            ort(int8_path, threads=threads),
        ),
        Configuration(
            "ort-fp16",
            f"fp16 model (fp32 I/O), ONNX Runtime CPU, {t}",
            ort(fp16_path, threads=threads),
        ),
        Configuration("torch-cuda", "PyTorch eager, CUDA", lambda: torch_cuda_runner()),
        Configuration("ort-cuda", "ONNX Runtime CUDA EP, fp32", ort(lambda: fp32, device="cuda")),
        Configuration(
            "ort-cuda-deterministic",
            "ONNX Runtime CUDA EP, lecture's options + cuDNN DEFAULT algo, no TF32",
            ort(lambda: fp32, device="cuda", deterministic=True),
        ),
        Configuration(
            "ort-cuda-fp16", "fp16 model, ONNX Runtime CUDA EP", ort(fp16_path, device="cuda")
        ),
        Configuration(
            "ort-tensorrt", "ONNX Runtime TensorRT EP, fp32", ort(lambda: fp32, device="tensorrt")
        ),
    ]
    no_image = "no slim image (build it with mllab.containers.build.build_slim())"
    for deterministic, suffix in ((False, "all"), (True, "deterministic")):
        configs.append(
            Configuration(
                f"container-ort-{suffix}",
                f"ONNX Runtime in the slim image {image or '(none)'}, same options as "
                f"ort-{suffix}, {t}",
                functools.partial(container_runner, image, fp32, threads, deterministic)
                if image
                else _unavailable(no_image),
            )
        )
    return configs
