"""A judged claim as a notebook prints it: wrapped at the tables' width, its words unchanged."""

from __future__ import annotations

from mllab.core.tables import WIDTH
from mllab.report.claims import ClaimRow, format_claims
from mllab.report.verdict import Verdict

MEASURED = "; ".join(f"round {i}: p50 46.{i} ms (spread 5.{i}, p99 89.{i})" for i in range(9))
VERDICT = Verdict.does_not_hold(
    "performance: no measurable gain here (host p50 46.5 ms vs bridge 46.4 ms: Δ -0.1 ms within "
    "the spread 6.3 ms); isolation: a --network host container sees all 10 host interfaces"
)
ROW = ClaimRow("C20", "The host network gives maximum performance", "fastest", MEASURED, VERDICT)


def test_a_long_claim_wraps_under_its_labels_and_keeps_its_words():
    assert len(f"  measured: {MEASURED}") > WIDTH  # the case under test: one line would be wider
    lines = str(ROW).splitlines()
    assert max(map(len, lines)) <= WIDTH and len(lines) > 4
    labels = [line for line in lines if not line.startswith(" " * 12)]
    assert [line.split(":")[0].strip() for line in labels] == [
        "C20",
        "lecture",
        "measured",
        "verdict",
    ]
    continued = [line for line in lines if line.startswith(" " * 12)]
    assert continued and all(line[12] != " " for line in continued)  # under the text
    # the words as judged: only the line breaks differ
    flat = " ".join(str(ROW).split())
    assert f"measured: {MEASURED}" in flat and f"verdict: {VERDICT}" in flat
    assert "--network" in flat.split()  # no break at a hyphen


def test_mllab_claims_prints_the_same_wrapped_blocks():
    text = format_claims([ROW, ROW])
    assert text == f"{ROW}\n\n{ROW}" and max(map(len, text.splitlines())) <= WIDTH
