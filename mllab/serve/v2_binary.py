"""The bodies of the Open Inference Protocol (v2) ``infer`` route: JSON tensors and the binary
tensor data extension, read and written without FastAPI (pure functions, tested alone).

A request is a JSON object ``{"id"?, "parameters"?, "inputs": [...], "outputs"?: [...]}``. With
the binary extension the HTTP body is that JSON header followed by the raw tensors: the header
``Inference-Header-Content-Length`` gives the JSON's length, and each binary input says its size
in ``parameters.binary_data_size`` (little-endian, row major, in the order of ``inputs``). The
answer is written the same way when an output asks for ``parameters.binary_data`` (or the
request for ``parameters.binary_data_output``).

Every size is checked before anything is allocated: the shape against the model's per-sample
shape and ``MAX_BATCH`` (so at most ``MAX_BATCH`` samples of the model's size are ever made),
the binary sizes against the shape and against the bytes really received.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mllab.serve.bodies import RequestError

#: the model's name in ``/v2/models/{name}`` unless ``MODEL_NAME`` says another (here, not in
#: :mod:`mllab.serve.v2`: clients build requests without importing FastAPI)
DEFAULT_MODEL_NAME = "resnet50"

#: the header of the binary tensor data extension, in the request and in the answer
HEADER_LENGTH = "Inference-Header-Content-Length"
#: the protocol's name for float32 (the only type the served model takes and gives)
FP32 = "FP32"
#: ONNX Runtime's type names -> the protocol's datatypes (for the metadata route)
DATATYPES = {
    "tensor(float)": "FP32",
    "tensor(float16)": "FP16",
    "tensor(double)": "FP64",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(int8)": "INT8",
    "tensor(uint8)": "UINT8",
    "tensor(bool)": "BOOL",
}


@dataclass
class InferInput:
    """One entry of ``inputs``: its JSON ``data`` or its binary bytes (one of the two)."""

    name: str
    shape: list[int]
    datatype: str
    data: Any = None
    binary: bytes | memoryview | None = None


@dataclass
class InferRequest:
    """A parsed ``infer`` request: the inputs, which outputs are wanted and in which form."""

    id: str | None
    inputs: list[InferInput]
    #: requested output names -> binary or not; None: every output, binary if ``binary_default``
    outputs: dict[str, bool] | None = None
    binary_default: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)

    def wants_binary(self, name: str) -> bool:
        """Whether output ``name`` goes back as binary data."""
        if self.outputs is None:
            return self.binary_default
        return self.outputs.get(name, self.binary_default)


def parse_request(
    body: bytes, header_length: str | None, load_json: Callable[[bytes], Any] | None = None
) -> InferRequest:
    """The request in ``body``; ``header_length`` is the ``Inference-Header-Content-Length``
    header (None: the whole body is JSON). ``load_json`` parses the JSON bytes (the server's
    bounded parser); :class:`RequestError` 400 for anything malformed."""
    load_json = load_json or _load_json
    size = _header_size(header_length, len(body))
    payload = load_json(bytes(body[:size]))
    if not isinstance(payload, dict):
        raise RequestError('the request must be a JSON object {"inputs": [...]}')
    parameters = _object(payload.get("parameters"), "parameters")
    raw_inputs = payload.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise RequestError('"inputs" must be a non-empty list of {name, shape, datatype, data}')
    rest = memoryview(body)[size:]
    inputs, offset = [], 0
    for index, entry in enumerate(raw_inputs):
        tensor, used = _input(entry, index, rest[offset:])
        inputs.append(tensor)
        offset += used
    if offset != len(rest):
        raise RequestError(
            f"the body carries {len(rest)} bytes after the JSON header but the inputs' "
            f"binary_data_size add up to {offset}"
        )
    request_id = payload.get("id")
    return InferRequest(
        id=str(request_id) if request_id is not None else None,
        inputs=inputs,
        outputs=_outputs(payload.get("outputs")),
        binary_default=parameters.get("binary_data_output") is True,
        parameters=parameters,
    )


def to_batch(tensor: InferInput, sample_shape: tuple[int, ...], max_batch: int) -> np.ndarray:
    """The float32 ``(N, *sample_shape)`` array of ``tensor``, every size checked first."""
    if tensor.datatype != FP32:
        raise RequestError(f"input {tensor.name!r} has datatype {tensor.datatype}; send {FP32}")
    want = [-1, *sample_shape]
    if len(tensor.shape) != len(want) or list(tensor.shape[1:]) != list(sample_shape):
        raise RequestError(
            f"input {tensor.name!r} has shape {tensor.shape}; the model takes {want}"
        )
    if not 1 <= tensor.shape[0] <= max_batch:
        raise RequestError(
            f"input {tensor.name!r} has a batch of {tensor.shape[0]}; this server takes "
            f"1 to {max_batch} (MAX_BATCH)"
        )
    count = math.prod(tensor.shape)
    if tensor.binary is not None:
        if len(tensor.binary) != count * 4:
            raise RequestError(
                f"input {tensor.name!r}: binary_data_size is {len(tensor.binary)} bytes but "
                f"{FP32} of shape {tensor.shape} takes {count * 4}"
            )
        return np.frombuffer(tensor.binary, dtype="<f4").reshape(tensor.shape)
    return _json_array(tensor, count)


def encode_response(
    model_name: str, request: InferRequest, outputs: dict[str, np.ndarray], version: str = "1"
) -> tuple[bytes, int | None]:
    """The answer's body and, when an output is binary, the JSON header's length (for the
    ``Inference-Header-Content-Length`` header; None when the body is JSON alone)."""
    entries, blobs = [], []
    for name, array in outputs.items():
        array = np.ascontiguousarray(array, dtype="<f4")
        entry: dict[str, Any] = {"name": name, "datatype": FP32, "shape": list(array.shape)}
        if request.wants_binary(name):
            blob = array.tobytes()
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = array.ravel().tolist()
        entries.append(entry)
    answer: dict[str, Any] = {"model_name": model_name, "model_version": version}
    if request.id is not None:
        answer["id"] = request.id
    answer["outputs"] = entries
    header = json.dumps(answer, separators=(",", ":")).encode()
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), len(header)


def datatype_of(onnx_type: str) -> str:
    """The protocol's datatype for an ONNX Runtime type name (``tensor(float)`` -> ``FP32``)."""
    return DATATYPES.get(onnx_type, onnx_type)


def dims(shape: list[Any]) -> list[int]:
    """An ONNX Runtime shape in the protocol's form: a symbolic dimension is ``-1``."""
    return [d if isinstance(d, int) and d >= 0 else -1 for d in shape]


def _load_json(data: bytes) -> Any:
    """``json.loads`` with its errors as a 400 (used when the server passes no parser)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise RequestError(f"the JSON header is not valid JSON: {error}") from None


def _header_size(header_length: str | None, body_size: int) -> int:
    """The JSON header's length from ``Inference-Header-Content-Length``, checked."""
    if header_length is None:
        return body_size
    text = header_length.strip()
    if not text.isdigit() or int(text) > body_size:
        raise RequestError(
            f"{HEADER_LENGTH} must be the length of the JSON header, at most the body's "
            f"{body_size} bytes, not {header_length!r}"
        )
    return int(text)


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestError(f'"{what}" must be a JSON object')
    return value


def _input(entry: Any, index: int, rest: memoryview) -> tuple[InferInput, int]:
    """One ``inputs`` entry, and how many binary bytes after the header it took."""
    if not isinstance(entry, dict):
        raise RequestError(f"inputs[{index}] must be an object {{name, shape, datatype, data}}")
    name, shape, datatype = entry.get("name"), entry.get("shape"), entry.get("datatype")
    if not isinstance(name, str) or not isinstance(datatype, str):
        raise RequestError(f"inputs[{index}] needs a string name and datatype")
    if not isinstance(shape, list) or not all(_is_dim(d) for d in shape):
        raise RequestError(f"inputs[{index}].shape must be a list of non-negative integers")
    size = _object(entry.get("parameters"), f"inputs[{index}].parameters").get("binary_data_size")
    if size is None:
        if "data" not in entry:
            raise RequestError(f"input {name!r} has neither data nor parameters.binary_data_size")
        return InferInput(name, shape, datatype, data=entry["data"]), 0
    if not _is_dim(size) or size > len(rest):
        raise RequestError(
            f"input {name!r}: binary_data_size {size!r} is not a size within the "
            f"{len(rest)} bytes left after the JSON header"
        )
    return InferInput(name, shape, datatype, binary=rest[:size]), size


def _outputs(value: Any) -> dict[str, bool] | None:
    """Requested outputs -> binary or not (``parameters.binary_data``)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise RequestError('"outputs" must be a list of {name, parameters}')
    wanted = {}
    for index, entry in enumerate(value):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise RequestError(f"outputs[{index}] must be an object with a string name")
        parameters = _object(entry.get("parameters"), f"outputs[{index}].parameters")
        if parameters.get("classification"):
            raise RequestError("the classification extension is not supported: ask for logits")
        wanted[entry["name"]] = parameters.get("binary_data") is True
    return wanted


def _is_dim(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _json_array(tensor: InferInput, count: int) -> np.ndarray:
    """``data`` (flat or nested, row major) as float32 of ``tensor.shape``.

    The list is already in memory (its size bounded by the body limit); its length is checked
    against the shape before numpy copies it.
    """
    data = tensor.data
    if not isinstance(data, list):
        raise RequestError(f"input {tensor.name!r}: data must be a list of numbers")
    flat = data if not data or not isinstance(data[0], list) else _flatten(data, count)
    if len(flat) != count:
        raise RequestError(
            f"input {tensor.name!r} carries {len(flat)} values but shape {tensor.shape} "
            f"takes {count}"
        )
    if not all(type(v) in (int, float) for v in flat):
        raise RequestError(f"input {tensor.name!r}: data must hold numbers only")
    try:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused later
            return np.asarray(flat, dtype=np.float32).reshape(tensor.shape)
    except (OverflowError, ValueError) as error:  # an integer with hundreds of digits
        raise RequestError(f"input {tensor.name!r}: a value is out of range: {error}") from None


def _flatten(data: list[Any], limit: int) -> list[Any]:
    """A nested list's leaves in row-major order; stops past ``limit`` values."""
    flat: list[Any] = []
    stack = [iter(data)]
    while stack and len(flat) <= limit:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        else:
            flat.append(item)
    return flat


_END = object()


def binary_request(
    x: np.ndarray, input_name: str, output_name: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """A client's side: ``x`` as a binary-extension request body, and its headers. With
    ``output_name`` that output is asked for as binary data; without, every output is."""
    blob = np.ascontiguousarray(x, dtype="<f4").tobytes()
    tensor = {"name": input_name, "shape": list(x.shape), "datatype": FP32}
    payload: dict[str, Any] = {"inputs": [tensor | {"parameters": {"binary_data_size": len(blob)}}]}
    if output_name is None:
        payload["parameters"] = {"binary_data_output": True}
    else:
        payload["outputs"] = [{"name": output_name, "parameters": {"binary_data": True}}]
    header = json.dumps(payload, separators=(",", ":")).encode()
    headers = {HEADER_LENGTH: str(len(header)), "Content-Type": "application/octet-stream"}
    return header + blob, headers


def read_response(content: bytes, header_length: str | None) -> dict[str, np.ndarray]:
    """A client's side: the outputs of an ``infer`` answer (JSON or binary), by name."""
    size = len(content) if header_length is None else int(header_length)
    answer, offset, outputs = json.loads(content[:size]), size, {}
    for entry in answer["outputs"]:
        nbytes = (entry.get("parameters") or {}).get("binary_data_size")
        if nbytes is None:
            array = np.asarray(entry["data"], dtype=np.float32)
        else:
            array = np.frombuffer(content[offset : offset + nbytes], dtype="<f4")
            offset += nbytes
        outputs[entry["name"]] = array.reshape(entry["shape"])
    return outputs
