"""The student editions of the real labs, as a student receives them (nbgrader's
``generate_assignment``, through ``mllab labs student``): well-formed labs without answers or
hidden asserts, exercise markup that nbgrader can grade; and executed with **nbclient** (no
papermill) to the end, every unfinished exercise saying it is not done while the lab goes on
with the kit's reference (slow; the labs that build images also need Docker)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from mllab.core.paths import LABS
from mllab.exercises.check import NOT_DONE
from mllab.report import editions, grading, runner

NOTEBOOKS = runner.discover(LABS)
IDS = [nb.name for nb in NOTEBOOKS]
DOCKER_LABS = {"03", "04", "06", "07", "08"}
#: CI executes each lab once at its defaults (tests/labs/test_labs.py, papermill, the instructor
#: edition: its figures are the run's). The student editions run here with CI-sized parameters
#: and no image builds of their own (the images the instructor run built are reused from the
#: engine's cache): the point is that an untouched edition runs to the end under nbclient with
#: every exercise saying it is not done, not the figures. Every name must be a lab parameter.
CHEAP: dict[str, dict[str, object]] = {
    "00": {"CONTAINER": False},
    "01": {"EXPORTERS": ["dynamo"], "BATCH": 2, "REPEATS": 2},
    "02": {"REPEATS": 2, "CONCURRENCIES": [1, 2], "BATCH_REQUESTS": 4, "BURST": 6},
    "03": {
        "NS_VARIANTS": ["default", "--pid=host", "--network host"],
        "COPY_UP_MB": 16,
        "COPY_UP_ROUNDS": 2,
        "SHARED_CONTAINERS": 2,
        "NET_REQUESTS": 3,
        "NET_ROUNDS": 2,
        "NEIGHBOUR_REQUESTS": 2,
        "NEIGHBOUR_ROUNDS": 2,
        "STOP_TIMEOUT": 3,
        "TRADEOFF_ROUNDS": 1,
    },
    "04": {"BUILD_NAIVE": False, "BUILD_CUDA": False, "FULL_BASE": False, "N_IMAGES": 1},
    "05": {
        "BATCHES": [1, 2],
        "WARMUP": 1,
        "REPEATS": 2,
        "PROFILE_RUNS": 1,
        "FP16_IMAGES": 1,
        "TORCH_REPEATS": 2,
        "OV_BATCHES": [1, 2],
        "OV_ROUNDS": 2,
        "OV_REPEATS": 1,
    },
    "06": {
        "REPEATS": 2,
        "N_IMAGES": 1,
        "N_RANDOM": 1,
        "NO_CACHE_REBUILD": False,
        "CACHE_EXPERIMENT": False,
        "BUILDAH": False,
        "BASE_TWICE": False,
    },
    "07": {
        "CPUS": [0.5, 1],
        "THREAD_POLICIES": [1],
        "LC_POLICY": 1,
        "SWEEP_ROUNDS": 1,
        "REQUESTS_PER_POINT": 8,
        "ETA_ROUNDS": 1,
        "ETA_REPEATS": 5,
        "LOAD_REQUESTS": 60,
        "REPLICAS": [1],
        "MEMORY_REQUESTS": 4,
    },
    "08": {"UPDATE_SECONDS": 40, "LOAD_SECONDS": 8, "SCALE": [1]},
}
CELL_TIMEOUT_S = runner.CELL_TIMEOUT_S
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS")


@pytest.fixture(scope="module")
def student_editions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("editions")
    made = editions.make_student_editions(out=root / "workspace", course=root / "course")
    assert [e.notebook for e in made] == IDS
    return root / "workspace"


def _grading_cells(notebook: Path) -> list[dict]:
    nb = nbformat.read(notebook, as_version=4)
    return [c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_exercise_markup_is_gradable(notebook: Path):
    """Each answer cell ``exNN_name`` is followed by its graded self-check ``exNN_name_check``."""
    cells = _grading_cells(notebook)
    ids = [c["grade_id"] for c in cells]
    assert len(ids) == len(set(ids)), "grade ids must be unique in a notebook"
    for answer, check in zip(cells[::2], cells[1::2], strict=True):
        assert re.fullmatch(r"ex\d\d_\w+", answer["grade_id"]), answer["grade_id"]
        assert answer["solution"] and not answer["grade"] and not answer["locked"]
        assert check["grade_id"] == answer["grade_id"] + "_check"
        assert check["grade"] and check["locked"] and check["points"] > 0
        assert not check["solution"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_student_edition_is_a_lab_without_answers(notebook: Path, student_editions: Path):
    edition = student_editions / notebook.name
    nb = nbformat.read(edition, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == runner.KERNEL
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(not c.outputs for c in code), "outputs in a student edition"
    text = "\n".join(c.source for c in nb.cells)
    assert not [m for m in MARKERS if m in text], "answers or hidden tests left in"
    answers = [c for c in _grading_cells(notebook) if c["solution"]]
    assert text.count("raise NotImplementedError()") == len(answers)


def _with_parameters(nb: nbformat.NotebookNode, values: dict) -> None:
    """Put ``values`` after the parameters cell (what papermill's injection does)."""
    names = set(re.findall(r"^(\w+)\s*=", nb.cells[_first_code(nb)].source, re.M))
    assert set(values) <= names, f"not parameters of this lab: {set(values) - names}"
    if values:
        lines = [f"{k} = {v!r}" for k, v in values.items()]
        cell = new_code_cell("\n".join(lines), metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(_first_code(nb) + 1, cell)


def _set_parameters(nb: nbformat.NotebookNode, values: dict) -> None:
    """Change the values in the parameters cell itself (a student editing it): what a
    submission holds when nbgrader runs it, since nbgrader injects no parameters."""
    cell = nb.cells[_first_code(nb)]
    for key, value in values.items():
        cell.source, found = re.subn(
            rf"^{key}\s*=.*$", f"{key} = {value!r}", cell.source, flags=re.M
        )
        assert found == 1, f"{key} is not a parameter of this lab"


def _first_code(nb: nbformat.NotebookNode) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")


def _run_param(notebook: Path):
    marks = [pytest.mark.slow]
    if runner.lab_id(notebook) in DOCKER_LABS:
        marks.append(pytest.mark.docker)
    return pytest.param(notebook, marks=marks, id=notebook.name)


@pytest.mark.parametrize("notebook", [_run_param(nb) for nb in NOTEBOOKS])
def test_student_edition_runs_to_the_end_with_nbclient(
    notebook: Path, student_editions: Path, tmp_path: Path
):
    nb = nbformat.read(student_editions / notebook.name, as_version=4)
    _with_parameters(nb, CHEAP[runner.lab_id(notebook)])
    with runner.recording_into(tmp_path / "results"):
        try:
            NotebookClient(
                nb,
                kernel_name=runner.KERNEL,
                timeout=CELL_TIMEOUT_S,
                resources={"metadata": {"path": str(student_editions)}},
            ).execute()  # raises CellExecutionError at the first cell that fails
        finally:  # what `mllab labs run` does after a lab: lab 08's stack, registry, swarm
            runner.after_lab(notebook)
    nbformat.write(nb, tmp_path / notebook.name)  # kept for a look when a check below fails
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            said = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert NOT_DONE in said, f"{cell.metadata.nbgrader.grade_id} did not say not done"
    assert os.listdir(tmp_path / "results"), "the lab recorded what it measured"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_every_lab_has_two_to_four_exercises(notebook: Path):
    checks = [c for c in _grading_cells(notebook) if c["grade"]]
    assert 2 <= len(checks) <= 4, f"{len(checks)} exercises (issue 13: two to four per lab)"


@pytest.mark.slow
def test_grading_a_real_lab_full_zero_and_partial(tmp_path: Path):
    """Lab 00 graded by nbgrader: its reference answers get full marks, its untouched student
    edition 0 on every exercise, and a wrong rule for ex00_cuda loses only that exercise."""
    [edition] = editions.make_student_editions(
        only="00", out=tmp_path / "workspace", course=tmp_path / "course"
    )
    subs, name = tmp_path / "submissions", edition.notebook
    for student in ("reference", "untouched", "wrong"):
        (subs / student).mkdir(parents=True)
    # CI-sized submissions: the container part of lab 00 is the instructor run's (test_labs)
    for student, source in (("reference", LABS / name), ("untouched", Path(edition.path))):
        submitted = nbformat.read(source, as_version=4)
        _set_parameters(submitted, CHEAP["00"])
        nbformat.write(submitted, subs / student / name)
    nb = nbformat.read(LABS / name, as_version=4)  # the reference, with one answer broken
    _set_parameters(nb, CHEAP["00"])
    cell = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex00_cuda"
    )
    head, _, _ = cell.source.partition("### BEGIN SOLUTION")
    cell.source = head + "return True  # every container runs on every driver (wrong)\n"
    nbformat.write(nb, subs / "wrong" / name)
    report = grading.grade_submissions(subs, tmp_path / "grades", cell_timeout_s=600)
    rows = {(r.student, r.exercise): r for r in report.rows}
    totals = report.totals()
    assert totals["reference"][0] == totals["reference"][1] > 0
    assert totals["untouched"][0] == 0
    assert all("not done" in r.feedback for r in report.rows if r.student == "untouched")
    assert rows[("wrong", "ex00_cuda")].points == 0 < totals["wrong"][0] < totals["wrong"][1]
    hint = rows[("wrong", "ex00_cuda")].feedback
    assert hint != grading.PASSED and "Traceback" not in hint
