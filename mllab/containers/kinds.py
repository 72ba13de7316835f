"""The server's three images and the constants every build step shares.

Lecture, "Построение Dockerfile для ML-моделей":

- ``slim``  ``docker/Dockerfile``: multi-stage, a venv from a hash-checked wheelhouse, non-root;
- ``naive`` ``docker/Dockerfile.naive``: what the lecture warns against, for comparison;
- ``cuda``  ``docker/Dockerfile.cuda``: onnxruntime-gpu with CUDA/cuDNN from NVIDIA's wheels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllab.core.errors import InputError
from mllab.core.paths import DOCKER

#: the images' Python: what ``pip download`` resolves wheels for. Debian bookworm's python3
#: (the local base) is 3.11.2, python:3.11-slim-bookworm a later 3.11.x: a wheel that
#: installs on 3.11.2 installs on both (soupsieve 4.1, for one, needs >= 3.11.5)
PYTHON_VERSION = "3.11.2"
#: newest glibc the wheels may need; bookworm has 2.36, the manylinux_2_28 floor is the
#: common one of the pinned wheels (onnxruntime, numpy, pillow)
MAX_GLIBC = (2, 28)
#: fixed timestamps for what the host builds (the mllab wheel): same source, same bytes
SOURCE_DATE_EPOCH = "1735689600"
#: the label holding the digest of everything a build read (see :func:`build_kind`)
DIGEST_LABEL = "org.mllab.context-digest"
#: the port the server listens on inside the images (``EXPOSE 8080``)
SERVER_PORT = 8080
LogFn = Callable[[str], Any]


@dataclass(frozen=True)
class Kind:
    """One of the server's images: its Dockerfile, its lock (None: resolved unpinned), its tag."""

    name: str
    dockerfile: str
    requirements: str | None
    lock: str | None
    tag: str

    @property
    def dockerfile_path(self) -> Path:
        return DOCKER / self.dockerfile


KINDS = {
    "slim": Kind(
        "slim", "Dockerfile", "requirements-serve.in", "requirements.lock", "mllab/serve:slim"
    ),
    "naive": Kind("naive", "Dockerfile.naive", None, None, "mllab/serve:naive"),
    "cuda": Kind(
        "cuda",
        "Dockerfile.cuda",
        "requirements-cuda.in",
        "requirements-cuda.lock",
        "mllab/serve:cuda",
    ),
}


def kind(name: str) -> Kind:
    """The :class:`Kind` called ``name``, or a clear error."""
    if name not in KINDS:
        raise InputError(f"image kind must be one of {', '.join(KINDS)}, not {name!r}")
    return KINDS[name]
