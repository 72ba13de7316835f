"""Export ResNet-50 to ONNX: f and θ of the artefact A = (f, θ, R, E) in one checked file.

Both exporters of torch 2.14 are supported: the default ``dynamo=True`` one (``torch.export``
+ onnxscript) and the legacy TorchScript one (``dynamo=False``). Every export

* names the input ``input`` and the output ``logits``, with a symbolic batch axis, traced from
  an example batch of 2 (a batch of 1 makes the dynamo exporter specialise the batch to 1) and
  verified by running ONNX Runtime at batch 1, 3 and 8;
* is one self-contained file (the dynamo exporter writes weights to an external ``.data`` file
  by default; we inline them and remove any ``.data``);
* passes ``onnx.checker``, carries metadata (exporter, opset, torch version, weights id) and
  gets a ``<model>.sha256`` beside it (``mllab.model.integrity``).

:func:`default_model` is the cached export every later lab and the server use.
"""

from __future__ import annotations

import argparse
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mllab.core.errors import ExportFailed, InputError, IntegrityError
from mllab.model.integrity import verify_model, write_digest
from mllab.core.paths import artifact, exclusive

EXPORTERS = ("dynamo", "torchscript")
INPUT, OUTPUT = "input", "logits"
#: batch of the example input: 2, because a batch of 1 lets torch.export specialise the axis
EXAMPLE_BATCH = 2
#: batch sizes at which the dynamic batch axis is verified with ONNX Runtime
CHECK_BATCHES = (1, 3, 8)
#: columns of the parity table shown by the lab and the CLI
PARITY_COLUMNS = [
    "exporter",
    "inputs",
    "n",
    "max_abs",
    "l2",
    "relative",
    "cosine",
    "top1_agreement",
    "top5_agreement",
    "delta<=0.001",
    "allclose(rtol=0.001,atol=1e-05)",
]


def _export_with_torch(model, path: Path, exporter: str, opset: int | None, fold: bool) -> None:
    """Run one of torch's exporters into ``path`` (it may leave a ``.data`` file beside it)."""
    import torch

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


def _export_torchscript(model, example, path: Path, fold: bool, common: dict[str, Any]) -> None:
    import torch

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


def _opset(proto) -> int:
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _data_files(path: Path) -> list[Path]:
    """External-data files an exporter may have written next to ``path``."""
    names = {path.name + ".data", path.stem + ".data"}  # torch writes ``<file>.data``
    return [path.with_name(name) for name in sorted(names) if path.with_name(name).exists()]


def metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (weights are not loaded)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


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
    :func:`mllab.model.resnet.load_resnet50`. ``fold=False`` keeps BatchNormalization nodes (TorchScript
    exporter), to show what ONNX Runtime's graph optimiser does with them.
    """
    import onnx
    import torch

    from mllab.model.resnet import load_resnet50, weights_id

    if exporter not in EXPORTERS:
        raise InputError(f"exporter must be one of {', '.join(EXPORTERS)}, not {exporter!r}")
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
            "preprocess": "mllab.model.preprocess: resize 256 bilinear, crop 224, ImageNet mean/std",
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


def check_dynamic_batch(path: str | Path, batches: tuple[int, ...] = CHECK_BATCHES) -> dict:
    """Run ONNX Runtime at each batch size; :class:`ExportFailed` unless logits are ``(b, 1000)``.

    Returns ``{batch: output shape}``. The graph's batch dimension must also be symbolic.
    """
    import onnx

    from mllab.runtime.sessions import create_session

    proto = onnx.load(str(path), load_external_data=False)
    for value in (proto.graph.input[0], proto.graph.output[0]):
        dim = value.type.tensor_type.shape.dim[0]
        if not dim.dim_param:
            raise ExportFailed(
                f"{path}: the batch axis of {value.name!r} is fixed to {dim.dim_value}, not "
                "symbolic (was the example batch 1?)"
            )
    session = create_session(path, device="cpu")
    rng = np.random.default_rng(0)
    shapes = {}
    for batch in batches:
        x = rng.standard_normal((batch, 3, 224, 224), dtype=np.float32)
        shapes[batch] = tuple(run(session, x).shape)
        if shapes[batch] != (batch, 1000):
            raise ExportFailed(f"{path}: batch {batch} gave logits of shape {shapes[batch]}")
    return shapes


def run(session, x: np.ndarray) -> np.ndarray:
    """Logits of an ONNX Runtime session for an ``(N, 3, 224, 224)`` float32 batch."""
    return session.run([OUTPUT], {INPUT: np.ascontiguousarray(x, dtype=np.float32)})[0]


def load_session(path: str | Path, verify: bool = True, **kwargs):
    """An ONNX Runtime session for ``path``, refused (:class:`IntegrityError`) if its sha256
    does not match ``<path>.sha256``. ``kwargs`` go to :func:`mllab.runtime.sessions.create_session`."""
    from mllab.runtime.sessions import create_session

    if verify:
        verify_model(path)
    return create_session(path, **kwargs)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


def _lock(path: Path):
    """Two labs exporting the same model wait for each other (a hidden lock file beside it)."""
    return exclusive(path.with_name(f".{path.name}.lock"))


def default_model(
    exporter: str = "dynamo", weights: str | Path | None = None, seed: int = 0
) -> Path:
    """The cached export under ``artifacts/models/``, re-exported only when it is missing or
    its sha256 does not verify. Every later lab and the server start from this file."""
    from mllab.model.resnet import weights_id

    if exporter not in EXPORTERS:
        raise InputError(f"exporter must be one of {', '.join(EXPORTERS)}, not {exporter!r}")
    path = artifact("models", f"resnet50-{exporter}-{_slug(weights_id(weights, seed))}.onnx")
    with _lock(path):
        if path.exists():
            try:
                verify_model(path)
                return path
            except IntegrityError as error:
                print(f"re-exporting {path.name}: {error}")
        return export_onnx(path, exporter=exporter, weights=weights, seed=seed)


def derived_model(
    suffix: str,
    make: Callable[[Path, Path], Path],
    exporter: str = "dynamo",
    weights: str | Path | None = None,
    seed: int = 0,
) -> Path:
    """A model made from :func:`default_model` by ``make(fp32, out)`` (INT8, fp16), cached beside
    it as ``<fp32 stem>-<suffix>.onnx``; remade only when missing, when its sha256 fails, or when
    the fp32 model it came from changed (``make`` records ``fp32_sha256`` in its metadata)."""
    fp32 = default_model(exporter, weights=weights, seed=seed)
    path = artifact("models", f"{fp32.stem}-{suffix}.onnx")
    with _lock(path):
        if path.exists():
            try:
                verify_model(path)
                if metadata(path).get("fp32_sha256") == verify_model(fp32):
                    return path
            except IntegrityError as error:
                print(f"remaking {path.name}: {error}")
        return make(fp32, path)


def optimize_graph(model: str | Path, out: str | Path, opt_level: str = "all") -> Path:
    """Save the graph ONNX Runtime actually runs after its optimiser (``ORT_ENABLE_ALL``).

    At level ``all`` the CPU provider fuses Conv+BatchNormalization, Conv+Add+Relu and converts
    convolutions to its NCHWc layout, so the saved file only loads in this ORT build on a CPU
    like this one: it is for inspection (:func:`node_counts`), not for shipping.
    """
    from mllab.runtime.sessions import create_session

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    create_session(model, device="cpu", opt_level=opt_level, optimized_model_path=str(out))
    return out


def node_counts(path: str | Path) -> dict[str, int]:
    """Nodes per operator type, most frequent first (``domain:op`` outside the ONNX domain)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    counts = Counter(f"{n.domain}:{n.op_type}" if n.domain else n.op_type for n in proto.graph.node)
    return dict(counts.most_common())


def graph_fusion(model: str | Path, out: str | Path) -> dict:
    """Node counts before and after ONNX Runtime's ``ORT_ENABLE_ALL`` optimiser (saved to ``out``).

    Returns ``{"before": counts, "after": counts, "nodes_before", "nodes_after",
    "batchnorm_before", "batchnorm_after"}``: the numbers that show Conv+BN fusion.
    """
    before = node_counts(model)
    after = node_counts(optimize_graph(model, out))
    return {
        "before": before,
        "after": after,
        "nodes_before": sum(before.values()),
        "nodes_after": sum(after.values()),
        "batchnorm_before": before.get("BatchNormalization", 0),
        "batchnorm_after": after.get("BatchNormalization", 0),
    }


def optimization_levels(
    model: str | Path, x: np.ndarray, repeats: int = 10, levels=("disable", "basic", "all")
) -> list[dict]:
    """Latency and drift of ``model`` at each ORT optimisation level, measured in one run
    (interleaved rounds, see :func:`mllab.measure.stats.interleaved`).

    Drift is against ``disable`` (the lecture's deterministic setting): Δ and max-abs show how
    far fusions move the logits; median/p90 latency (ms) show what they buy.
    """
    from mllab.measure.drift import compare
    from mllab.runtime.sessions import create_session
    from mllab.measure.stats import interleaved

    sessions = {level: create_session(model, device="cpu", opt_level=level) for level in levels}
    baseline = run(create_session(model, device="cpu", opt_level="disable"), x)
    # interleaved rounds: every level sees the same load on a shared CPU
    timings = interleaved({k: (lambda s=s: run(s, x)) for k, s in sessions.items()}, repeats)
    rows = []
    for level, session in sessions.items():
        timing = timings[level]
        drift = compare(run(session, x), baseline)
        rows.append(
            {
                "opt_level": level,
                "median_ms": timing.median_ms,
                "p90_ms": timing.p90_ms,
                "delta_vs_disable": drift.l2,
                "max_abs_vs_disable": drift.max_abs,
            }
        )
    return rows


def compare_sessions(candidate, reference, inputs: dict[str, np.ndarray]) -> list[dict]:
    """Drift of one session's logits against another's, one row per named input batch."""
    from mllab.measure.drift import compare

    return [
        {"inputs": name, **compare(run(candidate, x), run(reference, x)).to_dict()}
        for name, x in inputs.items()
    ]


def reference_inputs(batch: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """The inputs parity is measured on: the sample photos and a seeded random batch."""
    from mllab.model.preprocess import preprocess_batch, sample_images

    rng = np.random.default_rng(seed)
    return {
        "samples": preprocess_batch(sample_images()),
        "random": rng.standard_normal((batch, 3, 224, 224), dtype=np.float32),
    }


def torch_logits(model, x: np.ndarray) -> np.ndarray:
    """PyTorch's logits for a numpy batch (the reference of every parity check)."""
    import torch

    with torch.inference_mode():
        return model(torch.from_numpy(np.ascontiguousarray(x))).numpy()


def parity_report(
    models: dict[str, str | Path] | None = None,
    weights: str | Path | None = None,
    seed: int = 0,
    batch: int = 8,
) -> list[dict]:
    """PyTorch vs ONNX Runtime (CPU) for each exported model, on the photos and a random batch.

    ``models`` maps a label to an ONNX file (default: :func:`default_model` for both
    exporters); every file must hold the weights ``weights``/``seed`` (its metadata is checked).
    One row per (model, inputs) with :class:`mllab.measure.drift.Drift` metrics and verdicts against
    the lecture's Δ ≤ 1e-3 and the tutorial's allclose(rtol=1e-3, atol=1e-5).
    """
    from mllab.measure.drift import compare
    from mllab.model.resnet import load_resnet50, weights_id

    if models is None:
        models = {e: default_model(e, weights=weights, seed=seed) for e in EXPORTERS}
    expected = weights_id(weights, seed)
    inputs = reference_inputs(batch, seed)
    reference = load_resnet50(weights, seed)
    expected_logits = {name: torch_logits(reference, x) for name, x in inputs.items()}
    rows = []
    for label, path in models.items():
        held = metadata(path).get("weights_id")
        if held != expected:
            raise InputError(f"{path} holds weights {held!r}, but the reference is {expected!r}")
        session = load_session(path, device="cpu")
        for name, x in inputs.items():
            drift = compare(run(session, x), expected_logits[name])
            rows.append({"exporter": label, "inputs": name, **drift.to_dict()})
    return rows


def add_cli(sub: argparse._SubParsersAction) -> None:
    """Register ``mllab export``."""
    parser = sub.add_parser(
        "export",
        help="export ResNet-50 to one ONNX file with metadata and a sha256 file",
        description="Export torchvision ResNet-50 to ONNX, check it, and print a parity line.",
    )
    parser.add_argument("--out", type=Path, default=None, help="default artifacts/resnet50.onnx")
    parser.add_argument("--exporter", choices=EXPORTERS, default="dynamo")
    parser.add_argument("--opset", type=int, default=None, help="default: the exporter's")
    parser.add_argument(
        "--weights",
        default=None,
        help="random (default), a .pt/.pth state_dict path, or a torchvision name (IMAGENET1K_V2)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.set_defaults(func=_cli_export)


def _cli_export(args: argparse.Namespace) -> int:
    from mllab.measure.drift import format_table
    from mllab.model.integrity import sha256_file

    out = args.out or artifact("resnet50.onnx")
    path = export_onnx(out, args.exporter, args.opset, args.weights, args.seed)
    props = metadata(path)
    print(path)
    print(f"sha256 {sha256_file(path)}")
    print(f"exporter {props['exporter']}, opset {props['opset']}, weights {props['weights_id']}")
    rows = parity_report({args.exporter: path}, weights=args.weights, seed=args.seed)
    columns = ["inputs", "max_abs", "l2", "top1_agreement", "delta<=0.001"]
    print("parity PyTorch vs ONNX Runtime CPU:")
    print(format_table(rows, columns))
    return 0
