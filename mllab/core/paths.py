"""Where things live: the repository's folders and the git-ignored output folders."""

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

#: The ``mllab`` package folder (mounted into containers that run the kit's modules).
PACKAGE = Path(__file__).resolve().parents[1]
#: The repository root (the package is installed in editable mode from it).
ROOT = Path(os.environ.get("MLLAB_ROOT", Path(__file__).resolve().parents[2]))
LABS = ROOT / "labs"
DATA = ROOT / "data"
DOCKER = ROOT / "docker"
#: Generated models, wheelhouses and build contexts: never committed.
ARTIFACTS = Path(os.environ.get("MLLAB_ARTIFACTS", ROOT / "artifacts"))
#: Executed notebooks and reports of ``mllab labs run``: never committed.
RUNS = Path(os.environ.get("MLLAB_RUNS", ROOT / "runs"))


def artifact(*parts: str) -> Path:
    """A path under ``artifacts/``, its parent folder created."""
    path = ARTIFACTS.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """An advisory lock file: two processes (labs run side by side, a test and a lab) making the
    same artefact take turns instead of writing it twice."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
