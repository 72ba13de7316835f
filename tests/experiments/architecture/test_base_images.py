"""Lab 03's base images: the wheel closure, the probe, the rows, and one Docker test that
reads lab 03's run: the minimal base against the kit's Python base."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mllab.core.outcome import Outcome
from mllab.experiments.architecture.base_images import (
    PROBE,
    STANDS_FOR,
    BaseImage,
    BaseImages,
    Probe,
    base_rows,
    closure,
    tag_of,
)
from mllab.experiments.architecture.sbom import ImageSbom


def wheel(folder: Path, name: str, requires: list[str]) -> Path:
    """A wheel file holding only its METADATA."""
    path = folder / f"{name}-1.0-py3-none-any.whl"
    meta = "\n".join(
        ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
        + [f"Requires-Dist: {r}" for r in requires]
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-1.0.dist-info/METADATA", meta + "\n")
    return path


def test_the_closure_follows_dependencies_but_not_extras(tmp_path: Path):
    wheels = [
        wheel(tmp_path, "top", ["dep_a>=1", 'extra_only; extra == "x"', "missing"]),
        wheel(tmp_path, "dep_a", ["dep_b"]),
        wheel(tmp_path, "dep_b", []),
        wheel(tmp_path, "extra_only", []),
        wheel(tmp_path, "unrelated", []),
    ]
    assert [w.name.split("-")[0] for w in closure("top", wheels)] == ["dep_a", "dep_b", "top"]


def test_the_probe_runs_on_a_bare_python():
    """The probe needs only the standard library: this interpreter answers it."""
    done = subprocess.run([sys.executable, "-I", "-c", PROBE], capture_output=True, text=True)
    found = Probe(**json.loads(done.stdout))
    assert isinstance(found.pip, bool) and found.dists == sorted(found.dists)
    assert all("/" not in lib for lib in found.libs)


def base(name: str, build: Outcome, **measured) -> BaseImage:
    return BaseImage(name, *STANDS_FOR[name], tag_of(name), build, **measured)


def test_rows_show_each_build_and_what_was_not_built():
    sbom = ImageSbom("t", "sha256:1", Outcome.ran(), "/x", os_packages=25, python_packages=0)
    record = BaseImages(
        Outcome.ran(),
        [
            base(
                "python-slim",
                Outcome.ran(),
                cached=True,
                size_mb=124.0,
                layers=1,
                start_ms=[300.0, 310.0, 290.0],
                shells=["sh"],
                pip=False,
            ),
            base(
                "minimal",
                Outcome.ran(),
                cached=False,
                build_s=4.5,
                size_mb=47.6,
                layers=1,
                start_ms=[320.0],
                shells=[],
                pip=False,
                sbom=sbom,
            ),
            base("pytorch", Outcome.not_run("mllab/serve:naive is not in the engine")),
        ],
        "/sboms",
        3,
    )
    rows = {r["base"]: r for r in base_rows(record)}
    assert rows["python-slim"]["build"] == "cached" and rows["python-slim"]["start_ms"] == 300.0
    assert rows["python-slim"]["shell"] == "sh" and rows["python-slim"]["os_packages"] is None
    assert rows["minimal"]["build"] == "4.5 s" and rows["minimal"]["shell"] == "none"
    assert rows["minimal"]["os_packages"] == 25
    assert rows["pytorch"]["build"] == "not built: mllab/serve:naive is not in the engine"
    assert rows["pytorch"]["stands_for"] == "pytorch/pytorch" and rows["pytorch"]["size_mb"] is None


@pytest.mark.docker
@pytest.mark.slow
def test_the_minimal_base_has_no_shell_no_pip_and_fewer_packages(executed_lab):
    """Lab 03's run (issue 17: not repeated here): the minimal base has no shell, no pip and
    fewer OS packages than the kit's Python base; the probe finds pip where it is (the
    onnxruntime base: the control); the SBOMs lie in the run's folder."""
    record = executed_lab("03").record("BaseImages")
    assert record["outcome"]["status"] == "ran", record["outcome"]
    by = {image["name"]: image for image in record["images"]}
    slim, runtime, minimal = by["python-slim"], by["onnxruntime"], by["minimal"]
    builds = [b["build"] for b in (slim, runtime, minimal)]
    assert all(build["status"] == "ran" for build in builds), builds
    assert slim["shells"] and minimal["shells"] == [] and minimal["pip"] is False
    assert runtime["pip"] is True and runtime["python_dists"] > 0 == minimal["python_dists"]
    assert 0 < minimal["size_mb"] < slim["size_mb"]
    assert len(minimal["start_ms"]) == len(slim["start_ms"]) == record["starts"]
    sboms = [slim["sbom"], minimal["sbom"]]
    assert all(s["outcome"]["status"] == "ran" for s in sboms), sboms
    assert 0 < minimal["sbom"]["os_packages"] < slim["sbom"]["os_packages"]
    path = Path(minimal["sbom"]["path"])
    assert path.parent == Path(record["sbom_dir"]) and path.is_file()
