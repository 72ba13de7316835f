"""Export ResNet-50 to ONNX: f and θ of the artefact A = (f, θ, R, E) in one checked file.

Both exporters of torch 2.14 are supported: the default ``dynamo=True`` one (``torch.export``
+ onnxscript) and the legacy TorchScript one (``dynamo=False``). Every export

* names the input ``input`` and the output ``logits``, with a symbolic batch axis, traced from
  an example batch of 2 (a batch of 1 makes the dynamo exporter specialise the batch to 1) and
  verified by running ONNX Runtime at batch 1, 3 and 8 (:mod:`mllab.model.checks`);
* is one self-contained file (the dynamo exporter writes weights to an external ``.data`` file
  by default; we inline them and remove any ``.data``);
* passes ``onnx.checker``, carries metadata (exporter, opset, torch version, weights id) and
  gets a ``<model>.sha256`` beside it (``mllab.model.integrity``).

:func:`mllab.model.artifacts.default_model` is the cached export every later lab uses.
torch (and through it onnxscript) is imported inside the functions that export: it takes
seconds to import, and the cache and the checks must stay usable without paying for it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import onnx

from mllab.core.errors import ExportFailed
from mllab.model.artifact_paths import check_exporter
from mllab.model.checks import INPUT, OUTPUT, check_dynamic_batch
from mllab.model.integrity import write_digest
from mllab.model.resnet import load_resnet50
from mllab.model.weights import weights_id

if TYPE_CHECKING:  # annotations only: torch is imported when an export runs
    import torch

#: batch of the example input: 2, because a batch of 1 lets torch.export specialise the axis
EXAMPLE_BATCH = 2


def _export_with_torch(
    model: torch.nn.Module, path: Path, exporter: str, opset: int | None, fold: bool
) -> None:
    """Run one of torch's exporters into ``path`` (it may leave a ``.data`` file beside it)."""
    import torch  # deferred: see the module docstring

    example = torch.randn(EXAMPLE_BATCH, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    common: dict[str, Any] = {"input_names": [INPUT], "output_names": [OUTPUT]}
    if opset is not None:
        common["opset_version"] = opset
    if exporter == "dynamo":
        batch = torch.export.Dim("batch", min=1, max=4096)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=True,
            dynamic_shapes=({0: batch},),
            external_data=False,
            optimize=fold,  # onnxscript's optimiser (it folds BatchNormalization into Conv)
            verbose=False,
            **common,
        )
    else:
        # The TorchScript exporter is deprecated (warning) but still shipped: we compare both.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            _export_torchscript(model, example, path, fold, common)


def _export_torchscript(
    model: torch.nn.Module,
    example: torch.Tensor,
    path: Path,
    fold: bool,
    common: dict[str, Any],
) -> None:
    import torch  # deferred: see the module docstring

    torch.onnx.export(
        model,
        (example,),
        str(path),
        dynamo=False,
        dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
        # constant folding also runs the eval peephole that fuses Conv+BatchNormalization;
        # fold=False keeps BatchNormalization nodes so that ORT's own fusion can be shown.
        do_constant_folding=fold,
        **common,
    )


def _opset(proto: onnx.ModelProto) -> int:
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _data_files(path: Path) -> list[Path]:
    """External-data files an exporter may have written next to ``path``."""
    names = {path.name + ".data", path.stem + ".data"}  # torch writes ``<file>.data``
    return [path.with_name(name) for name in sorted(names) if path.with_name(name).exists()]


def export_onnx(
    out: str | Path,
    exporter: str = "dynamo",
    opset: int | None = None,
    weights: str | Path | None = None,
    seed: int = 0,
    fold: bool = True,
) -> Path:
    """Export ResNet-50 to one checked ONNX file ``out`` (+ ``out.sha256``) and return its path.

    ``opset=None`` takes the exporter's default; ``weights``/``seed`` follow
    :func:`mllab.model.resnet.load_resnet50`.
    ``fold=False`` keeps BatchNormalization nodes (TorchScript
    exporter), to show what ONNX Runtime's graph optimiser does with them.
    """
    import torch  # deferred: see the module docstring

    check_exporter(exporter)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = load_resnet50(weights, seed)
    # Export under a temporary name, then rename: a reader never sees half a model.
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.onnx")
    try:
        try:
            _export_with_torch(model, tmp, exporter, opset, fold)
        except Exception as error:  # noqa: BLE001 - exporter failures come in many types
            message = f"the {exporter} exporter failed (opset {opset}): {error}"
            raise ExportFailed(message) from error
        proto = onnx.load(str(tmp))  # pulls any external .data back into the proto
        if opset is not None and _opset(proto) != opset:  # dynamo raises opsets < 18 silently
            raise ExportFailed(
                f"asked for opset {opset} but the {exporter} exporter produced opset "
                f"{_opset(proto)}; pick an opset it supports (the dynamo exporter needs >= 18)"
            )
        props = {
            "exporter": exporter,
            "opset": str(_opset(proto)),
            "torch_version": torch.__version__,
            "onnx_version": onnx.__version__,
            "weights_id": weights_id(weights, seed),
            "model": "torchvision.models.resnet50",
            "preprocess": (
                "mllab.model.preprocess: resize 256 bilinear, crop 224, ImageNet mean/std"
            ),
            "fold": str(fold).lower(),
        }
        onnx.helper.set_model_props(proto, props)
        onnx.save(proto, str(tmp), save_as_external_data=False)
        for data in _data_files(tmp):
            data.unlink()
        try:
            onnx.checker.check_model(str(tmp), full_check=True)
        except onnx.checker.ValidationError as error:
            raise ExportFailed(f"onnx.checker rejects the {exporter} export: {error}") from error
        check_dynamic_batch(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
        for data in _data_files(tmp):
            data.unlink()
    for data in _data_files(out):  # a stale .data from an older export would confuse readers
        data.unlink()
    write_digest(out)
    return out
