"""Every lab notebook: well-formed, stored without outputs, tagged parameters, short cells,
typed records, a kernel that exists; and executed end to end through the lab runner with its
default parameters (slow; labs that build images also need Docker)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from mllab.core.paths import LABS
from mllab.report import runner
from mllab.report.claims import CLAIMS

NOTEBOOKS = runner.discover(LABS)
IDS = [nb.name for nb in NOTEBOOKS]
#: labs that build and run images: they need a Docker engine
DOCKER_LABS = {
    "00",
    "03",
    "04",
    "06",
    "07",
    "08",
}  # 00: its container part runs where an engine answers
MAX_CELL_LINES = 16  # "about 15": longer logic belongs in mllab/


def _code_cells(notebook: Path) -> list[tuple[int, str]]:
    nb = nbformat.read(notebook, as_version=4)
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def _python(source: str) -> ast.Module:
    """A cell's source as Python (IPython magics and shell lines blanked out; a cell magic
    such as ``%%writefile Dockerfile`` makes the whole cell something else)."""
    if source.lstrip().startswith("%%"):
        return ast.Module(body=[], type_ignores=[])
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    return ast.parse("\n".join(lines))


def _records_dict_literal(tree: ast.Module) -> bool:
    """Whether a call to ``record(...)`` / ``x.record(...)`` passes a dict literal."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        arguments = [*node.args, *(k.value for k in node.keywords)]
        if name == "record" and any(isinstance(a, ast.Dict | ast.DictComp) for a in arguments):
            return True
    return False


def test_labs_exist_in_order():
    ids = [runner.lab_id(nb) for nb in NOTEBOOKS]
    assert ids[:1] == ["00"]
    assert ids == sorted(set(ids)), "lab numbers must be unique and ordered"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_notebook_is_clean(notebook: Path):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a lab has code"
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell tagged parameters"
    for cell in code:
        assert not cell.outputs and cell.execution_count is None, "outputs stored in git"
    assert nb.metadata["kernelspec"]["name"] == runner.KERNEL


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_notebook_cells_are_short(notebook: Path):
    for index, source in _code_cells(notebook):
        lines = [line for line in source.splitlines() if line.strip()]
        assert len(lines) <= MAX_CELL_LINES, (
            f"cell {index} has {len(lines)} lines: move logic into mllab/"
        )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_notebook_records_dataclasses_not_dicts(notebook: Path):
    for index, source in _code_cells(notebook):
        assert not _records_dict_literal(_python(source)), (
            f"cell {index} records a dict literal: record a dataclass (mllab.core.records)"
        )


def _kit_imports(tree: ast.Module) -> set[str]:
    """The ``mllab`` modules a cell imports (``from mllab.labs import lab01``: mllab.labs.lab01)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "mllab"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mllab":
            base = node.module or ""
            found |= {f"{base}.{a.name}" if base == "mllab.labs" else base for a in node.names}
    return found


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_a_lab_imports_only_its_facade(notebook: Path):
    """Issue 17: one kit import per lab (its facade, ``from mllab.labs import labNN``), in every
    cell, the exercises' solutions and hidden tests included."""
    imported: set[str] = set()
    for _, source in _code_cells(notebook):
        imported |= _kit_imports(_python(source))
    assert imported == {f"mllab.labs.lab{runner.lab_id(notebook)}"}


def test_the_facade_check_sees_every_spelling():
    cell = "import mllab.core\nfrom mllab.labs import lab01\nfrom mllab.model import export"
    assert _kit_imports(_python(cell)) == {"mllab.core", "mllab.labs.lab01", "mllab.model"}
    assert _kit_imports(_python("import numpy as np\nfrom torch import nn")) == set()


def test_the_dict_literal_check_sees_both_spellings():
    assert _records_dict_literal(_python("results.record('02', {'a': 1})"))
    assert _records_dict_literal(_python("%time x = 1\nrecord('02', {k: 1 for k in 'ab'})"))
    assert not _records_dict_literal(_python("record('02', fit, profile)"))
    assert not _records_dict_literal(_python("%%writefile Dockerfile\nARG BASE=slim"))


def test_kernel_exists():
    assert runner.KERNEL in KernelSpecManager().find_kernel_specs(), (
        "the 'mllab' kernel is missing: python -m ipykernel install --sys-prefix --name mllab"
    )


def _lab_run_param(notebook: Path):
    marks = [pytest.mark.slow]
    if runner.lab_id(notebook) in DOCKER_LABS:
        marks.append(pytest.mark.docker)
    return pytest.param(notebook, marks=marks, id=notebook.name)


@pytest.mark.parametrize("notebook", [_lab_run_param(nb) for nb in NOTEBOOKS])
def test_lab_runs(notebook: Path, executed_lab):
    """The lab's one execution of this session (tests of its experiments may have asked first)."""
    lab = executed_lab(runner.lab_id(notebook))
    assert lab.status == "passed", lab.failure
    report = json.loads((lab.out / "summary.json").read_text())
    assert report["results"][0]["status"] == "passed"
    assert (lab.out / notebook.name).exists() and (lab.out / "report.html").exists()
    assert lab.lab in report["recorded"] and lab.records, "the lab records what it measured"
    assert (lab.out / "results" / f"{lab.lab}.json").exists()
    assert len(report["claims"]) == len(CLAIMS)
    wide = wide_output_lines(lab.out / notebook.name)
    assert not wide, (
        f"lab {lab.lab} prints lines over {MAX_OUTPUT_WIDTH} characters:\n" + "\n".join(wide)
    )


#: characters of one printed line of an executed lab (issue 18: no output walls): the kit wraps
#: at ``mllab.core.tables.WIDTH`` (100); this leaves room for a table whose single cell is wide
MAX_OUTPUT_WIDTH = 120
#: a wider line is allowed when it is one unbreakable word (a URL, a path, a digest) after at
#: most this many characters of label and indentation: wrapping cannot make it narrower
MAX_LABEL = 30
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def wide_output_lines(executed: Path, limit: int = MAX_OUTPUT_WIDTH) -> list[str]:
    """Every output line (stream text and ``text/plain``) of the executed notebook ``executed``
    wider than ``limit`` characters, but for a label and one unbreakable word, as
    ``cell N, W characters: <start of the line>``."""
    found = []
    for index, cell in enumerate(nbformat.read(executed, as_version=4).cells):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            for line in _ANSI.sub("", "".join(text)).splitlines():
                longest = max((len(word) for word in line.split()), default=0)
                if len(line) > limit and len(line) - longest > MAX_LABEL:
                    found.append(f"cell {index}, {len(line)} characters: {line[:80]}…")
    return found


def test_the_width_check_fails_a_wall_and_passes_a_digest(tmp_path: Path):
    label = "resnet50-dynamo.onnx: "
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(x)"), nbformat.v4.new_code_cell("x")]
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text=f"ok\n{'word ' * 40}\n")]
    nb.cells[1].outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": label + "f" * 128}),
    ]
    nbformat.write(nb, tmp_path / "planted.ipynb")
    (wall,) = wide_output_lines(tmp_path / "planted.ipynb")
    assert wall.startswith("cell 0, 200 characters: word word")
    nb.cells[0].outputs = []
    nbformat.write(nb, tmp_path / "planted.ipynb")
    assert wide_output_lines(tmp_path / "planted.ipynb") == []  # the digest cannot wrap


#: a quotation in a lab's text that is Russian: «…» or "…" holding Cyrillic (a lecture heading
#: or a sentence of the lecture, cited)
LECTURE_QUOTE = re.compile(r'[«"]([^«»"\n]*[А-Яа-яЁё][^«»"]*?)[»"]')


def _plain(text: str) -> str:
    """Text compared as a reader would: spacing, case and ё/е ignored, edges' punctuation off."""
    return re.sub(r"\s+", " ", text).lower().replace("ё", "е").strip(" .,:;")


def lecture_quotes(notebook: Path) -> list[str]:
    """Every Russian quotation in the lab's markdown and code."""
    nb = nbformat.read(notebook, as_version=4)
    return [m.group(1) for c in nb.cells for m in LECTURE_QUOTE.finditer(c.source)]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_every_lecture_heading_or_quote_a_lab_cites_is_in_the_lecture(notebook, lecture_text):
    """Issue 18: a lab never cites a section the lecture does not have."""
    lecture = _plain(lecture_text())
    missing = [q for q in lecture_quotes(notebook) if _plain(q) not in lecture]
    assert not missing, f"not in the lecture (../shared/lecture): {missing}"


def test_the_quote_check_sees_a_heading_that_is_not_there(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell('See *«Dockerfile и тестирование»* and "CMD".'))
    nbformat.write(nb, tmp_path / "99_x.ipynb")
    assert lecture_quotes(tmp_path / "99_x.ipynb") == ["Dockerfile и тестирование"]
    assert (
        _plain("Проверка  воспроизводимости\n  контейнера.")
        == "проверка воспроизводимости контейнера"
    )
