"""mllab.core.tables and mllab.core.hashing: the one formatter and the one sha256."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mllab.core.hashing import sha256_bytes, sha256_file
from mllab.core.tables import format_table


@dataclass
class Row:
    name: str
    ms: float
    ok: bool


def test_table_aligns_numbers_right_text_left_and_formats_cells():
    text = format_table([Row("slim", 12.3456, True), Row("naive-image", 1000.0, False)])
    lines = text.splitlines()
    assert lines[0].split() == ["name", "ms", "ok"] and set(lines[1]) <= {"-", " "}
    assert lines[2].startswith("slim         12.35") and lines[2].endswith("yes")
    assert lines[3].startswith("naive-image   1000") and lines[3].endswith("no")


def test_table_columns_and_missing_cells():
    text = format_table([{"a": 1, "b": None}, {"a": 22}], columns=["b", "a"])
    assert text.splitlines()[0].split() == ["b", "a"]
    assert format_table([]) == "(no rows)"


def test_sha256_of_file_and_bytes(tmp_path):
    data = b"x" * (3 << 20)  # several read chunks
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == expected == sha256_bytes(data)
    assert sha256_bytes(b"y") != expected


def test_few_shows_a_sample_and_counts_the_rest():
    from mllab.core.tables import few

    assert few(["a", "b", "c"], shown=2) == "a, b … and 1 more"
    assert few(["a", "b"], shown=2) == "a, b" and few([]) == ""


def test_a_long_cell_is_cut_and_the_table_stays_narrow():
    from mllab.core.tables import MAX_CELL, format_table

    reason = "not run: " + "x" * 300
    table = format_table([{"name": "ort-cuda", "outcome": reason}])
    assert max(len(line) for line in table.splitlines()) <= len("ort-cuda") + 2 + MAX_CELL
    assert "…" in table and reason not in table
    assert reason in format_table([{"outcome": reason}], max_cell=None)
