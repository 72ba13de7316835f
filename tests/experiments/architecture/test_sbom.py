"""Lab 03's SBOMs: counting a CycloneDX document's components, the per-image cache, failures
as outcomes, and one Docker test that checks the OS count of lab 03's SBOM against dpkg's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllab.containers.docker_cli import docker
from mllab.core.outcome import Outcome
from mllab.experiments.architecture import sbom as sbom_module
from mllab.experiments.architecture.sbom import (
    NO_SCAN,
    ImageSbom,
    SbomError,
    count_components,
    purl_type,
    sbom,
    sbom_rows,
    tool_version,
)

IMAGE_ID = "sha256:" + "ab" * 32


def document(debs: int = 2, pypi: int = 1) -> dict:
    """A CycloneDX document as syft writes it: debs (one without a purl, as in an image with no
    /etc/os-release), Python packages and the operating-system entry."""
    components = [{"name": "debian", "type": "operating-system"}]
    components += [
        {"name": f"lib{i}", "type": "library", "purl": f"pkg:deb/debian/lib{i}@1"}
        for i in range(debs - 1)
    ]
    components.append(
        {
            "name": "libx",
            "type": "library",
            "properties": [{"name": "syft:package:type", "value": "deb"}],
        }
    )
    components += [
        {"name": f"py{i}", "type": "library", "purl": f"pkg:pypi/py{i}@1"} for i in range(pypi)
    ]
    tools = {"components": [{"type": "application", "name": "syft", "version": "1.18.1"}]}
    return {"bomFormat": "CycloneDX", "metadata": {"tools": tools}, "components": components}


def test_components_are_counted_by_package_type():
    assert count_components(document(debs=3, pypi=2)) == {"os": 3, "python": 2, "other": 1}
    assert count_components({"bomFormat": "CycloneDX"}) == {"os": 0, "python": 0, "other": 0}
    assert purl_type({"purl": "pkg:pypi/numpy@2.4.6"}) == "pypi"
    assert purl_type({"name": "debian"}) == ""
    assert tool_version(document()) == "1.18.1"
    with pytest.raises(SbomError, match="not a CycloneDX document"):
        count_components({"bomFormat": "SPDX"})


def test_a_cached_sbom_is_read_back_and_copied(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(sbom_module, "image_id", lambda tag: IMAGE_ID)
    monkeypatch.setattr(sbom_module, "run_syft", lambda tag, dest: pytest.fail("syft ran"))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"{'ab' * 16}.cdx.json").write_text(json.dumps(document(debs=4, pypi=3)))
    made = sbom("mllab-arch-base/x", tmp_path / "out", "x", cache=cache)
    assert made.outcome.ok and made.cached and made.seconds is None
    assert (made.os_packages, made.python_packages, made.other, made.packages) == (4, 3, 1, 7)
    assert Path(made.path or "").name == "x.cdx.json" and Path(made.path or "").is_file()
    assert made.vulnerability_scan == NO_SCAN and "no vulnerability database" in NO_SCAN


def test_a_made_sbom_is_kept_and_a_failure_is_the_outcome(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(sbom_module, "image_id", lambda tag: IMAGE_ID)

    def syft(tag: str, dest: Path) -> None:
        dest.write_text(json.dumps(document()))

    monkeypatch.setattr(sbom_module, "run_syft", syft)
    made = sbom("t", tmp_path / "out", cache=tmp_path / "cache")
    assert made.outcome.ok and not made.cached and made.seconds is not None
    assert list((tmp_path / "cache").glob("*.cdx.json"))

    def broken(tag: str, dest: Path) -> None:
        raise SbomError("syft failed on t (exit 1)")

    monkeypatch.setattr(sbom_module, "run_syft", broken)
    failed = sbom("t", tmp_path / "out", cache=tmp_path / "other")
    assert failed.outcome.failed_with(SbomError) and failed.packages is None
    monkeypatch.setattr(sbom_module, "image_id", lambda tag: None)
    assert "no image t" in str(sbom("t", tmp_path / "out").outcome)


def test_rows_say_cached_or_why_not():
    made = ImageSbom(
        "a",
        IMAGE_ID,
        Outcome.ran(),
        "/x/a.cdx.json",
        os_packages=3,
        python_packages=0,
        other=1,
        cached=True,
    )
    missing = ImageSbom("b", None, Outcome.not_run("the engine has no image b"))
    rows = sbom_rows([made, missing])
    assert rows[0]["sbom"] == "a.cdx.json" and rows[0]["made_s"] == "cached"
    assert rows[1]["sbom"] == "not run: the engine has no image b"


@pytest.mark.docker
@pytest.mark.slow
def test_syft_lists_every_package_dpkg_lists(executed_lab):
    """The SBOM lab 03's run made of the kit's Python base (issue 17: syft is not run again)
    counts what that image's own dpkg-query lists as installed (one short container, ~1 s)."""
    record = executed_lab("03").record("BaseImages")
    made = next(i["sbom"] for i in record["images"] if i["name"] == "python-slim")
    assert made["outcome"]["status"] == "ran", made["outcome"]
    # the image syft read, by its ID: the count is compared on the same image
    listed = docker(
        ["run", "--rm", made["image_id"], "dpkg-query", "-W", "-f", "${db:Status-Abbrev}\\n"]
    )
    installed = [line for line in listed.stdout.splitlines() if line.startswith("ii")]
    assert made["os_packages"] == len(installed)
    bom = json.loads(Path(made["path"]).read_text())
    assert bom["bomFormat"] == "CycloneDX" and count_components(bom)["os"] == len(installed)
