"""The Dockerfile the student writes in lab 04 (its ``%%writefile`` cells, concatenated in the
order the notebook concatenates them) holds the same instructions as ``docker/Dockerfile``: the
kit's image and the lab's image are the same image. No Docker needed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from mllab.containers.dockerfiles import concat_dockerfile, instruction_diff, instructions
from mllab.core.paths import DOCKER, ROOT

NOTEBOOK = ROOT / "labs" / "04_dockerfiles.ipynb"
WRITEFILE = re.compile(r"^%%writefile \{CONTEXT\}/(\S+)\n", re.M)


def _code_cells() -> list[str]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def _written_files() -> dict[str, str]:
    """File name -> text of every ``%%writefile {CONTEXT}/<name>`` cell, and the
    ``Dockerfile.interface`` that exercise ex04_interface's solution returns."""
    files = {}
    for source in _code_cells():
        match = WRITEFILE.match(source)
        if match:
            files[match.group(1)] = source[match.end() :] + "\n"
        elif source.startswith("def interface_part("):
            namespace: dict = {}
            exec(source, namespace)
            files["Dockerfile.interface"] = namespace["interface_part"]()
    return files


def _slim_parts() -> tuple[str, ...]:
    """The ``SLIM_PARTS = (...)`` tuple of the cell that concatenates the parts."""
    for source in _code_cells():
        if WRITEFILE.match(source):
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "SLIM_PARTS" for t in node.targets
            ):
                return tuple(ast.literal_eval(node.value))
    raise AssertionError("lab 04 has no SLIM_PARTS = (...) cell")


@pytest.fixture
def lab_files(tmp_path) -> dict[str, Path]:
    """The lab's Dockerfiles as the notebook writes them: each part, the naive file, and the
    slim ``Dockerfile`` concatenated from the parts."""
    paths = {}
    for name, text in _written_files().items():
        paths[name] = tmp_path / name
        paths[name].write_text(text)
    parts = [paths[f"Dockerfile.{part}"] for part in _slim_parts()]
    paths["Dockerfile"] = concat_dockerfile(parts, tmp_path / "Dockerfile")
    return paths


def test_the_lab_writes_every_part_it_concatenates():
    written = set(_written_files())
    parts = _slim_parts()
    assert len(parts) >= 3
    assert {f"Dockerfile.{part}" for part in parts} <= written
    assert "Dockerfile.naive" in written


@pytest.mark.parametrize(("kit", "lab"), [("Dockerfile", "Dockerfile"), ("Dockerfile.naive",) * 2])
def test_the_lab_builds_the_instructions_of_the_kits_dockerfile(lab_files, kit, lab):
    assert instructions(lab_files[lab]) == instructions(DOCKER / kit)
    assert instruction_diff(DOCKER / kit, lab_files[lab]) == []


def test_one_changed_line_is_a_difference(lab_files, tmp_path):
    """The comparison can fail: a mutated copy of either side differs by exactly that line."""
    kit = (DOCKER / "Dockerfile").read_text()
    mutated = tmp_path / "Dockerfile.kit-mutated"
    mutated.write_text(kit.replace("EXPOSE 8080", "EXPOSE 8081", 1))
    assert instructions(mutated) != instructions(lab_files["Dockerfile"])
    diff = instruction_diff(mutated, lab_files["Dockerfile"])
    assert [line for line in diff if line[0] in "+-" and line[:3] not in ("+++", "---")] == [
        "-EXPOSE 8081",
        "+EXPOSE 8080",
    ]
    # a change inside a continuation line of the lab's part counts too
    model = lab_files["Dockerfile.model"]
    model.write_text(model.read_text().replace('org.mllab.device="cpu"', 'org.mllab.device="gpu"'))
    parts = [lab_files[f"Dockerfile.{part}"] for part in _slim_parts()]
    lab = concat_dockerfile(parts, tmp_path / "Dockerfile.lab-mutated")
    assert instruction_diff(DOCKER / "Dockerfile", lab) != []


def test_comments_and_line_breaks_are_not_differences(tmp_path):
    kit = (DOCKER / "Dockerfile").read_text()
    reflowed = tmp_path / "Dockerfile"
    text = "# another comment\n" + kit.replace(" \\\n    PIP_NO_INDEX=1", " PIP_NO_INDEX=1")
    assert text != "# another comment\n" + kit  # the replacement did change the file
    reflowed.write_text(text)
    assert instruction_diff(DOCKER / "Dockerfile", reflowed) == []
