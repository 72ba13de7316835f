"""One preprocessing function for every runtime: PyTorch, ONNX Runtime and the server.

The model artefact A = (f, θ, R, E) is only reproducible if the input x is built the same way
everywhere, so there is exactly one implementation, in numpy + Pillow (the slim serving image
has no torch). It follows torchvision's ImageNet recipe: resize the shorter side to 256
(bilinear), centre-crop 224, scale to [0, 1], normalise with the ImageNet mean and std.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mllab.core.errors import InputError
from mllab.core.paths import DATA

RESIZE = 256
CROP = 224
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
#: photo suffixes that ``sample_images`` lists
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

ImageSource = str | Path | bytes | Image.Image


def load_image(src: ImageSource) -> Image.Image:
    """An RGB ``PIL.Image`` from a path, raw bytes or an image; :class:`InputError` if unusable.

    The pixels are decoded here (not lazily) so that a truncated or corrupt file fails now, with
    a message naming the source, rather than deep inside a runtime. EXIF orientation is applied
    and grey-level or RGBA images become RGB, as a phone photo or a PNG would need.
    """
    if isinstance(src, Image.Image):
        image, name = src, "image"
    else:
        name = f"{len(src)} bytes" if isinstance(src, bytes) else str(src)
        try:
            image = Image.open(io.BytesIO(src) if isinstance(src, bytes) else Path(src))
            _check_pixels(image, name)
            image.load()
        except FileNotFoundError as error:
            raise InputError(f"no such image file: {name}") from error
        except (UnidentifiedImageError, Image.DecompressionBombError) as error:
            raise InputError(f"not a supported image ({name}): {error}") from error
        except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt data
            raise InputError(f"corrupt image data ({name}): {error}") from error
    image = ImageOps.exif_transpose(image)
    return image if image.mode == "RGB" else image.convert("RGB")


#: A small file can decode to a huge bitmap (a "decompression bomb"): 40 MP is ~120 MB of RGB,
#: far above any photo the model needs (it sees 224 x 224) and safe under a --memory limit.
MAX_PIXELS = 40_000_000


def _check_pixels(image: Image.Image, name: str) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InputError(
            f"image too large ({name}): {width}x{height} = {width * height / 1e6:.0f} megapixels, "
            f"the limit is {MAX_PIXELS / 1e6:.0f}"
        )


def preprocess(image: ImageSource) -> np.ndarray:
    """A ``(3, 224, 224)`` float32 array (CHW, normalised) from an image, path or bytes."""
    image = load_image(image)
    width, height = image.size
    # torchvision's Resize(256): the shorter side becomes 256, the longer keeps the aspect ratio
    # (truncated, as torchvision does), so the results match torchvision's transform.
    if width <= height:
        size = (RESIZE, int(RESIZE * height / width))
    else:
        size = (int(RESIZE * width / height), RESIZE)
    if size[0] * size[1] > MAX_PIXELS:  # an extreme aspect ratio: a tiny file, a huge resize
        raise InputError(f"image aspect ratio too extreme: {width}x{height} would resize to {size}")
    image = image.resize(size, Image.Resampling.BILINEAR)
    left = int(round((size[0] - CROP) / 2.0))
    top = int(round((size[1] - CROP) / 2.0))
    image = image.crop((left, top, left + CROP, top + CROP))
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = (array - MEAN) / STD
    return np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)


def preprocess_batch(images: Iterable[ImageSource]) -> np.ndarray:
    """An ``(N, 3, 224, 224)`` float32 batch; :class:`InputError` when ``images`` is empty."""
    arrays = [preprocess(image) for image in images]
    if not arrays:
        raise InputError("no images to preprocess (the batch is empty)")
    return np.stack(arrays)


@lru_cache(maxsize=1)
def _class_names(path: Path) -> tuple[str, ...]:
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if len(names) != 1000:
        raise InputError(f"{path} has {len(names)} class names, expected the 1000 of ImageNet")
    return names


def class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in index order (``data/imagenet_classes.txt``)."""
    path = DATA / "imagenet_classes.txt"
    if not path.exists():
        raise InputError(f"{path} is missing: the ImageNet class names ship with the repository")
    return list(_class_names(path))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis, stable for large logits (random weights give ~1e2)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def top_k(logits: np.ndarray, k: int = 5) -> list[list[tuple[str, float]]]:
    """For each row of ``logits`` (``(N, 1000)`` or ``(1000,)``): the k best (name, probability)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 1:
        logits = logits[None, :]
    names = class_names()
    if logits.ndim != 2 or logits.shape[1] != len(names):
        raise InputError(f"logits must have shape (N, {len(names)}), not {logits.shape}")
    if not np.isfinite(logits).all():
        raise InputError("logits contain NaN or infinity")
    probabilities = softmax(logits)
    best = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [
        [(names[i], float(row[i])) for i in idx]
        for row, idx in zip(probabilities, best, strict=True)
    ]


def sample_images() -> list[Path]:
    """The embedded photos in ``data/`` (sorted by name), used by every lab and calibration."""
    paths = sorted(p for p in DATA.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise InputError(f"no sample images in {DATA}")
    return paths
