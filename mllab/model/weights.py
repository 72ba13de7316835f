"""The weights policy by name: which θ a ``weights`` argument means, without loading it.

``None``/``"random"`` is seeded random initialisation, a path is a local checkpoint, anything
else a torchvision ``ResNet50_Weights`` name. :func:`weights_id` names θ for the ONNX metadata
and the artefact cache; this module never imports torch or torchvision, so the server can find
a cached model without them (:mod:`mllab.model.resnet` loads the weights).
"""

from __future__ import annotations

from pathlib import Path

from mllab.core.errors import InputError, WeightsUnavailable
from mllab.core.hashing import sha256_file

RANDOM = "random"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin")
ENUM_PREFIX = "ResNet50_Weights."
#: torchvision's ``ResNet50_Weights`` members and the one each name resolves to
#: (tests/model/test_weights.py checks this table against torchvision)
ENUM_NAMES = {"IMAGENET1K_V1": "IMAGENET1K_V1", "IMAGENET1K_V2": "IMAGENET1K_V2"}
ENUM_NAMES["DEFAULT"] = "IMAGENET1K_V2"


def kind(weights: str | Path | None) -> str:
    """``random``, ``file`` or ``enum``: which branch of the policy ``weights`` takes."""
    if weights is None or str(weights).lower() == RANDOM:
        return "random"
    text = str(weights)
    if isinstance(weights, Path) or "/" in text or text.endswith(CHECKPOINT_SUFFIXES):
        return "file"
    return "enum"


def enum_key(name: str) -> str:
    """The ``ResNet50_Weights`` member a name means (``DEFAULT`` -> ``IMAGENET1K_V2``)."""
    key = name.removeprefix(ENUM_PREFIX)
    if key not in ENUM_NAMES:
        valid = ", ".join([RANDOM, *ENUM_NAMES, "<path to .pt/.pth>"])
        raise InputError(f"unknown weights {name!r}: use one of {valid}")
    return ENUM_NAMES[key]


def checkpoint_path(weights: str | Path) -> Path:
    """The checkpoint file ``weights`` names; :class:`WeightsUnavailable` when it is absent."""
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsUnavailable(
            f"checkpoint {path} does not exist: pass the path of a ResNet-50 state_dict "
            "(.pt/.pth), or omit --weights for seeded random weights"
        )
    return path


def weights_id(weights: str | Path | None = None, seed: int = 0) -> str:
    """A short, stable name for θ: ``random-seed0``, ``file:<sha256[:12]>`` or ``IMAGENET1K_V2``.

    Recorded in the ONNX metadata and used in cache file names, so that an exported model says
    which weights it holds. Resolving it never downloads anything.
    """
    branch = kind(weights)
    if branch == "random":
        return f"random-seed{seed}"
    if branch == "file":
        assert weights is not None  # kind() answers "random" for None
        return f"file:{sha256_file(checkpoint_path(weights))[:12]}"
    return enum_key(str(weights))
