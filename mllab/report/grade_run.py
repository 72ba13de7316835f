"""Running one handed-in lab for grading, so that a broken or hostile submission cannot decide
its own grade or stop the grading of the next one.

* **The kit's own graded cells.** :func:`graded_copy` takes the student's notebook and puts the
  kit's copy of every self-check cell (hidden tests included) in place of the student's; a
  self-check the student deleted is put back after its answer cell; the notes say so.
* **One kernel, a time limit per cell.** :func:`execute` runs the cells one by one with
  nbclient: a cell past the limit is interrupted (the self-check turns that into a failed
  exercise) and, if the kernel then stops answering, the run stops there; a kernel that dies
  (``os._exit``, a crash) stops the run too. The cells after the stop did not run, and a cell
  that did not run earns nothing.
* **The answer again, outside the kernel.** :func:`hidden_outside` runs
  ``python -m mllab.exercises.hidden`` on the answer cell's text in a fresh process (its own
  time limit, its own working folder): what the student's kernel did to the kit cannot reach it.

The working folder of a submission is a scratch folder of its own: an answer that deletes
files or changes directory there harms nothing the grader needs (the grader keeps what it
found in memory). There is no sandbox beyond that: the student's code runs as the user.

What the run says to a student (the notes, why it stopped, the time limits) is worded in the
language of the student's edition (``lang``; :mod:`mllab.report.grade_words`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from mllab.report.edition_language import DEFAULT
from mllab.report.grade_words import say
from mllab.report.runner import KERNEL

TIMEOUT_ERROR = "CellTimeoutError"
#: how long a kernel gets to answer an empty cell after one of its cells ran past the limit
PROBE_S = 15
#: the call that marks a self-check with hidden cases the grader runs again outside the kernel
HIDDEN_CALL = re.compile(r"\.hidden_tests\(")


@dataclass
class CellRun:
    """What one graded cell did: whether it ran, its errors (name, value), its numeric value
    (the hidden tests' share of the points) and what it printed."""

    index: int = -1
    ran: bool = False
    errors: list[tuple[str, str]] = field(default_factory=list)
    value: float | None = None
    text: str = ""


@dataclass
class LabRun:
    """A submission as run: the notebook executed, each graded cell by grade id, why the run
    stopped early (None when it ran to the end), and notes on what the kit changed."""

    notebook: NotebookNode
    cells: dict[str, CellRun]
    stopped: str | None = None
    stopped_at: int | None = None  # the index of the cell where it stopped
    notes: dict[str, str] = field(default_factory=dict)  # grade id -> note


def grade_id(cell: NotebookNode) -> str | None:
    """A cell's nbgrader grade id, or None."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if isinstance(meta, dict) else None


def graded_cells(nb: NotebookNode) -> dict[str, NotebookNode]:
    """The self-check cells (nbgrader ``grade`` and not ``solution``) of ``nb`` by grade id."""
    found = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            found[meta["grade_id"]] = cell
    return found


def answer_cells(nb: NotebookNode) -> dict[str, NotebookNode]:
    """The answer cells (nbgrader ``solution``) of ``nb`` by grade id."""
    return {
        grade_id(c) or "": c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
    }


def released(source: str) -> str:
    """A kit's self-check as the student edition has it: nbgrader leaves out the lines from
    ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` (its ClearHiddenTests, line by line)."""
    lines, hidden = [], False
    for line in source.split("\n"):
        if "BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines)


def graded_copy(
    kit: NotebookNode,
    submitted: NotebookNode,
    parameters: dict[str, Any] | None = None,
    lang: str = DEFAULT,
) -> tuple[NotebookNode, dict[str, str]]:
    """The submission with the kit's self-check cells (see the module's text), no outputs, and
    ``parameters`` set after its parameters cell; with a note (in ``lang``) per self-check it
    changed."""
    checks = graded_cells(kit)
    present = {grade_id(c) for c in submitted.cells}
    notes: dict[str, str] = {}
    cells = []
    for cell in submitted.cells:
        gid = grade_id(cell)
        if gid in checks:
            kept = (checks[gid].source.rstrip(), released(checks[gid].source).rstrip())
            if cell.source.rstrip() not in kept:  # as the kit has it, or as it was released
                notes[gid] = say("changed", lang)
            cells.append(copy.deepcopy(checks[gid]))
            continue
        if (
            gid
            and cell.metadata["nbgrader"].get("grade")
            and not cell.metadata["nbgrader"].get("solution")
        ):
            continue  # a graded cell the lab does not have: not the student's to add
        cells.append(copy.deepcopy(cell))
        check_id = f"{gid}_check"
        if gid and check_id in checks and check_id not in present:
            notes[check_id] = say("deleted", lang)
            cells.append(copy.deepcopy(checks[check_id]))
    nb = copy.deepcopy(submitted)
    nb.cells = cells
    nb.metadata["kernelspec"] = copy.deepcopy(kit.metadata.get("kernelspec", {}))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if parameters:
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        tagged = [i for i in code if "parameters" in nb.cells[i].metadata.get("tags", [])]
        at = (tagged or code or [-1])[0] + 1
        lines = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
        nb.cells.insert(at, new_code_cell(lines, metadata={"tags": ["injected-parameters"]}))
    return nb, notes


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables while inside (the kernels and processes started inherit
    them), then put back what was there."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _value(cell: NotebookNode) -> float | None:
    for output in cell.get("outputs", []):
        if output.output_type == "execute_result":
            text = output.get("data", {}).get("text/plain", "")
            try:
                return float("".join(text) if isinstance(text, list) else text)
            except ValueError:
                return None
    return None


def cell_run(cell: NotebookNode, index: int) -> CellRun:
    """What an executed cell did (a cell never executed: ``ran`` False)."""
    outputs = cell.get("outputs", [])
    errors = [(o.ename, o.evalue) for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    ran = cell.get("execution_count") is not None or bool(outputs)
    return CellRun(index, ran, errors, _value(cell), text)


def _where(cell: NotebookNode, index: int, lang: str = DEFAULT) -> str:
    gid = grade_id(cell)
    return say("in cell of", lang, grade_id=gid) if gid else say("in cell", lang, number=index + 1)


def _show_timeout(cell: NotebookNode, cell_index: int, execute_reply: dict[str, Any]) -> None:
    """nbclient answers a cell past its time limit with the error reply it was given but puts
    no error among the cell's outputs: put it there (as nbgrader's own executor does)."""
    content = execute_reply.get("content", {})
    if content.get("ename") == TIMEOUT_ERROR and not any(
        o.get("ename") == TIMEOUT_ERROR for o in cell.outputs
    ):
        cell.outputs.append(
            nbformat.v4.new_output(
                "error", ename=TIMEOUT_ERROR, evalue=content.get("evalue", ""), traceback=[]
            )
        )


def _answers(client: NotebookClient, timeout_s: int) -> bool:
    """Whether the kernel still runs an empty cell after a cell ran past the time limit."""
    probe, saved = new_code_cell("pass"), client.timeout
    client.timeout = timeout_s
    try:
        client.execute_cell(probe, 0)
    except DeadKernelError:
        return False
    finally:
        client.timeout = saved
    return not any(o.get("ename") == TIMEOUT_ERROR for o in probe.outputs)


def execute(
    nb: NotebookNode, workdir: Path, cell_timeout_s: int, lang: str = DEFAULT
) -> tuple[str | None, int | None]:
    """Run ``nb`` in place, cell by cell, in ``workdir``; returns why it stopped before the
    end (the kernel died, or stopped answering after a time limit; in ``lang``) and at which
    cell, or (None, None) when it ran through."""
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=cell_timeout_s,
        interrupt_on_timeout=True,
        allow_errors=True,
        error_on_timeout={
            "ename": TIMEOUT_ERROR,
            "evalue": say("cell limit", lang, limit=cell_timeout_s),
            "traceback": [],
        },
        resources={"metadata": {"path": str(workdir)}},
        on_cell_executed=_show_timeout,
    )
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                return say("kernel died", lang, where=_where(cell, index, lang)), index
            if any(o.get("ename") == TIMEOUT_ERROR for o in cell.outputs) and not _answers(
                client, PROBE_S
            ):
                why = say("kernel hung", lang, where=_where(cell, index, lang))
                return why, index
    return None, None


def run_submission(
    kit: NotebookNode,
    submitted: NotebookNode,
    workdir: Path,
    cell_timeout_s: int,
    parameters: dict[str, Any] | None = None,
    lang: str = DEFAULT,
) -> LabRun:
    """:func:`graded_copy` of the submission, executed in ``workdir`` (see :func:`execute`);
    the notes and why it stopped in ``lang``."""
    nb, notes = graded_copy(kit, submitted, parameters, lang)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        stopped, at = execute(nb, workdir, cell_timeout_s, lang)
    except Exception as error:  # noqa: BLE001 — a kernel that would not start, and the like
        stopped = say("not run", lang, error=f"{type(error).__name__}: {error}")[:300]
        at = 0
    cells = {gid: cell_run(c, i) for i, c in enumerate(nb.cells) if (gid := grade_id(c))}
    return LabRun(nb, cells, stopped, at, notes)


def prelude(kit: NotebookNode) -> str:
    """The lab's own import lines (the kit's cells, not the answers): what an answer cell may
    use without importing it."""
    lines = []
    for cell in kit.cells:
        if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        lines += [line for line in cell.source.splitlines() if re.match(r"(import|from) \w", line)]
    return "\n".join(dict.fromkeys(lines))


def hidden_outside(
    grade_id_: str,
    source: str,
    imports: str,
    seed: int,
    timeout_s: int,
    workdir: Path,
    lang: str = DEFAULT,
) -> dict[str, Any]:
    """The hidden test of one answer cell in a fresh ``python -m mllab.exercises.hidden``
    (cwd ``workdir``), as its result dict (``share``, ``reason``, ``groups``, ``section``);
    a process that ran out of time or ended without a result scores 0 with the reason (in
    ``lang``; the process words its own result in the ``MLLAB_LANG`` it inherits)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mllab-hidden-") as private:
        result = Path(private) / "result.json"
        request = {"grade_id": grade_id_, "source": source, "prelude": imports, "seed": seed}
        request["result"] = str(result)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "mllab.exercises.hidden"],
                input=json.dumps(request),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                cwd=workdir,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return _zero(say("hidden limit", lang, limit=timeout_s))
        if done.returncode != 0 or not result.is_file():
            tail = done.stderr.strip().splitlines()[-1:] or [say("no error shown", lang)]
            return _zero(say("hidden exit", lang, code=done.returncode, tail=tail[0][:200]))
        data: dict[str, Any] = json.loads(result.read_text())
        return data


def _zero(reason: str) -> dict[str, Any]:
    return {"share": 0.0, "reason": reason, "groups": [], "section": ""}


def save(nb: NotebookNode, path: Path) -> Path:
    """The executed notebook, kept for the instructor (it holds the hidden tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
