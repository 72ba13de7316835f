"""A small client of the inference server: the three body kinds of ``POST /predict``.

:func:`predict_image` uploads an image file (multipart); :func:`predict_tensor` sends a float32
tensor as ``.npy`` or raw bytes with ``X-Shape``; :func:`predict_json` sends the lecture's
``{"input": nested list}``. Each takes an optional ``httpx.Client`` kept alive by the caller;
an error answer raises :class:`ServerError` with the server's message. :func:`served_model`
asks a server what it serves (:class:`ServedModel`, a lab record).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np

from mllab.core.errors import MllabError
from mllab.serve.bodies import NPY, json_body, npy_bytes

#: the kinds of ``POST /predict`` body, in the order tables show them
BODY_KINDS = ("image", "npy", "raw", "json")
#: seconds a one-off request may take (a JSON batch is megabytes of text)
TIMEOUT = 120.0


class ServerError(MllabError):
    """The server answered an error (4xx/5xx); ``status`` and ``payload`` say which."""

    def __init__(self, status: int, payload: Any):
        message = payload.get("error") if isinstance(payload, dict) else str(payload)
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.payload = payload


@dataclass
class ServedModel:
    """What a running server says it serves (``GET /metadata``): the model, where it runs, E."""

    path: str
    sha256: str
    opsets: dict[str, int]
    input: dict[str, Any]
    output: dict[str, Any]
    provider: str
    threads: int
    limits: dict[str, float]
    versions: dict[str, str]

    SCHEMA_VERSION: ClassVar[int] = 1


def served_model(url: str, client: httpx.Client | None = None) -> ServedModel:
    """Ask the server at ``url`` what it serves (``GET /metadata``)."""
    response = (client or httpx).get(f"{url}/metadata", timeout=TIMEOUT)
    meta = _answer(response)
    model = meta["model"]
    return ServedModel(
        path=model["path"],
        sha256=model["sha256"],
        opsets=model["opsets"],
        input=model["input"],
        output=model["output"],
        provider=meta["provider"],
        threads=meta["threads"],
        limits=meta["limits"],
        versions=meta["versions"],
    )


def _post(client: httpx.Client | None, url: str, **kwargs: Any) -> httpx.Response:
    """POST with ``client`` (kept alive by the caller) or a one-off connection."""
    if client is not None:
        return client.post(url, **kwargs)
    with httpx.Client(timeout=TIMEOUT) as one_off:
        return one_off.post(url, **kwargs)


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON answer, or :class:`ServerError` with the server's message."""
    try:
        payload = response.json()
    except ValueError:
        payload = response.text
    if response.status_code >= 400:
        raise ServerError(response.status_code, payload)
    answer: dict[str, Any] = payload  # the server answers a JSON object
    return answer


def image_bytes(image: str | Path | bytes) -> bytes:
    """The bytes of an image given as bytes or as a file path."""
    return image if isinstance(image, bytes) else Path(image).read_bytes()


def predict_image(
    url: str, image: str | Path | bytes, k: int = 5, client: httpx.Client | None = None
) -> dict[str, Any]:
    """POST an image file (multipart, field ``file``); the answer has ``top_k``."""
    data = image_bytes(image)
    kind = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
    files = {"file": ("image", data, kind)}
    response = _post(client, f"{url}/predict", params={"k": k}, files=files)
    return _answer(response)


def predict_tensor(
    url: str,
    array: np.ndarray,
    fmt: str = "npy",
    accept_npy: bool = True,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """POST a float32 tensor as ``.npy`` (``fmt="npy"``) or raw bytes with ``X-Shape``.

    With ``accept_npy`` the logits come back as ``.npy`` too (no float-to-text conversion on
    either side). The answer's ``output`` is a numpy array in both cases.
    """
    array = np.ascontiguousarray(array, dtype=np.float32)
    if fmt == "npy":
        headers, body = {"Content-Type": NPY}, npy_bytes(array)
    elif fmt == "raw":
        shape = ",".join(map(str, array.shape))
        headers = {"Content-Type": "application/octet-stream", "X-Shape": shape}
        body = array.tobytes()
    else:
        raise ValueError(f"fmt must be 'npy' or 'raw', not {fmt!r}")
    if accept_npy:
        headers["Accept"] = NPY
    response = _post(client, f"{url}/predict", content=body, headers=headers)
    if response.status_code < 400 and response.headers.get("content-type", "").startswith(NPY):
        return {
            "output": np.load(io.BytesIO(response.content), allow_pickle=False),
            "latency_ms": float(response.headers["x-latency-ms"]),
            "sha256": response.headers["x-model-sha256"],
            "provider": response.headers["x-provider"],
        }
    answer = _answer(response)
    answer["output"] = np.asarray(answer["output"], dtype=np.float32)
    return answer


def predict_json(url: str, array: np.ndarray, client: httpx.Client | None = None) -> dict[str, Any]:
    """POST the lecture's ``{"input": nested list}``; the answer's ``output`` as a numpy array."""
    headers = {"Content-Type": "application/json"}
    response = _post(client, f"{url}/predict", content=json_body(array), headers=headers)
    answer = _answer(response)
    answer["output"] = np.asarray(answer["output"], dtype=np.float32)
    return answer
