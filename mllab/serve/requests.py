"""The requests a load test sends to the server, by kind: what each locust user repeats.

:func:`load_request` builds a :class:`mllab.measure.load.LoadRequest` (the load generator in
``measure`` knows no server; this is where the server's request kinds are named): a
1×3×224×224 float32 tensor as ``.npy`` to ``POST /predict`` (logits back as ``.npy``), the same
tensor through the Open Inference Protocol v2 with binary tensors
(``/v2/models/resnet50/infer``), a JPEG upload, or ``GET /health``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mllab.core.errors import InputError
from mllab.measure.load import LoadRequest
from mllab.model.preprocess import sample_images
from mllab.serve.bodies import NPY, npy_bytes
from mllab.serve.v2_binary import DEFAULT_MODEL_NAME, binary_request

#: the kinds of request a load test can repeat
PAYLOADS = ("npy", "v2", "image", "health")
BOUNDARY = "mllab-load-boundary"


def load_request(kind: str = "npy", x: npt.NDArray[np.float32] | None = None) -> LoadRequest:
    """The request of ``kind`` (one of :data:`PAYLOADS`); ``x`` is the tensor the ``npy`` and
    ``v2`` kinds send (default: a fixed random 1×3×224×224 batch)."""
    if kind not in PAYLOADS:
        raise InputError(f"payload must be one of {', '.join(PAYLOADS)}, not {kind!r}")
    if kind == "health":
        return LoadRequest("GET", "/health", label=kind)
    if kind == "image":
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        )
        body = head.encode() + sample_images()[0].read_bytes() + f"\r\n--{BOUNDARY}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        return LoadRequest("POST", "/predict", body, headers, kind)
    if x is None:
        x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    if kind == "v2":
        body, headers = binary_request(x, "input")
        return LoadRequest("POST", f"/v2/models/{DEFAULT_MODEL_NAME}/infer", body, headers, kind)
    headers = {"Content-Type": NPY, "Accept": NPY}
    return LoadRequest("POST", "/predict", npy_bytes(x), headers, kind)
