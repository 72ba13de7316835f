"""Request bodies the serve tests send: a real PNG of any size, and a ``.npy`` whose header
declares more than it carries (what a server must refuse before allocating)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def png(width: int, height: int, optimize: bool = False) -> bytes:
    """A grey PNG of ``width`` x ``height`` made with Pillow (tiny when one side is 1)."""
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG", optimize=optimize)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "<f4", data: bytes = b"") -> bytes:
    """A ``.npy`` whose header declares ``shape`` and ``descr`` but carries only ``data``."""
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data
