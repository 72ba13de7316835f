"""The wheel index the ablation's builds download from: PyPI's caching headers, so that pip's
HTTP cache fills as it does from PyPI (what the lecture's cache clean-up removes)."""

from __future__ import annotations

import urllib.request

import pytest

from mllab.core.errors import InputError, MllabError
from mllab.experiments.images.wheel_index import (
    CACHE_CONTROL,
    bridge_gateway,
    gateway_of,
    is_local,
    serve_wheels,
)


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


def test_the_gateway_is_the_recorded_one_or_the_subnets_first_address_held_here():
    assert gateway_of([{"Subnet": "127.0.0.0/8", "Gateway": "127.0.0.1"}]) == "127.0.0.1"
    # Debian's Docker 20.10 restarted over an existing docker0 records the subnet alone
    assert gateway_of([{"Subnet": "127.0.0.0/8"}]) == "127.0.0.1"
    with pytest.raises(MllabError, match="no gateway on this host"):
        gateway_of([{"Subnet": "192.0.2.0/24"}])  # TEST-NET-1: no host here holds it
    with pytest.raises(MllabError, match="IPAM config: none"):
        gateway_of([])


@pytest.mark.docker
def test_the_engines_bridge_gateway_is_an_address_of_this_host():
    assert is_local(bridge_gateway())
