"""ResNet-50 (torchvision) with an explicit weights policy: θ of the artefact A = (f, θ, R, E).

``weights`` says where θ comes from:

* ``None`` or ``"random"``: seeded random initialisation (``torch.manual_seed(seed)``). The
  default: reproducible and offline, but the predicted classes are meaningless. Parity,
  latency and drift are still real measurements of the same computation graph f.
* a path to a local checkpoint (a ``state_dict`` saved with ``torch.save``, ``.pt``/``.pth``).
* a torchvision enum name (``"IMAGENET1K_V2"``, ``"ResNet50_Weights.IMAGENET1K_V2"``,
  ``"DEFAULT"``): downloaded by torchvision (or taken from its cache); offline this raises
  :class:`WeightsUnavailable` saying how to get the file and pass its path instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mllab.core.errors import InputError, WeightsUnavailable
from mllab.model.weights import checkpoint_path, enum_key, kind, weights_id

if TYPE_CHECKING:
    import torch
    from torchvision.models import ResNet50_Weights

# torch and torchvision are imported inside the loaders: they take seconds to import, and the
# modules that only need a model's name (mllab.model.weights, the artefact cache) stay light.

__all__ = ["load_resnet50", "weights_id"]


def _enum(name: str) -> ResNet50_Weights:
    """The torchvision ``ResNet50_Weights`` member named ``name`` (no download)."""
    from torchvision.models import ResNet50_Weights

    return ResNet50_Weights[enum_key(name)]


def _random_model(seed: int) -> torch.nn.Module:
    import torch
    from torchvision.models import resnet50

    # fork_rng: seeding must not disturb the caller's global random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return resnet50(weights=None)


def _file_model(weights: str | Path) -> torch.nn.Module:
    import torch
    from torchvision.models import resnet50

    path = checkpoint_path(weights)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means "not a state_dict"
        raise InputError(f"{path} is not a loadable PyTorch checkpoint: {error}") from error
    for key in ("state_dict", "model"):  # training scripts often wrap the state_dict
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise InputError(f"{path} holds a {type(state).__name__}, not a state_dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}  # DataParallel prefix
    model = resnet50(weights=None)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise InputError(f"{path} is not a ResNet-50 state_dict: {error}") from error
    return model


def _enum_model(weights: str) -> torch.nn.Module:
    from torchvision.models import resnet50

    member = _enum(weights)
    try:
        return resnet50(weights=member, progress=False)
    except Exception as error:  # noqa: BLE001 - URLError, socket timeouts, SSL, HTTP errors
        raise WeightsUnavailable(
            f"cannot download torchvision weights {member.name} ({error}). This machine is "
            f"probably offline. On a machine with internet, download {member.url}, copy the file "
            f"here and pass its path instead (--weights /path/to/{member.url.rsplit('/', 1)[-1]}),"
            " or put it in the torch hub cache ($TORCH_HOME/hub/checkpoints/). Without "
            "--weights the kit uses seeded random weights, which work offline."
        ) from error


def load_resnet50(weights: str | Path | None = None, seed: int = 0) -> torch.nn.Module:
    """torchvision ResNet-50 in eval mode, θ chosen by the weights policy (module docstring)."""
    branch = kind(weights)
    if branch == "random":
        model = _random_model(seed)
    elif branch == "file":
        assert weights is not None  # kind() answers "random" for None
        model = _file_model(weights)
    else:
        model = _enum_model(str(weights))
    return model.eval()
