"""The wheel index the ablation's builds download from: PyPI's caching headers, so that pip's
HTTP cache fills as it does from PyPI (what the lecture's cache clean-up removes)."""

from __future__ import annotations

import urllib.request

import pytest

from mllab.core.errors import InputError
from mllab.experiments.images.wheel_index import CACHE_CONTROL, serve_wheels


def test_serves_the_wheels_with_caching_headers_and_a_listing(tmp_path):
    (tmp_path / "demo-1.0-py3-none-any.whl").write_bytes(b"wheel bytes")
    with serve_wheels(tmp_path, host="127.0.0.1") as url:
        listing = urllib.request.urlopen(url, timeout=10).read().decode()
        with urllib.request.urlopen(url + "demo-1.0-py3-none-any.whl", timeout=10) as answer:
            body, headers = answer.read(), answer.headers
    assert 'href="demo-1.0-py3-none-any.whl"' in listing  # what pip --find-links follows
    assert body == b"wheel bytes"
    assert headers["Cache-Control"] == CACHE_CONTROL and headers["ETag"]


def test_a_folder_without_wheels_is_refused(tmp_path):
    with pytest.raises(InputError, match="no wheels"), serve_wheels(tmp_path, host="127.0.0.1"):
        pass
