"""What an environment holds and what an image is: package manifests, tags/IDs/digests, gates.

* A package manifest M(E) in ``pip freeze`` form (``name==version``, names normalised as
  PEP 503 does), read with ``importlib.metadata``: the slim image's venv has no pip.
  :func:`manifest_diff` splits two manifests into the packages both have (same version or
  not) and those only one has: M(E1) = M(E2) on the shared ones is what the lecture's
  equivalence needs from the packages.
* :func:`image_identity`: a tag is a movable name, the ID is the sha256 of the image's config
  (recomputed here from ``docker save``), and a digest (``RepoDigests``) exists only after a
  push to a registry: it is the sha256 of the manifest the registry stored.
* :func:`server_refuses` and :func:`container_refuses` show the model integrity gate stopping
  a server start (``mllab.experiments.rebuilds.build_with_gate`` stops a build).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from mllab.core.errors import InputError, MllabError

#: lists the current interpreter's distributions as JSON (run on the host and in containers)
_LIST_SCRIPT = (
    "import json, importlib.metadata as m; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)


def canonical(name: str) -> str:
    """PEP 503 normalised name: ``Typing_Extensions`` -> ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _normalise(raw: dict[str, str]) -> dict[str, str]:
    return {canonical(name): version for name, version in sorted(raw.items()) if name}


def host_manifest(python: str | None = None) -> dict[str, str]:
    """``{package: version}`` of an interpreter (default: this one, the host's venv)."""
    done = subprocess.run(
        [python or sys.executable, "-c", _LIST_SCRIPT], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise MllabError(f"listing the packages of {python or sys.executable} failed: "
                         f"{done.stderr.strip()[-500:]}")  # fmt: skip
    return _normalise(json.loads(done.stdout))


def container_manifest(image: str, python: str = "python") -> dict[str, str]:
    """``{package: version}`` inside ``image`` (``docker run --rm``, no network)."""
    command = ["docker", "run", "--rm", "--network", "none", "--entrypoint", python, image]
    done = subprocess.run([*command, "-c", _LIST_SCRIPT], capture_output=True, text=True)
    if done.returncode != 0:
        raise MllabError(f"listing the packages in {image} failed: {done.stderr.strip()[-500:]}")
    return _normalise(json.loads(done.stdout.strip().splitlines()[-1]))


def freeze_lines(manifest: dict[str, str]) -> list[str]:
    """The manifest as ``pip freeze`` prints it: ``name==version``, sorted."""
    return [f"{name}=={version}" for name, version in sorted(manifest.items())]


def manifest_diff(a: dict[str, str], b: dict[str, str]) -> dict[str, Any]:
    """Compare two manifests: shared packages with the same or another version, and the
    packages only one side has. ``equal_on_shared`` is M(E1) = M(E2) on what both hold."""
    shared = sorted(set(a) & set(b))
    different = {name: (a[name], b[name]) for name in shared if a[name] != b[name]}
    return {
        "shared": len(shared),
        "same": [name for name in shared if name not in different],
        "different": different,
        "only_a": freeze_lines({n: a[n] for n in set(a) - set(b)}),
        "only_b": freeze_lines({n: b[n] for n in set(b) - set(a)}),
        "equal_on_shared": not different,
    }


def diff_rows(diff: dict[str, Any], names: tuple[str, str] = ("host", "container")) -> list[dict]:
    """Table rows: every package that differs or that one side lacks."""
    rows = [{"package": n, names[0]: va, names[1]: vb} for n, (va, vb) in diff["different"].items()]
    rows += [{"package": line.split("==")[0], names[0]: line.split("==")[1], names[1]: "-"}
             for line in diff["only_a"]]  # fmt: skip
    rows += [{"package": line.split("==")[0], names[0]: "-", names[1]: line.split("==")[1]}
             for line in diff["only_b"]]  # fmt: skip
    return sorted(rows, key=lambda r: r["package"])


def manifest_digest(manifest: dict[str, str]) -> str:
    """sha256 of the freeze lines: one number that is equal exactly when M(E) is equal."""
    return hashlib.sha256("\n".join(freeze_lines(manifest)).encode()).hexdigest()


# --- tags, IDs and digests ------------------------------------------------------------------------


def config_sha256(tag: str) -> str:
    """sha256 of the image's config file (``<64 hex>.json`` at the top of a ``docker save``
    stream); the stream is read only up to it."""
    process = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)  # fmt: skip
    try:
        with tarfile.open(fileobj=process.stdout, mode="r|") as stream:
            for member in stream:
                if member.isfile() and re.fullmatch(r"[0-9a-f]{64}\.json", member.name):
                    return hashlib.sha256(stream.extractfile(member).read()).hexdigest()
    finally:
        process.kill()
        process.wait()
    raise InputError(f"no config found in `docker save {tag}` (is there an image {tag!r}?)")


def image_identity(tag: str) -> dict[str, Any]:
    """Tag, ID and digests of an image, with the ID recomputed from its config's bytes."""
    from mllab.containers.engine import client

    image = client().images.get(tag)
    recomputed = "sha256:" + config_sha256(tag)
    digests = image.attrs.get("RepoDigests") or []
    return {
        "tag": tag,
        "RepoTags": image.attrs.get("RepoTags") or [],
        "Id": image.id,
        "config_sha256": recomputed,
        "id_is_config_sha256": recomputed == image.id,
        "RepoDigests": digests,
        "digest_note": (
            "pushed: the digest is the sha256 of the manifest the registry stored"
            if digests
            else "empty: this image was never pushed to (or pulled from) a registry; a digest "
            "is the sha256 of the registry manifest, which lists the compressed layers"
        ),
        "diff_ids": image.attrs["RootFS"]["Layers"],
    }


def identity_rows(identities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per image: tags, short ID, ID = sha256(config)?, digests."""
    return [
        {
            "tag": i["tag"],
            "all tags (RepoTags)": ", ".join(i["RepoTags"]),
            "Id": i["Id"][:19],
            "Id == sha256(config)": i["id_is_config_sha256"],
            "RepoDigests": ", ".join(i["RepoDigests"]) or "(none: never pushed)",
        }
        for i in identities
    ]


# --- the integrity gate at server start ----------------------------------------------------------


def server_refuses(model: str | Path, timeout: float = 60.0) -> dict[str, Any]:
    """Start the server (``python -m mllab.serve.app``) on ``model``: ``refused`` is True when it
    exits before serving, with the reason it gave; a server that starts is stopped."""
    from mllab.serve.client import start_server

    try:
        server = start_server(model, timeout=timeout)
    except MllabError as error:
        return {"refused": True, "message": _last_error_line(str(error))}
    server.stop()
    return {"refused": False, "message": "the server started and answered /ready"}


def container_refuses(image: str, model: str | Path, timeout: float = 60.0) -> dict[str, Any]:
    """Run ``image`` with ``model`` mounted over its ``/app/model.onnx`` (the image's digest
    file stays): ``refused`` is True when the container exits before it is ready."""
    from mllab.containers.images import ContainerFailed, run

    volumes = {str(Path(model).resolve()): {"bind": "/app/model.onnx", "mode": "ro"}}
    try:
        container = run(image, volumes=volumes, timeout=timeout)
    except ContainerFailed as error:
        return {"refused": True, "message": _last_error_line(str(error))}
    container.stop()
    return {"refused": False, "message": "the container started and answered /ready"}


def _last_error_line(text: str) -> str:
    """The line of a log that names the refusal (IntegrityError ...), else the last line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if "refusing" in line or "IntegrityError" in line or "sha256" in line:
            return line
    return lines[-1] if lines else ""


# --- docker stats on a running container (C13) ----------------------------------------------------


def docker_stats(image: str, timeout: float = 60.0) -> dict[str, Any]:
    """Start ``image`` (the server), read ``docker stats --no-stream`` once and one document of
    the stats API, stop it. The CLI's columns as printed, its CPU % and MEM USAGE cells, and
    whether anything GPU-related appears in the header or in the API's JSON."""
    from mllab.containers.images import run
    from mllab.containers.monitor import GPU_KEYS, cli_header, gpu_fields

    with run(image, name="mllab-repro-stats", timeout=timeout) as container:
        done = subprocess.run(
            ["docker", "stats", "--no-stream", container.container.id],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        document = container.container.stats(stream=False)
        columns = cli_header(container.container.id) or []
    lines = done.stdout.strip().splitlines()
    cells = [c.strip() for c in lines[1].split("  ") if c.strip()] if len(lines) > 1 else []
    row = dict(zip(columns, cells, strict=False))
    return {
        "columns": columns,
        "cpu_percent": row.get("CPU %"),
        "mem_usage": row.get("MEM USAGE / LIMIT"),
        "gpu_column": any(k in c.lower() for c in columns for k in GPU_KEYS),
        "gpu_fields": gpu_fields(document),
        "api_keys": sorted(document),
        "output": done.stdout.strip(),
    }
