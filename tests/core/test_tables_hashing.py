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


def test_a_wide_table_is_split_into_parts_that_repeat_the_key_column():
    from mllab.core.tables import WIDTH, format_table

    rows = [{"name": f"row{i}", **{f"column {c}": f"{c}-{i}-" + "x" * 20 for c in "abcdef"}}
            for i in range(3)]  # fmt: skip
    whole = format_table(rows, width=None)
    assert max(len(line) for line in whole.splitlines()) > WIDTH  # the case under test
    text = format_table(rows)
    parts = [part.splitlines() for part in text.split("\n\n")]
    assert len(parts) > 1 and max(len(line) for part in parts for line in part) <= WIDTH
    headers = [part[0].split("  ") for part in parts]
    assert all(header[0].strip() == "name" for header in headers)  # the key, in every part
    shown = [h.strip() for header in headers for h in header[1:] if h.strip()]
    assert shown == [f"column {c}" for c in "abcdef"]  # each column once, in order
    for i, row in enumerate(rows):  # each row: its key in every part, each cell once
        lines = [part[2 + i] for part in parts]
        assert all(line.startswith(row["name"]) for line in lines)
        cells = " ".join(lines)
        assert all(cells.count(value) == 1 for key, value in row.items() if key != "name")


def test_a_narrow_table_is_one_table_as_before():
    from mllab.core.tables import format_table

    rows = [{"name": "slim", "ms": 12.5, "ok": True}, {"name": "naive", "ms": 1000.0}]
    text = format_table(rows)
    assert text == format_table(rows, width=None) and "\n\n" not in text
    assert text.splitlines() == [
        "name     ms  ok",
        "-----  ----  ---",
        "slim   12.5  yes",
        "naive  1000",
    ]


def test_a_column_too_wide_beside_the_key_gets_a_part_of_its_own():
    from mllab.core.tables import column_parts

    assert column_parts([10, 20, 30], width=100) == [[0, 1, 2]]
    assert column_parts([10, 95, 5, 5], width=100) == [[0, 1], [0, 2, 3]]
    assert column_parts([10, 50, 50, 20], width=70) == [[0, 1], [0, 2], [0, 3]]
    assert column_parts([10, 50, 50], width=None) == [[0, 1, 2]]


def test_hanging_wraps_a_labelled_line_under_its_text():
    from mllab.core.tables import hanging

    words = "holds: the first write to the large lower file --cpus 1 costs " * 6
    text = hanging("  verdict:  ", words.strip(), width=60)
    lines = text.splitlines()
    assert len(lines) > 1 and max(map(len, lines)) <= 60
    assert lines[0].startswith("  verdict:  holds:")
    assert all(line.startswith(" " * 12) and line[12] != " " for line in lines[1:])
    assert " ".join(line.strip() for line in lines) == "verdict:  " + words.strip()
    assert "--cpus" in text.split()  # never broken at a hyphen
    assert hanging("  verdict:  ", "holds: short") == "  verdict:  holds: short"
    digest = "sha256:" + "a" * 120  # a word longer than a line stays whole
    assert digest in hanging("x: ", f"pushed {digest} twice", width=40).splitlines()[1]
    assert hanging("a: ", "one\ntwo", width=None) == "a: one\n   two"


def test_hanging_keeps_a_figure_with_its_unit():
    from mllab.core.tables import hanging

    text = hanging("v: ", "host p50 46.5 ms vs bridge 1410 MB/s and 5 containers", width=16)
    lines = [line.strip() for line in text.splitlines()]
    # without the glue, "v: host p50 46.5" fills the first 16 characters and "ms" starts a line
    assert not any(line.startswith(("ms", "MB/s")) for line in lines)
    assert any("46.5 ms" in line for line in lines) and "\ue000" not in text


def test_fold_wraps_each_long_line_under_its_own_indent():
    from mllab.core.tables import fold

    text = fold("short\n  " + "word " * 30 + "\n" + "x" * 80, width=40)
    lines = text.splitlines()
    assert lines[0] == "short" and lines[-1] == "x" * 80  # a narrow line and one word stay whole
    body = lines[1:-1]
    assert len(body) > 2 and all(len(line) <= 40 for line in body)
    assert body[0].startswith("  word") and all(line.startswith("    word") for line in body[1:])
    assert " ".join(text.split()) == " ".join(f"short {'word ' * 30}{'x' * 80}".split())


def test_labelled_reads_a_mapping_and_a_list_not_their_repr():
    from mllab.core.tables import labelled

    assert labelled("IDs:", {"first": "sha256:ed4e", "n": 2.0}) == "IDs: first sha256:ed4e, n 2"
    assert labelled("columns:", ["CPU %", "PIDS"]) == "columns: CPU %, PIDS"
    assert labelled("GPU:", []) == "GPU: none"
    wrapped = labelled("keys:", [f"key{i}" for i in range(30)], width=40).splitlines()
    assert len(wrapped) > 1 and all(line.startswith("      key") for line in wrapped[1:])
    assert labelled("only here:", ["a", "b", "c"], shown=2) == "only here: a, b … and 1 more"
    alone = labelled("", "word " * 30, width=40).splitlines()
    assert alone[0].startswith("word") and all(line.startswith("  word") for line in alone[1:])
