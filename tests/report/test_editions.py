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


def test_the_russian_edition_swaps_text_cells_and_sets_the_message_language(
    labs: Path, tmp_path: Path, course: Path
):
    """One source: the Russian text of a cell is in its metadata; the edition shows it, adds the
    setup cell after the parameters, and keeps a cell without a translation in English (said in
    the status). The English edition is nbgrader's, untouched."""
    nb = nbformat.read(labs / TOY.name, as_version=4)
    nb.cells[0].metadata["mllab"] = {"ru": "# Учебная лабораторная 90: два упражнения"}
    nb.cells[3].metadata["mllab"] = {"ru": "**Упражнение 1.** Умножьте число на `SCALE`."}
    nbformat.write(nb, labs / TOY.name)
    [english] = make(labs, tmp_path / "en", course)
    assert (english.lang, english.untranslated) == ("en", 0)  # English: the source itself
    assert "%env" not in _sources(Path(english.path)) and "Toy lab 90" in _sources(
        Path(english.path)
    )
    [russian] = make(labs, tmp_path / "ru", course, lang="ru")
    assert (russian.lang, russian.untranslated) == ("ru", 1)
    assert russian.status == "written (1 text cells not yet in ru: shown in English)"
    edition = nbformat.read(russian.path, as_version=4)
    editions.check_edition(Path(russian.path))
    texts = [c.source for c in edition.cells if c.cell_type == "markdown"]
    assert texts == [
        "# Учебная лабораторная 90: два упражнения",
        "**Упражнение 1.** Умножьте число на `SCALE`.",
        "**Exercise 2.** Square a number.",
    ]
    assert edition.cells[2].source.endswith("%env MLLAB_LANG=ru"), "right after the parameters"
    assert edition.cells[2].metadata.jupyter.source_hidden
    english_code = [c.source for c in nbformat.read(english.path, 4).cells if c.cell_type == "code"]
    russian_code = [c.source for c in edition.cells if c.cell_type == "code"]
    assert russian_code[:1] + russian_code[2:] == english_code, "the code cells exist once"
    assert (labs / TOY.name).read_text().count('"ru"') == 2, "the source is never rewritten"


def test_an_unknown_language_is_refused(labs: Path, tmp_path: Path, course: Path):
    with pytest.raises(MllabError, match="choose one of en, ru"):
        make(labs, tmp_path, course, lang="de")
