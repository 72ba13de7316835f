"""A student's lab in JupyterLab, in a real browser (issue 13, item 6): Playwright drives Debian's
Chromium, headless, against the venv's ``jupyter lab`` serving a workspace of student editions
made by ``mllab labs student`` (nbgrader). Open the lab, check the ``mllab`` kernel, Run → Run All
Cells, wait for the kernel, save — then judge the SAVED notebook (JupyterLab 4 renders only the
cells in view): every code cell executed, no error output, the plots rendered. A second copy
with a planted wrong answer shows its self-check message. The Russian edition (``mllab labs
student --lang ru``) of another lab runs to its end there too, every exercise saying in Russian
that it is not done yet. Nothing may leave localhost: the
environment's JupyterLab settings overrides (``jupyter/overrides.json``) turn news and update
checks off. Screenshots go to a folder the test prints.

Chromium missing: a failure in CI (``.ci/run`` installs it), a skip with the reason elsewhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from browser_helpers import (
    Executed,
    Lab,
    Requests,
    chromium_page,
    find_chromium,
    jupyter_lab,
    open_notebook,
    plant_wrong_answer,
    run_all_and_save,
    show_first,
)
from jupyter_client.kernelspec import KernelSpecManager
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from mllab.core.hashing import sha256_file
from mllab.core.paths import LABS
from mllab.exercises.check import NOT_DONE
from mllab.exercises.messages import frame
from mllab.report.editions import make_student_editions
from mllab.report.runner import KERNEL

pytestmark = [pytest.mark.slow, pytest.mark.browser]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")  # as in tests/conftest.py
DISPLAY_NAME = "Python 3.11 (mllab)"  # make setup: ipykernel install --display-name
#: the fastest lab with a plot and exercises, with small parameters (as a student may set them)
LAB = "05_gpu_batching.ipynb"
QUICK = {"BATCHES": [1, 2], "WARMUP": 1, "REPEATS": 2, "PROFILE_RUNS": 1, "FP16_IMAGES": 1}
WRONG = "wrong_answer.ipynb"
WRONG_ANSWER = "return 1.0, 1.0  # planted: a wrong answer"
RUN_TIMEOUT_S = 240
#: the Russian edition's lab: a short one without Docker, with its cheap parameters
RUSSIAN_LAB = "00_environment.ipynb"
RUSSIAN_QUICK = {"CONTAINER": False}
PLOTS = re.compile(r"\bplt\.|\bplot\w*\(")


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        reason = "no Chromium here (apt-get install -y chromium; .ci/run installs it as root)"
        if IN_CI:
            pytest.fail(f"CI needs Chromium for the browser tests: {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder: workspace, nbgrader course, results, server log, screenshots."""
    root = tmp_path_factory.mktemp("browser")
    print(f"\nbrowser test artefacts (screenshots, jupyter log): {root}")
    return root


@pytest.fixture(scope="module")
def workspace(folder: Path) -> Path:
    """The student edition of the lab (nbgrader), with small parameters injected the papermill
    way."""
    out = folder / "workspace"
    make_student_editions(only=LAB[:2], out=out, course=folder / "course")
    edition = out / LAB
    nbformat.write(parameterize_notebook(load_notebook_node(str(edition)), QUICK), edition)
    return out


@pytest.fixture(scope="module")
def planted(workspace: Path) -> str:
    """A copy of the untouched edition whose first exercise holds a wrong answer; its grade id."""
    return plant_wrong_answer(workspace / LAB, workspace / WRONG, WRONG_ANSWER)


@pytest.fixture(scope="module")
def lab(chromium: str, workspace: Path, planted: str, folder: Path):
    env = dict(os.environ, MLLAB_RESULTS=str(folder / "results"))  # not the repo's artifacts/
    with jupyter_lab(workspace, folder / "jupyter.log", env) as server:
        yield server


@pytest.fixture(scope="module")
def requests() -> Requests:
    return Requests()


@pytest.fixture(scope="module")
def page(lab: Lab, chromium: str, requests: Requests):
    with chromium_page(chromium, requests) as browser_page:
        yield browser_page


def test_overrides_turn_news_and_update_checks_off(lab: Lab):
    """The environment's overrides reach the served JupyterLab (JupyterLab's own defaults: ask
    about news on first start, check for updates)."""
    setting = lab.api("/lab/api/settings/@jupyterlab/apputils-extension:notification")
    properties = setting["schema"]["properties"]
    assert properties["fetchNews"]["default"] == "false", properties["fetchNews"]
    assert properties["checkForUpdates"]["default"] is False, properties["checkForUpdates"]


def test_lab_runs_in_jupyterlab(lab: Lab, page, requests: Requests, folder: Path):
    source_digest = sha256_file(LABS / LAB)
    shown = open_notebook(page, lab, LAB)
    assert KernelSpecManager().get_kernel_spec(KERNEL).display_name == DISPLAY_NAME
    assert shown == DISPLAY_NAME, f"JupyterLab shows kernel {shown!r}"
    assert lab.kernel_of(LAB).get("name") == KERNEL

    seconds = run_all_and_save(page, lab, LAB, RUN_TIMEOUT_S)
    plot_shown = show_first(page, ".jp-RenderedImage img")  # the screenshot shows the plot
    page.screenshot(path=folder / "lab_run.png")
    print(f"Run All Cells: {seconds:.0f} s; plot on the page: {plot_shown}; {folder}/lab_run.png")

    ran = Executed.read(lab.root / LAB)
    assert not ran.errors, f"error output in the saved notebook: {ran.errors}"
    assert not ran.not_executed, f"code cells not executed: {ran.not_executed}"
    plots = _cells_showing_plots(lab.root / LAB)
    assert plots, f"{LAB} draws no plot: choose a lab that does"
    assert not set(plots) - set(ran.image_cells), f"plots not rendered: cells {plots}, {ran}"
    assert "not done yet" in ran.text  # the unfinished exercises: the lab went on, and said so
    assert sha256_file(LABS / LAB) == source_digest, f"running the student edition wrote labs/{LAB}"
    _assert_offline(page, requests)


def test_wrong_answer_shows_its_self_check(
    lab: Lab, page, requests: Requests, folder: Path, planted: str
):
    grade_id = planted
    open_notebook(page, lab, WRONG)
    run_all_and_save(page, lab, WRONG, RUN_TIMEOUT_S)

    ran = Executed.read(lab.root / WRONG)
    assert not ran.errors and not ran.not_executed, (ran.errors, ran.not_executed)
    assert f"✗ {grade_id}:" in ran.text, ran.text[-2000:]
    assert "Reread the lecture:" in ran.text and "Traceback" not in ran.text

    message = page.get_by_text(f"✗ {grade_id}:").first  # on the page too, when rendered
    if message.count():
        message.scroll_into_view_if_needed()
        assert message.is_visible()
    page.screenshot(path=folder / "wrong_answer.png")
    print(f"self-check on the page: {bool(message.count())}; {folder}/wrong_answer.png")
    _assert_offline(page, requests)


@pytest.fixture(scope="module")
def russian(workspace: Path, folder: Path) -> str:
    """The Russian edition of :data:`RUSSIAN_LAB` (its own nbgrader course), put into the
    served workspace beside the English one; its name there."""
    out = folder / "workspace-ru"
    made = make_student_editions(
        only=RUSSIAN_LAB[:2], out=out, course=folder / "course-ru", lang="ru"
    )
    assert [(e.lang, e.untranslated) for e in made] == [("ru", 0)]
    nb = parameterize_notebook(load_notebook_node(str(out / RUSSIAN_LAB)), RUSSIAN_QUICK)
    nbformat.write(nb, workspace / RUSSIAN_LAB)
    return RUSSIAN_LAB


def test_russian_edition_runs_in_jupyterlab(lab: Lab, page, requests: Requests, russian: str):
    """Run All Cells on the Russian edition: it runs to the end, and every exercise's self-check
    says in Russian (the kernel's MLLAB_LANG, set by the edition's setup cell) that it is not
    done yet: judged from the saved notebook, cell by cell."""
    open_notebook(page, lab, russian)
    seconds = run_all_and_save(page, lab, russian, RUN_TIMEOUT_S)
    print(f"Russian edition, Run All Cells: {seconds:.0f} s")

    ran = Executed.read(lab.root / russian)
    assert not ran.errors, f"error output in the saved notebook: {ran.errors}"
    assert not ran.not_executed, f"code cells not executed: {ran.not_executed}"
    nb = nbformat.read(lab.root / russian, as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded, f"{russian} has no self-checks"
    for cell in graded:
        said = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        grade_id = cell.metadata.nbgrader.grade_id
        assert frame("not_done", "ru") in said and "Лекция: «" in said, f"{grade_id}: {said!r}"
        assert NOT_DONE not in said, f"{grade_id} spoke English: {said!r}"
        print(f"{grade_id}: {said.strip().splitlines()[0]}")
    _assert_offline(page, requests)


def _cells_showing_plots(notebook: Path) -> list[int]:
    """The code cells that draw: they call ``plt.…`` or a ``plot…(`` function."""
    nb = nbformat.read(notebook, as_version=4)
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and PLOTS.search(c.source)]


def _assert_offline(page, requests: Requests) -> None:
    assert requests.urls, "the page made no requests at all: the recorder is broken"
    assert not requests.offsite(), f"requests left localhost: {requests.offsite()}"
    assert not requests.online_routes(), (
        f"JupyterLab fetched news/updates: {requests.online_routes()}"
    )
    assert page.get_by_text("official Jupyter news").count() == 0
