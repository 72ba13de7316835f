"""Tiny ONNX models for the tests: built with onnx.helper in milliseconds, with the same
interface as the kit's ResNet-50 (input ``input`` with a symbolic batch axis, output
``logits``), and FLOPs known by hand; and a model file tampered with (one bit flipped). The
fixtures that hand these out are in ``tests/conftest.py`` (``tiny``, ``tiny_model``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

#: Conv 3->4 channels, 3x3, pad 1, on 8x8 images, then Relu, global average pool and Gemm 4->5
CONV_MACS = 8 * 8 * 4 * 3 * 3 * 3  # per image: H_out · W_out · C_out · C_in · kH · kW
GEMM_MACS = 4 * 5


def tiny_classifier(path: Path, digest: bool = True) -> Path:
    """Write the tiny classifier to ``path`` (+ ``.sha256`` when ``digest``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "wb"),
        numpy_helper.from_array(rng.standard_normal((5, 4)).astype(np.float32), "g"),
        numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "gb"),
        numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w", "wb"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Reshape", ["p", "shape"], ["f"]),
        helper.make_node("Gemm", ["f", "g", "gb"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 5])],
        initializer=weights,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    if digest:
        from mllab.model.integrity import write_digest

        write_digest(path)
    return path


def tiny_resnet_interface(path: Path) -> Path:
    """ResNet-50's interface (``input`` (N, 3, 224, 224) -> ``logits`` (N, 1000)) in three
    nodes (GlobalAveragePool, Flatten, Gemm 3 -> 1000), seeded, with its sha256 file: what the
    server tests serve instead of the 100 MB model."""
    from mllab.exercises.lab02_wire import interface_model

    return interface_model(Path(path), seed=0, name="tiny")


def flip_bit(path: Path, offset: int = -5, mask: int = 0x01) -> Path:
    """Flip the bits ``mask`` of the byte at ``offset`` of ``path``, in place. Near the end of
    an ONNX file that byte is in a weight: the model still loads, its sha256 no longer matches
    its digest file."""
    with path.open("r+b") as handle:  # in place: a 100 MB model is not read whole
        handle.seek(offset, os.SEEK_END if offset < 0 else os.SEEK_SET)
        byte = handle.read(1)[0]
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte ^ mask]))
    return path


def tampered_copy(model: Path, folder: Path, offset: int = -5) -> Path:
    """``model`` and its sha256 file copied to ``folder/model.onnx``, then one bit of the copy
    flipped (:func:`flip_bit`): a model whose digest file no longer matches it."""
    copy = folder / "model.onnx"
    shutil.copyfile(model, copy)
    shutil.copyfile(f"{model}.sha256", folder / "model.onnx.sha256")
    return flip_bit(copy, offset)
