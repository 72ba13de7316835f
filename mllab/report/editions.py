"""Student editions of the labs, made by nbgrader (``mllab labs student``).

The notebooks in ``labs/`` are the instructor editions: each exercise's reference answer sits
between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` and each self-check keeps its assert between
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` (comments, so papermill runs them as they
are). nbgrader's ``generate_assignment`` (ClearSolutions, ClearHiddenTests, ClearOutput) turns
them into student editions; nothing here strips a notebook by hand.

nbgrader works on a course folder (``source/<assignment>/``, ``release/``, ``submitted/``,
``autograded/``, ``feedback/``, ``gradebook.db``, ``nbgrader_config.py``). One is built from
``labs/`` under ``artifacts/nbgrader/`` (git-ignored); each lab ``NN_name.ipynb`` is the
assignment ``labNN``. The editions are then copied into the student's workspace (``workspace/``,
git-ignored) so that running and saving a lab in JupyterLab never touches ``labs/``. A notebook
already in the workspace is the student's work: it is kept unless ``force`` is given.

``lang="ru"`` makes the Russian edition from the same source (:mod:`mllab.report.edition_language`:
each text cell's Russian version is in its metadata; the self-check messages follow
``MLLAB_LANG``, which the edition's setup cell sets).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from traitlets.config import Config

from mllab.core.errors import MllabError
from mllab.core.paths import ARTIFACTS, LABS, ROOT
from mllab.report.edition_language import DEFAULT, check_language, localize
from mllab.report.runner import KERNEL, discover, lab_id, select

#: where ``mllab labs student`` writes the student editions (git-ignored)
WORKSPACE = ROOT / "workspace"
#: nbgrader's course folder for the student editions (editions remade on every call)
EDITIONS_COURSE = ARTIFACTS / "nbgrader" / "editions"
COURSE_ID = "mllab"
#: a cell of a graded submission may run this long before it is stopped and scores 0
GRADE_CELL_TIMEOUT_S = 900


@dataclass
class Exercise:
    """One graded self-check of a lab: its nbgrader grade id and the points it carries."""

    grade_id: str
    points: float

    @property
    def name(self) -> str:
        """``ex01_export_check`` -> ``ex01_export`` (the exercise cell's id)."""
        return self.grade_id.removesuffix("_check")


@dataclass
class Edition:
    """A student edition in the workspace: written now, or kept because it holds work."""

    lab: str
    notebook: str
    path: str
    status: str  # "written" | "replaced" | "kept: ..."
    exercises: int
    lang: str = DEFAULT
    #: markdown cells shown in English in a translated edition (no translation yet)
    untranslated: int = 0


def assignment_id(notebook: Path | str) -> str:
    """``labs/01_export_onnx.ipynb`` -> ``"lab01"`` (the nbgrader assignment)."""
    return f"lab{lab_id(Path(notebook))}"


def exercises(notebook: Path) -> list[Exercise]:
    """The graded cells of a notebook, in order, from their nbgrader metadata."""
    nb = nbformat.read(notebook, as_version=4)
    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            found.append(Exercise(meta["grade_id"], float(meta.get("points", 0))))
    return found


@contextlib.contextmanager
def venv_on_path() -> Iterator[None]:
    """nbgrader runs the ``alembic`` script by name (to check its gradebook schema): make the
    interpreter's own ``bin/`` findable even when ``mllab`` was started as ``.venv/bin/mllab``."""
    before = os.environ.get("PATH", "")
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join([bin_dir, before]) if before else bin_dir
    try:
        yield
    finally:
        os.environ["PATH"] = before


def course_config(root: Path, cell_timeout_s: int = GRADE_CELL_TIMEOUT_S) -> Config:
    """nbgrader's settings for a course folder: the kit's kernel, a per-cell time limit."""
    config = Config()
    config.CourseDirectory.root = str(root.resolve())
    config.CourseDirectory.course_id = COURSE_ID
    config.Execute.timeout = cell_timeout_s
    config.Execute.interrupt_on_timeout = True
    config.Execute.error_on_timeout = {
        "ename": "CellTimeoutError",
        "evalue": f"the cell ran past the time limit of {cell_timeout_s} s and was stopped",
        "traceback": [f"CellTimeoutError: no answer within {cell_timeout_s} s"],
    }
    # a submission runs on the source's kernel (``mllab``): nbgrader's OverwriteKernelspec
    return config


def write_config_file(root: Path, cell_timeout_s: int) -> Path:
    """``nbgrader_config.py`` beside the course, so the instructor can also use nbgrader's own
    commands (``nbgrader formgrader``, ``nbgrader export``) in that folder."""
    path = root / "nbgrader_config.py"
    path.write_text(
        "# Written by mllab (mllab/report/editions.py); the same settings as course_config().\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(root.resolve())!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Execute.timeout = {cell_timeout_s}\n"
        "c.Execute.interrupt_on_timeout = True\n"
    )
    return path


def nbgrader_api(root: Path, cell_timeout_s: int = GRADE_CELL_TIMEOUT_S) -> Any:
    """nbgrader's Python API on the course folder ``root``."""
    # deferred: nbgrader pulls in nbconvert, sqlalchemy and alembic (slow to import)
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = course_config(root, cell_timeout_s)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def log_tail(result: dict[str, Any], lines: int = 6) -> str:
    """The last lines of what an nbgrader call logged (and its error), for a message."""
    text = "\n".join(filter(None, [result.get("log", ""), result.get("error", "")]))
    return "\n".join(text.strip().splitlines()[-lines:])


def build_course(notebooks: list[Path], root: Path, cell_timeout_s: int) -> Any:
    """A fresh course folder at ``root`` with each lab as ``source/labNN/``, its assignments
    generated into ``release/`` (and recorded in ``gradebook.db``); returns the API on it.

    An existing ``gradebook.db`` is kept: a new one costs an ``alembic`` subprocess (seconds)
    and nbgrader updates the assignments in it; the sources and editions are made afresh."""
    for folder in ("source", "release"):
        shutil.rmtree(root / folder, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    write_config_file(root, cell_timeout_s)
    api = nbgrader_api(root, cell_timeout_s)
    for notebook in notebooks:
        source = root / "source" / assignment_id(notebook)
        source.mkdir(parents=True)
        shutil.copy2(notebook, source / notebook.name)
        with venv_on_path():
            result = api.generate_assignment(assignment_id(notebook))
        if not result["success"]:
            raise MllabError(
                f"nbgrader could not make the student edition of {notebook.name}:\n"
                + log_tail(result)
            )
    return api


def released(root: Path, notebook: Path) -> Path:
    """Where nbgrader wrote the student edition of ``notebook`` in the course ``root``."""
    return root / "release" / assignment_id(notebook) / notebook.name


def check_edition(path: Path) -> None:
    """A student edition must stay a lab: valid, the ``parameters`` tag and the kit's kernel."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or "parameters" not in code[0].metadata.get("tags", []):
        raise MllabError(f"{path.name}: the student edition lost its 'parameters' cell tag")
    if nb.metadata.get("kernelspec", {}).get("name") != KERNEL:
        raise MllabError(f"{path.name}: the student edition does not use the {KERNEL!r} kernel")


def make_student_editions(
    only: str | list[str] | None = None,
    out: str | Path | None = None,
    force: bool = False,
    labs_dir: Path = LABS,
    course: Path = EDITIONS_COURSE,
    lang: str = DEFAULT,
) -> list[Edition]:
    """Make the student editions of the selected labs into ``out`` (default ``workspace/``),
    in ``lang`` (``en``, the labs as written, or ``ru``).

    A notebook already in ``out`` is kept (it is the student's work) unless ``force``. A text
    cell without a translation is shown in English, and the edition's status says how many."""
    check_language(lang)
    notebooks = select(discover(labs_dir), only)
    if not notebooks:
        raise MllabError(f"no lab notebooks in {labs_dir}")
    out_dir = Path(out) if out else WORKSPACE
    out_dir.mkdir(parents=True, exist_ok=True)
    build_course(notebooks, course, GRADE_CELL_TIMEOUT_S)
    editions = []
    for notebook in notebooks:
        edition, target = released(course, notebook), out_dir / notebook.name
        check_edition(edition)
        nb = nbformat.read(edition, as_version=4)
        missing = len(localize(nb, lang))
        if target.exists() and not force:
            status = "kept: it holds your work (--force replaces it)"
        else:
            status = "replaced" if target.exists() else "written"
            if lang == DEFAULT:
                shutil.copyfile(edition, target)  # nbgrader's edition byte for byte
            else:
                nbformat.write(nb, target)
                check_edition(target)
        if lang != DEFAULT and missing:
            status += f" ({missing} text cells not yet in {lang}: shown in English)"
        count = len(exercises(notebook))
        editions.append(
            Edition(lab_id(notebook), notebook.name, str(target), status, count, lang, missing)
        )
    return editions
