"""Bounded memory before allocation: every size a request can make the server allocate is checked
here against a :class:`Limits` before the allocation happens.

A request body is at most ``MAX_BODY_MB`` (:class:`mllab.serve.bodies.BodyLimit`), but a few
hundred bytes can still ask for gigabytes: a PNG header declaring 1 x 40 000 000 pixels (its
resize target is 256 x 10 000 000 000), a ``.npy`` header declaring ``(10**6, 10**6)``, a JSON
number of a million digits, ``[[[[...]]]]`` nested a million deep, a multipart form of ten
thousand parts. Each reader checks the declared size first (headers only), then allocates.

A client mistake is a :class:`RequestError` carrying its HTTP status (400 unreadable, 413 too
large, 415 unsupported type, 422 invalid) and a message saying what to send instead; the app
answers it as JSON ``{"error": ..., "detail": ...}``. The defaults fit a 1 GB container running
``MAX_IN_FLIGHT`` requests at a time next to a ResNet-50 session.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from python_multipart.multipart import MultipartParser, parse_options_header

from mllab.core.errors import InputError
from mllab.model.preprocess import CROP, RESIZE

if TYPE_CHECKING:  # a TypedDict that python-multipart defines for type checkers only
    from python_multipart.multipart import MultipartCallbacks

#: a float32 sample is 3 x 224 x 224 x 4 bytes = 0.6 MB: 32 MB holds the largest batch (32)
DEFAULT_MAX_TENSOR_MB = 32.0
#: 16 megapixels (a phone photo is 12): decoded as RGBA it is 64 MB, as RGB 48 MB
DEFAULT_MAX_IMAGE_MP = 16.0
#: ``{"input": [[[[...]]]]}`` is 5 deep, a v2 request 7; 32 leaves room and bounds recursion
DEFAULT_MAX_JSON_DEPTH = 32
#: values in one JSON body: ~32 bytes each once parsed, so 1.5 M values are ~48 MB (10 images)
DEFAULT_MAX_JSON_VALUES = 1_500_000
#: parts of one multipart form (the file and a few fields)
DEFAULT_MAX_PARTS = 8
#: an integer literal longer than this is not a pixel value (a float32 holds ~7 digits)
MAX_INT_DIGITS = 18
#: at most this many dimensions in a declared shape
MAX_DIMS = 8
#: dtypes a tensor body may declare; everything else is refused from the header
ALLOWED_DTYPES = ("float32",)
#: bytes scanned at a time by json_depth (its int32 steps: 4 MB)
_JSON_CHUNK = 1 << 20


class RequestError(InputError):
    """A client error with its HTTP status (400 unreadable, 413 too large, 415 unsupported type,
    422 invalid) and optional JSON ``detail``."""

    def __init__(self, message: str, status: int = 400, detail: Any = None):
        super().__init__(message)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """What one request may make the server allocate (read from ENV by ``ServerConfig``)."""

    max_body_mb: float = 32.0
    max_batch: int = 32
    max_tensor_mb: float = DEFAULT_MAX_TENSOR_MB
    max_image_mp: float = DEFAULT_MAX_IMAGE_MP
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    max_json_values: int = DEFAULT_MAX_JSON_VALUES
    max_parts: int = DEFAULT_MAX_PARTS

    @property
    def max_tensor_bytes(self) -> int:
        return int(self.max_tensor_mb * 1024 * 1024)

    @property
    def max_image_pixels(self) -> int:
        return int(self.max_image_mp * 1_000_000)

    def as_dict(self) -> dict[str, Any]:
        """The limits as ``/metadata`` shows them."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


# --- tensors -------------------------------------------------------------------------------------


def check_shape(shape: tuple[Any, ...] | list[Any], dtype: Any, limits: Limits) -> tuple[int, ...]:
    """``shape`` as a tuple, once its dtype is allowed and its bytes fit ``MAX_TENSOR_MB``."""
    name = np.dtype(dtype).name if _is_dtype(dtype) else str(dtype)  # '>f4' is float32 too
    if name not in ALLOWED_DTYPES:
        raise RequestError(
            f"the tensor's dtype is {name}; send float32 (numpy: x.astype(np.float32))",
            422,
            {"dtype": name, "allowed": list(ALLOWED_DTYPES)},
        )
    dims = tuple(shape)
    if not 1 <= len(dims) <= MAX_DIMS or not all(isinstance(d, int) and d >= 0 for d in dims):
        raise RequestError(
            f"shape {list(dims)} is not 1 to {MAX_DIMS} non-negative integers: send the model's "
            "(N, 3, 224, 224)",
            422,
            {"shape": [str(d) for d in dims]},
        )
    size = math.prod(dims) * np.dtype(name).itemsize
    if size > limits.max_tensor_bytes:
        raise RequestError(
            f"shape {list(dims)} of {name} is {size / 2**20:.4g} MB; this server takes at most "
            f"{limits.max_tensor_mb:g} MB per tensor (MAX_TENSOR_MB): send a smaller batch",
            413,
            {"bytes": size, "limit_bytes": limits.max_tensor_bytes},
        )
    return dims


def _is_dtype(value: Any) -> bool:
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True


def read_npy(body: bytes, limits: Limits) -> np.ndarray:
    """The array in ``.npy`` bytes, its header checked before the data is touched (no pickles,
    no copy: the array is a view of ``body``)."""
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0}.get(
            version, np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(stream, max_header_size=10_000)
    except (ValueError, OSError, EOFError, SyntaxError) as error:
        raise RequestError(
            f"the body is not a readable .npy array ({error}); send np.save(buffer, x) bytes",
        ) from None
    if dtype.hasobject:
        raise RequestError("a .npy of Python objects is refused (pickles run code): send float32")
    dims = check_shape(shape, dtype, limits)
    offset, need = stream.tell(), math.prod(dims) * dtype.itemsize
    if len(body) - offset != need:
        raise RequestError(
            f"the .npy header declares {list(dims)} ({need} bytes) but {len(body) - offset} follow",
            400,
        )
    array = np.frombuffer(body, dtype=dtype, count=math.prod(dims), offset=offset)
    array = array.reshape(dims, order="F" if fortran else "C")
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def parse_shape(text: str | None) -> tuple[int, ...]:
    """``"1,3,224,224"`` (or ``1x3x224x224``) as a tuple, bounded before any int is built."""
    if not text:
        raise RequestError(
            "a raw float32 body needs its shape: send the header 'X-Shape: 1,3,224,224' "
            "or the query ?shape=1,3,224,224 (or send .npy as application/x-npy)"
        )
    parts = text.replace("x", ",").split(",")
    if len(parts) > MAX_DIMS or not all(p.strip().isdigit() and len(p.strip()) <= 9 for p in parts):
        raise RequestError(
            f"shape {text[:80]!r} is not 1 to {MAX_DIMS} comma-separated integers: send 1,3,224,224"
        )
    return tuple(int(p) for p in parts)


# --- JSON ---------------------------------------------------------------------------------------


def parse_json(body: bytes, limits: Limits) -> Any:
    """``json.loads(body)`` bounded: depth, number of values, integer length, no NaN/Infinity."""
    depth = json_depth(body)
    if depth > limits.max_json_depth:
        raise RequestError(
            f"the JSON body nests {depth} deep; this server takes at most "
            f'{limits.max_json_depth} (MAX_JSON_DEPTH): send {{"input": [[[[...]]]]}}',
            400,
        )
    values = body.count(b",") + body.count(b"[") + body.count(b"{") + 1
    if values > limits.max_json_values:
        raise RequestError(
            f"the JSON body holds about {values} values; this server parses at most "
            f"{limits.max_json_values} (MAX_JSON_VALUES): send a smaller batch, or the "
            "tensor as .npy (application/x-npy), 5x smaller and exact",
            413,
        )
    try:
        return json.loads(body, parse_int=_bounded_int, parse_constant=_no_constant)
    except RequestError:
        raise
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise RequestError(f"the body is not valid JSON: {error}") from None


def json_depth(body: bytes) -> int:
    """The deepest ``[``/``{`` nesting in ``body`` (brackets inside strings count too: an upper
    bound), computed in chunks so that a 32 MB body needs a few MB, not 256."""
    data = np.frombuffer(body, dtype=np.uint8)
    deepest, level = 0, 0
    for start in range(0, len(data), _JSON_CHUNK):
        chunk = data[start : start + _JSON_CHUNK]
        steps = (chunk == ord("[")).astype(np.int32) + (chunk == ord("{"))
        steps -= (chunk == ord("]")).astype(np.int32) + (chunk == ord("}"))
        if not steps.any():
            continue
        running = np.cumsum(steps, dtype=np.int64) + level
        deepest, level = max(deepest, int(running.max())), int(running[-1])
    return deepest


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise RequestError(
            f"a JSON integer has {len(text)} digits; pixel values are numbers like 0.5 or 255: "
            f"send integers of at most {MAX_INT_DIGITS} digits",
            422,
        )
    return int(text)


def _no_constant(text: str) -> Any:
    raise RequestError(f"the JSON body contains {text}; send finite numbers only", 422)


# --- images and multipart -----------------------------------------------------------------------


def check_image(data: bytes, limits: Limits) -> tuple[int, int]:
    """(width, height) from the image header, once both the decoded size and the resize target
    (shorter side to 256, aspect ratio kept) fit ``MAX_IMAGE_MP``; nothing is decoded here."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise RequestError(
            f"the body is not a readable JPEG or PNG image ({len(data)} bytes)", 400, str(error)
        ) from None
    except Image.DecompressionBombError as error:  # Pillow's own bound, far above ours
        raise RequestError(
            f"the image declares too many pixels ({error}); this server takes at most "
            f"{limits.max_image_mp:g} megapixels (MAX_IMAGE_MP): send a photo resized to about "
            f"{RESIZE}x{RESIZE}",
            413,
        ) from None
    short, long = sorted((max(width, 1), max(height, 1)))
    target = RESIZE * max(RESIZE, int(RESIZE * long / short))
    if width * height > limits.max_image_pixels or target > limits.max_image_pixels:
        raise RequestError(
            f"the image is {width}x{height} (resized: {target / 1e6:.3g} megapixels); this server "
            f"takes at most {limits.max_image_mp:g} megapixels (MAX_IMAGE_MP) and an aspect ratio "
            f"up to {limits.max_image_pixels // RESIZE**2}:1: send a photo resized to "
            f"about {RESIZE}x{RESIZE} (the model sees {CROP}x{CROP})",
            413,
            {"width": width, "height": height, "resize_target_pixels": target},
        )
    return width, height


def multipart_file(body: bytes, content_type: str, limits: Limits) -> bytes:
    """The bytes of the one file in a multipart form, parsed in memory (no temporary files:
    the container's root filesystem is read-only), at most ``MAX_PARTS`` parts."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise RequestError("the multipart Content-Type has no boundary: let the client set it")
    parts: list[dict[str, Any]] = []

    def on_part_begin() -> None:
        if len(parts) >= limits.max_parts:
            raise RequestError(
                f"the form has more than {limits.max_parts} parts (MAX_PARTS): send one file",
                413,
            )
        parts.append({"headers": b"", "data": []})

    def on_header_value(data: bytes, start: int, end: int) -> None:
        parts[-1]["headers"] += data[start:end] + b"\n"

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1]["data"].append(data[start:end])

    callbacks: MultipartCallbacks = {
        "on_part_begin": on_part_begin,
        "on_header_value": on_header_value,
        "on_part_data": on_part_data,
    }
    try:
        parser = MultipartParser(boundary, callbacks, max_size=len(body))
        parser.write(body)
        parser.finalize()
    except RequestError:
        raise
    except Exception as error:  # python-multipart's own parse errors
        raise RequestError(f"the multipart body cannot be parsed: {error}") from None
    files = [p for p in parts if b"filename=" in p["headers"]]
    if not files:
        raise RequestError("the multipart form has no file: send the image as the field 'file'")
    if len(files) > 1:
        raise RequestError(f"the form has {len(files)} files: send one image as the field 'file'")
    data = b"".join(files[0]["data"])
    if not data:
        raise RequestError("the uploaded file is empty")
    return data
