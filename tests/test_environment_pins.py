"""environment.yml (conda) says exactly what pyproject.toml says."""

from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement

from mllab.core.paths import ROOT


def _normalised(specs: list[str]) -> set[str]:
    return {str(Requirement(spec)) for spec in specs}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = project["dependencies"] + project["optional-dependencies"]["dev"]
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in conda["dependencies"]
    assert _normalised(pip_section) == _normalised(pinned)


def test_every_dependency_is_pinned_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
        requirement = Requirement(spec)
        assert str(requirement.specifier).startswith("=="), f"{spec} is not pinned with =="


def test_torch_pins_and_onnxruntime_markers():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = {Requirement(s).name: Requirement(s) for s in project["dependencies"]}
    assert str(reqs["torch"].specifier) == "==2.14.1"
    assert str(reqs["torchvision"].specifier) == "==0.29.1"
    linux = {"sys_platform": "linux", "platform_machine": "x86_64"}
    mac = {"sys_platform": "darwin", "platform_machine": "arm64"}
    for environment in (linux, mac):  # never both runtimes in one environment
        chosen = [
            n for n in ("onnxruntime", "onnxruntime-gpu") if reqs[n].marker.evaluate(environment)
        ]
        assert len(chosen) == 1
