"""Which build answered: the ``X-Model-Version`` header on every response.

The image sets ``MODEL_VERSION`` from its build (``ENV MODEL_VERSION=${VERSION}`` in
``docker/Dockerfile``; lab 08's pipeline builds ``1.0.0-build.N``). Behind a load balancer,
during a rolling update, a client sees per request which version served it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from mllab.core.errors import MllabError

# the ASGI types (as starlette.types spells them), without importing starlette here
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HEADER = b"x-model-version"
UNVERSIONED = "unversioned"
# a Docker tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}), optionally with SemVer build metadata (+...)
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")


def parse_version(value: str | None) -> str:
    """``MODEL_VERSION`` checked (a tag-like string, at most 128 characters), or ``unversioned``."""
    if value is None or not value.strip():
        return UNVERSIONED
    value = value.strip()
    if not _VERSION.match(value):
        raise MllabError(
            f"MODEL_VERSION must look like a Docker tag (letters, digits, '_', '.', '-', '+'; "
            f"at most 128 characters), not {value[:40]!r}"
        )
    return value


class VersionHeader:
    """ASGI middleware: adds ``X-Model-Version: <version>`` to every HTTP response."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], version: str):
        self.app = app
        self.value = version.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, self.value)]}
            await send(message)

        await self.app(scope, receive, with_header)
