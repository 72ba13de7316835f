"""Student editions made by nbgrader from a toy lab (two exercises, the BRIEF2 markup): the
answers and hidden asserts are gone, the lab stays a lab (parameters tag, kernel ``mllab``),
the source is untouched, and a student's work in the workspace is never overwritten."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from mllab.core.errors import MllabError
from mllab.report import editions

TOY = Path(__file__).parent / "toy" / "90_toy.ipynb"


@pytest.fixture
def labs(tmp_path: Path) -> Path:
    folder = tmp_path / "labs"
    folder.mkdir()
    shutil.copy2(TOY, folder / TOY.name)
    return folder


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One course folder for the module: a new gradebook costs nbgrader an alembic run."""
    return tmp_path_factory.mktemp("course")


def make(labs: Path, tmp_path: Path, course: Path, **kwargs) -> list[editions.Edition]:
    return editions.make_student_editions(
        out=tmp_path / "workspace", labs_dir=labs, course=course, **kwargs
    )


def _sources(path: Path) -> str:
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)


def test_assignment_and_exercise_names():
    assert editions.assignment_id("labs/01_export_onnx.ipynb") == "lab01"
    found = editions.exercises(TOY)
    assert [(e.grade_id, e.name, e.points) for e in found] == [
        ("ex01_scaled_check", "ex01_scaled", 2.0),
        ("ex02_square_check", "ex02_square", 3.0),
    ]


def test_student_edition_has_no_answers_and_stays_a_lab(labs: Path, tmp_path: Path, course: Path):
    before = TOY.read_bytes()
    [edition] = make(labs, tmp_path, course)
    assert (edition.lab, edition.status, edition.exercises) == ("90", "written", 2)
    path = Path(edition.path)
    assert path == tmp_path / "workspace" / "90_toy.ipynb"
    text = _sources(path)
    assert "return SCALE * x" not in text and "return x * x" not in text, "answers left in"
    assert "assert checked.passed" not in text, "hidden tests left in"
    assert text.count("raise NotImplementedError()") == 2
    assert "checked = self_check(scaled" in text, "the self-check stays for the student"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "mllab"
    assert "parameters" in nb.cells[1].metadata.tags
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert (labs / TOY.name).read_bytes() == before, "the source lab is never written"
    assert (course / "gradebook.db").exists() and (course / "nbgrader_config.py").exists()
    assert (course / "source" / "lab90" / "90_toy.ipynb").exists()


def test_a_students_work_is_kept_unless_forced(labs: Path, tmp_path: Path, course: Path):
    [edition] = make(labs, tmp_path, course)
    path = Path(edition.path)
    work = path.read_text().replace("# YOUR CODE HERE", "# my work")
    path.write_text(work)
    [again] = make(labs, tmp_path, course)
    assert again.status.startswith("kept") and path.read_text() == work
    [forced] = make(labs, tmp_path, course, force=True)
    assert forced.status == "replaced" and "# my work" not in path.read_text()


def test_unknown_lab_and_empty_folder_are_errors(labs: Path, tmp_path: Path, course: Path):
    with pytest.raises(MllabError, match="no lab 42"):
        make(labs, tmp_path, course, only="42")
    with pytest.raises(MllabError, match="no lab notebooks"):
        make(tmp_path / "workspace", tmp_path, course)


def test_an_edition_without_parameters_tag_is_refused(tmp_path: Path):
    nb = nbformat.read(TOY, as_version=4)
    nb.cells[1].metadata.tags = []
    path = tmp_path / "90_toy.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(MllabError, match="parameters"):
        editions.check_edition(path)
