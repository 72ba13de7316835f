"""What a registry holds, read through its HTTP API v2: repositories (``/v2/_catalog``), their
tags (``tags/list``) and the manifest under a tag or digest, with the digest the registry
answers (``Docker-Content-Digest``: what ``repo@sha256:…`` pulls).

The registry is the kit's (:mod:`mllab.experiments.delivery.registry`) or the one ``REGISTRY``
names; it is read without credentials (one that asks for a login is refused with a clear
message), over http on the loopback and https elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from mllab.core.errors import MllabError
from mllab.experiments.delivery.registry import base_url, registry_address

#: the media types a manifest may have: docker v2 (docker push) and OCI (buildah push)
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)


@dataclass
class RepoTags:
    """One repository of a registry: its tags and the manifest digest under each tag."""

    repository: str
    tags: list[str] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)

    SCHEMA_VERSION: ClassVar[int] = 1


def _request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One call of the registry's HTTP API: a clear error when nothing answers or when it
    asks for a login; 404 and other answers are left to the caller."""
    try:
        response = httpx.request(method, url, timeout=10.0, **kwargs)
    except httpx.HTTPError as error:
        raise MllabError(
            f"no registry answers at {url} ({type(error).__name__}): start one with "
            "`mllab registry up`, or set REGISTRY=host:port"
        ) from None
    if response.status_code == 401:
        raise MllabError(f"{url} asks for a login: the kit reads registries without one")
    if response.status_code not in (200, 404):
        raise MllabError(f"{method} {url} answered {response.status_code}: {response.text[:300]}")
    return response


def _manifest_call(
    method: str, repository: str, reference: str, registry: str | None
) -> httpx.Response | None:
    url = f"{base_url(registry or registry_address())}/v2/{repository}/manifests/{reference}"
    response = _request(method, url, headers={"Accept": ", ".join(MANIFEST_TYPES)})
    return None if response.status_code == 404 else response


def manifest(
    repository: str, reference: str, registry: str | None = None
) -> tuple[str, dict[str, Any]] | None:
    """The manifest under a tag or digest: ``(digest, manifest)``, or None when there is none.
    The digest is the registry's ``Docker-Content-Digest``: what ``repo@sha256:...`` pulls."""
    response = _manifest_call("GET", repository, reference, registry)
    return (
        None if response is None else (response.headers["docker-content-digest"], response.json())
    )


def manifest_digest(repository: str, tag: str, registry: str | None = None) -> str | None:
    """The digest under ``repository:tag`` (HEAD with the manifest Accept types), or None."""
    response = _manifest_call("HEAD", repository, tag, registry)
    return None if response is None else response.headers["docker-content-digest"]


def _catalog(root: str) -> list[str]:
    """Every repository name, following the ``Link`` pages (the registry gives 1000 at most)."""
    names: list[str] = []
    url: str | None = f"{root}/v2/_catalog?n=1000"
    while url:
        page = _request("GET", url)
        names += page.json().get("repositories") or []
        following = page.links.get("next", {}).get("url")
        url = f"{root}{following}" if following and following.startswith("/") else following
    return names


def registry_ls(registry: str | None = None) -> list[RepoTags]:
    """Every repository of the registry (``/v2/_catalog``), its tags (``tags/list``) and the
    digest under each tag (HEAD of the manifest)."""
    registry = registry or registry_address()
    root = base_url(registry)
    found = []
    for repository in _catalog(root):
        listing = _request("GET", f"{root}/v2/{repository}/tags/list")
        # a repository whose tags were all deleted answers 404 or "tags": null
        tags = sorted((listing.json().get("tags") or []) if listing.status_code == 200 else [])
        digests = {tag: manifest_digest(repository, tag, registry) or "" for tag in tags}
        found.append(RepoTags(repository, tags, digests))
    return found
