"""The package's shape: layers enforced by import-linter (and shown to catch an upward import and
a cycle), no module past about 400 lines, no ``mllab`` import hidden inside a function."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mllab.core.paths import ROOT

PACKAGE = ROOT / "mllab"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 420  # "about 400"
MODULES = sorted(PACKAGE.rglob("*.py"))


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run the contracts of pyproject.toml against the ``mllab`` package found under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(PACKAGE, root / "mllab", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/tables.py", "import mllab.cli.main  # upward\n", "mllab.core is not allowed"),
        (
            "core/hashing.py",
            "import mllab.core.tables  # a cycle\n",
            "No cycles are allowed in mllab.core.",
        ),
    ],
    ids=["upward-import", "cycle"],
)
def test_contracts_catch(package_copy: Path, module: str, line: str, broken: str):
    """The same contracts fail when a lower layer imports a higher one, or two modules of one
    layer import each other (tables already imports outcome, outcome imports errors: hashing
    <-> tables is made into a cycle by also importing hashing from tables)."""
    target = package_copy / "mllab" / module
    original = target.read_text()
    extra = ""
    if "cycle" in line:
        tables = package_copy / "mllab" / "core" / "tables.py"
        extra = tables.read_text()
        tables.write_text("import mllab.core.hashing  # the other half of the cycle\n" + extra)
    target.write_text(line + original)
    try:
        result = lint_imports(package_copy)
    finally:
        target.write_text(original)
        if extra:
            (package_copy / "mllab" / "core" / "tables.py").write_text(extra)
    assert result.returncode != 0, "the contracts did not notice"
    assert broken in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_module_is_short(path: Path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by concern"


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_no_mllab_import_inside_functions(path: Path):
    """The dependency graph reads from the top of each file. A kit module may be imported inside
    a function only when it pulls in a heavy optional dependency (torch, docker, fastapi), with
    a comment on that line or the line above saying so (import-linter still sees it)."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    hidden = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
            if "#" in lines[node.lineno - 1] or above.startswith("#"):
                continue  # deferred on purpose, and the comment says why
            hidden += [f"line {node.lineno}: {n}" for n in names if n.split(".")[0] == "mllab"]
    assert not hidden, f"{path.relative_to(ROOT)} imports mllab inside functions: {hidden}"
