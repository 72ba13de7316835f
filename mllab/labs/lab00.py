"""Lab 00: the environment E of the lecture's f(x; θ, E).

The lab captures the fingerprint M(E) of this machine, then inside a container of the kit's
base image, and compares the two (E_virtualenv ⊂ E_Docker: the container pins the OS, the
interpreter and the libraries; the kernel, the driver and the hardware stay the host's). It
also *tries* a CUDA session, to set the rule CUDA_container ≤ Driver_host against what happens.

The kit vocabulary of ``labs/00_environment.ipynb``, in groups:

- M(E): capture a fingerprint, print it, compare two
- the container part: M(E) inside a container, as the ``CONTAINER`` parameter asks
- CUDA_container ≤ Driver_host: the two versions and the observed CUDA session
- the exercises ex00_cuda and ex00_diff
- save, record and the verdict on C9
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mllab.containers.base import base_image
from mllab.containers.engine import ensure_engine
from mllab.core.errors import EngineUnavailable
from mllab.core.outcome import Outcome
from mllab.core.records import load_all, record, results_dir
from mllab.exercises.hidden import hidden_tests
from mllab.exercises.lab00 import check_cuda_rule, check_differing_fields, predict
from mllab.experiments.environment.fingerprint import (
    diff,
    fingerprint,
    fingerprint_in_container,
    format_diff,
    save,
    summarize,
    summary_lines,
)
from mllab.report.claims import judge
from mllab.report.lab_summary import lab_pages
from mllab.runtime.compat import cuda_compatibility

plan, summary = lab_pages("00")  # every lab's opening and closing cells (kit-wide)

__all__ = [
    # M(E): capture, print, compare
    "fingerprint",
    "summary_lines",
    "diff",
    "format_diff",
    # the container part
    "ContainerPart",
    "container_part",
    # CUDA_container ≤ Driver_host
    "cuda_compatibility",
    # the exercises (ex00_cuda, ex00_diff)
    "check_cuda_rule",
    "predict",
    "check_differing_fields",
    "hidden_tests",
    # save, record, verdict
    "save_fingerprints",
    "summarize",
    "record",
    "load_all",
    "judge",
]


@dataclass
class ContainerPart:
    """The container half of the lab: the Docker engine that answered, the image the
    fingerprint ran in, M(E_container) (None when it was not taken) and whether it ran."""

    engine: str | None
    image: str | None
    fingerprint: dict[str, Any] | None
    outcome: Outcome


def container_part(
    when: bool | str, cpus: float | None = None, memory: str | None = None
) -> ContainerPart:
    """M(E) inside a container of the kit's base image, as the lab's ``CONTAINER`` asks.

    ``False`` skips it ("not run"); ``"auto"`` takes it when a Docker engine answers (installing
    one where that is allowed) and says "not run" and why when none does; ``True`` requires it
    (:class:`EngineUnavailable` otherwise). ``cpus`` and ``memory`` become the container's
    cgroup limits, so that they show up in its E.
    """
    if not when:
        return ContainerPart(None, None, None, Outcome.not_run("CONTAINER = False"))
    try:
        engine = ensure_engine(install=True)
    except EngineUnavailable as error:
        if when is True:
            raise
        why = Outcome.not_run(f"no Docker engine answers: {error}")
        return ContainerPart(None, None, None, why)
    image = base_image()
    captured = fingerprint_in_container(image, cpus=cpus, memory=memory)
    return ContainerPart(engine, image, captured, Outcome.ran())


def save_fingerprints(host: dict[str, Any], container: dict[str, Any] | None) -> dict[str, str]:
    """Save M(E_host), and M(E_container) when it was taken, as ``E_host.json`` and
    ``E_container.json`` in this run's results folder; returns ``{"host": path, ...}``."""
    captured = {"host": host, "container": container}
    return {
        name: str(save(print_, results_dir() / f"E_{name}.json"))
        for name, print_ in captured.items()
        if print_
    }
