"""A package index for image builds: the wheelhouse served over HTTP on Docker's bridge.

The lecture's cache clean-up (``rm -rf /root/.cache/pip``) matters because ``pip install``
from an index keeps a copy of every wheel it downloads in its HTTP cache. A wheelhouse copied
into the image with ``COPY`` never reaches that cache (pip does not cache local files) and stays
in its own layer whatever a later ``RUN rm`` does. So the ablation's builds download the wheels
from this server, as they would from PyPI: the same bytes, with PyPI's caching headers
(``Cache-Control: max-age``, an ``ETag``), so pip caches them exactly as it would there.

The legacy builder runs each ``RUN`` on the default bridge network, which reaches the host at
the bridge's gateway address; the server listens there only, for as long as the ``with`` lasts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mllab.containers.engine import client
from mllab.core.errors import InputError, MllabError
from mllab.serve.process import free_port

#: what files.pythonhosted.org sends with a wheel (a year, immutable): pip's HTTP cache keeps it
CACHE_CONTROL = "max-age=365000000, immutable, public"
#: the port tried first: the URL is a build argument, part of the ``RUN`` layer's cache key, so
#: a port that stays the same lets a later run reuse the ``pip install`` layer (any free one else)
PORT = 38503


class _Handler(SimpleHTTPRequestHandler):
    """Files and folder listings (pip's ``--find-links`` reads the listing's links), each with
    PyPI's caching headers; no request log (a build makes dozens)."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", CACHE_CONTROL)
        tag = hashlib.sha256(self.path.encode()).hexdigest()[:32]
        self.send_header("ETag", f'"{tag}"')
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


def bridge_gateway() -> str:
    """The address of the host on Docker's default bridge, as a ``RUN`` step sees it: the
    network's gateway, or, where the engine recorded only the subnet (Debian's Docker 20.10
    started over an existing ``docker0`` does), the subnet's first address (Docker's default
    gateway) when this host holds it."""
    return gateway_of(client().networks.get("bridge").attrs.get("IPAM", {}).get("Config") or [])


def gateway_of(config: list[dict[str, str]]) -> str:
    """The host's address on a network of IPAM ``config``: :func:`bridge_gateway`'s rule."""
    gateways = [c["Gateway"] for c in config if c.get("Gateway")]
    gateways += [first_host(c["Subnet"]) for c in config if c.get("Subnet")]
    for address in gateways:
        if is_local(address):
            return str(address)
    raise MllabError(
        "Docker's bridge network has no gateway on this host (IPAM config: "
        f"{config or 'none'}): builds cannot reach the host"
    )


def first_host(subnet: str) -> str:
    """The first host address of ``subnet`` (``172.17.0.0/16`` → ``172.17.0.1``)."""
    return str(next(ipaddress.ip_network(subnet, strict=False).hosts()))


def is_local(address: str) -> bool:
    """Whether this host holds the IPv4 ``address`` (a socket can bind to it, as the wheel
    server's must)."""
    try:
        free_port(address)
    except OSError:
        return False
    return True


@contextmanager
def serve_wheels(folder: str | Path, host: str | None = None) -> Iterator[str]:
    """Serve ``folder`` (a wheelhouse) on ``host`` (the bridge gateway by default) at a free
    port (:data:`PORT` when it is free) while the ``with`` lasts; yields its URL for
    ``pip --find-links``."""
    folder = Path(folder)
    if not any(folder.glob("*.whl")):
        raise InputError(f"{folder} holds no wheels to serve")
    address = host or bridge_gateway()
    handler = partial(_Handler, directory=str(folder))
    try:
        server = ThreadingHTTPServer((address, PORT), handler)
    except OSError:  # taken: any free port (the pip layer is then rebuilt, not reused)
        server = ThreadingHTTPServer((address, 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="wheel-index", daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
