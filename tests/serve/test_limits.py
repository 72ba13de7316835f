"""The request limits: each declared size is refused from its header, before allocation, with a
status and a message that says what to send instead; good inputs pass unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sample_bodies import npy_header, png

from mllab.serve.bodies import npy_bytes
from mllab.serve.limits import (
    Limits,
    RequestError,
    check_image,
    check_shape,
    json_depth,
    multipart_file,
    parse_json,
    parse_shape,
    read_npy,
)

LIMITS = Limits()


def _refused(call, *args) -> RequestError:
    with pytest.raises(RequestError) as caught:
        call(*args)
    assert len(str(caught.value)) > 20  # a sentence, not a code
    return caught.value


def test_check_shape_passes_a_batch_and_refuses_from_the_shape_alone():
    assert check_shape((32, 3, 224, 224), np.float32, LIMITS) == (32, 3, 224, 224)
    big = _refused(check_shape, (10**6, 10**6), np.float32, LIMITS)
    assert big.status == 413 and "MAX_TENSOR_MB" in str(big)
    assert big.detail["bytes"] == 4 * 10**12
    assert _refused(check_shape, (1, 3), np.float64, LIMITS).status == 422
    assert "float32" in str(_refused(check_shape, (1, 3), "int8", LIMITS))
    assert _refused(check_shape, (1,) * 9, np.float32, LIMITS).status == 422
    assert _refused(check_shape, (1, -3), np.float32, LIMITS).status == 422


def test_read_npy_is_a_view_of_the_body_checked_from_its_header():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    body = npy_bytes(x)
    y = read_npy(body, LIMITS)
    np.testing.assert_array_equal(x, y)
    assert not y.flags.owndata  # no copy: the body's bytes
    big_endian = read_npy(npy_bytes(x.astype(">f4")), LIMITS)
    assert big_endian.dtype == np.float32 and np.array_equal(big_endian, x)


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        (npy_header((10**6, 10**6)), 413, "MAX_TENSOR_MB"),
        (npy_header((1, 3), "<f8"), 422, "float32"),
        (npy_header((10**9,), "|O"), 400, "pickle"),
        (npy_header((1, 3), data=b"\0" * 5), 400, "declares"),
        (b"\x93NUMPY garbage", 400, ".npy"),
    ],
)
def test_read_npy_refuses_before_reading_the_data(body, status, fragment):
    error = _refused(read_npy, body, LIMITS)
    assert error.status == status and fragment in str(error)


def test_parse_shape_is_bounded_before_int():
    assert parse_shape("1,3,224,224") == (1, 3, 224, 224) == parse_shape("1x3x224x224")
    for text in ("9" * 5000, "1,2,3,4,5,6,7,8,9", "1,-3", "a,b", ""):
        assert _refused(parse_shape, text).status == 400


def test_parse_json_parses_the_lecture_body():
    assert parse_json(b'{"input": [[1, 2.5, -3e-2]]}', LIMITS) == {"input": [[1, 2.5, -0.03]]}


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        (b'{"input": ' + b"9" * 100_000 + b"}", 422, "digits"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "MAX_JSON_DEPTH"),
        (b'{"input": [' + b"0," * 2_000_000 + b"0]}", 413, "MAX_JSON_VALUES"),
        (b'{"input": [NaN, Infinity]}', 422, "finite"),
        (b'{"input": [1, 2', 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
    ],
)
def test_parse_json_refuses_what_would_allocate_without_bound(body, status, fragment):
    error = _refused(parse_json, body, LIMITS)
    assert error.status == status and fragment in str(error)


def test_json_depth_counts_across_chunks():
    assert json_depth(b'{"a": [[1], [2]]}') == 3
    deep = b"[" * 3_000_000 + b"]" * 3_000_000  # spans several 1 MB chunks
    assert json_depth(deep) == 3_000_000
    assert json_depth(b"") == 0


def test_check_image_reads_the_header_only_and_bounds_the_resize_target():
    assert check_image(png(640, 480), LIMITS) == (640, 480)
    tall = png(1, 2_000_000)  # 2 MP: under the pixel limit, but the resize is 256 x 512 M
    error = _refused(check_image, tall, LIMITS)
    assert error.status == 413 and error.detail["resize_target_pixels"] > 10**11
    assert "aspect ratio" in str(error)
    small = Limits(max_image_mp=0.3)
    assert _refused(check_image, png(640, 480), small).status == 413
    assert _refused(check_image, b"not an image", LIMITS).status == 400


def test_preprocess_refuses_an_extreme_aspect_ratio_before_resizing():
    from mllab.core.errors import InputError
    from mllab.model.preprocess import preprocess

    with pytest.raises(InputError, match="aspect ratio"):
        preprocess(png(1, 2_000_000))


def _form(parts: list[tuple[str, str | None, bytes]]) -> tuple[str, bytes]:
    boundary = "b0undary"
    chunks = []
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        chunks.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
        )
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def test_multipart_file_is_parsed_in_memory():
    kind, body = _form([("note", None, b"hi"), ("file", "cat.png", b"\x89PNG data")])
    assert multipart_file(body, kind, LIMITS) == b"\x89PNG data"


@pytest.mark.parametrize(
    "parts, status, fragment",
    [
        ([("f", None, b"x")] * 20, 413, "MAX_PARTS"),
        ([("note", None, b"x")], 400, "no file"),
        ([("file", "a.png", b"1"), ("file", "b.png", b"2")], 400, "2 files"),
        ([("file", "a.png", b"")], 400, "empty"),
    ],
)
def test_multipart_file_refuses_with_a_reason(parts, status, fragment):
    kind, body = _form(parts)
    error = _refused(multipart_file, body, kind, LIMITS)
    assert error.status == status and fragment in str(error)


def test_multipart_without_boundary_is_400():
    assert _refused(multipart_file, b"x", "multipart/form-data", LIMITS).status == 400


def test_limits_as_dict_is_json():
    assert json.loads(json.dumps(LIMITS.as_dict()))["max_json_depth"] == LIMITS.max_json_depth
