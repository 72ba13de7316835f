"""sha256 digests of model files: θ must be the θ that was exported, byte for byte.

A model file travels (copied into an image, mounted, downloaded) and can be truncated or
altered on the way; its digest is written beside it in ``sha256sum`` format
(``<model>.sha256``, so ``sha256sum -c resnet50.onnx.sha256`` works too) and checked before the
model is loaded. The digest itself is :func:`mllab.core.hashing.sha256_file`; no torch here:
this module runs inside the slim serving image.
"""

from __future__ import annotations

import os
from pathlib import Path

from mllab.core.errors import InputError, IntegrityError
from mllab.core.hashing import sha256_file


def digest_path(path: str | Path) -> Path:
    """Where the digest of ``path`` lives: ``<path>.sha256`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def _model_file(path: str | Path) -> Path:
    """``path`` as a Path; :class:`InputError` (not a bare OSError) when there is no such file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such model file: {path}")
    return path


def write_digest(path: str | Path) -> Path:
    """Write ``<path>.sha256`` (``sha256sum`` format) and return its path.

    Written to a temporary name and renamed so that a reader never sees half a digest.
    """
    path = _model_file(path)
    target = digest_path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{sha256_file(path)}  {path.name}\n")
    tmp.replace(target)
    return target


def read_digest(path: str | Path) -> str:
    """The digest recorded for ``path``, or :class:`IntegrityError` when there is none."""
    path = Path(path)
    target = digest_path(path)
    if not target.is_file():
        raise IntegrityError(
            f"refusing to load {path}: its digest file {target.name} is missing, so the model "
            "cannot be checked. Re-export it (mllab export) or get the .sha256 file that came "
            "with it; if you trust this file, write one with mllab.model.integrity.write_digest()."
        )
    fields = target.read_text().split()
    if not fields or len(fields[0]) != 64:
        raise IntegrityError(f"{target} is not a sha256sum line ('<64 hex digits>  <name>')")
    return fields[0].lower()


def verify_model(path: str | Path) -> str:
    """The file's sha256 when it matches ``<path>.sha256``; otherwise :class:`IntegrityError`."""
    expected = read_digest(path)
    actual = sha256_file(_model_file(path))
    if actual != expected:
        raise IntegrityError(
            f"refusing to load {path}: its sha256 is {actual} but {digest_path(path).name} "
            f"expects {expected}. The file changed after it was exported (truncated copy, "
            "tampering, or a different model under the same name). Re-export it "
            "(mllab export) or copy the original file again."
        )
    return actual
