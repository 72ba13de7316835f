"""Lab 01's reading of the optimisation levels: each case from a record built here."""

from __future__ import annotations

from mllab.model.graph import GraphFusion, LevelRow, OptimizationLevels
from mllab.report.interpret.levels import differ, read_levels


def levels(*rows: tuple[str, float, float]) -> OptimizationLevels:
    """An OptimizationLevels of (level, median, p90) rows, 5 repeats."""
    return OptimizationLevels(8, 5, [LevelRow(n, m, p, 0.0, 0.0) for n, m, p in rows])


def fusion(before: int = 230, after: int = 90, convs: int = 53) -> GraphFusion:
    counts = {"Conv": convs, "BatchNormalization": convs}
    return GraphFusion("unfolded.onnx", counts, {}, before, after, convs, 0)


def test_a_more_optimised_level_slower_beyond_the_spread_goes_against_the_lecture() -> None:
    # the run: disable 517 / basic 589 / all 462 ms
    run = levels(("disable", 517, 530), ("basic", 589, 601), ("all", 462, 470))
    reading = read_levels(run, fusion())
    assert reading.case == "against the lecture"
    text = reading.text("en")
    assert "`basic` is 72 ms (+14 %) slower than `disable`" in text
    assert "230 nodes into 90 (61 % fewer)" in text and "−11 %" in text
    assert "53 convolutions" in text and "Rerun" in text
    assert "медленнее `disable`" in reading.text("ru") and "53 свёрток" in reading.text("ru")


def test_the_same_order_within_a_wide_spread_is_no_difference() -> None:
    run = levels(("disable", 517, 600), ("basic", 589, 640), ("all", 462, 560))
    reading = read_levels(run)
    assert reading.case == "no difference"
    assert "bought no measurable time" in reading.text("en")
    assert "Rerun" not in reading.text("en")


def test_faster_levels_beyond_the_spread_are_as_the_lecture_says() -> None:
    run = levels(("disable", 600, 605), ("basic", 540, 545), ("all", 450, 455))
    reading = read_levels(run, fusion())
    assert reading.case == "as the lecture says"
    assert "`all` is 150 ms (−25 %) faster than `disable`" in reading.text("en")
    assert "same within the spread" not in reading.text("en")


def test_a_pair_inside_the_spread_is_named_the_same() -> None:
    run = levels(("disable", 600, 620), ("basic", 590, 610), ("all", 450, 455))
    reading = read_levels(run)
    assert reading.case == "as the lecture says"
    assert "`disable` and `basic` are the same within the spread" in reading.text("en")
    assert "совпадают в пределах разброса" in reading.text("ru")


def test_differ_is_the_two_spreads_together() -> None:
    a, b = LevelRow("disable", 100, 110, 0, 0), LevelRow("all", 85, 90, 0, 0)
    assert not differ(a, b)  # 15 ms apart, spreads 10 + 5
    assert differ(a, LevelRow("all", 84, 88, 0, 0))


def test_one_level_has_no_order_to_read() -> None:
    assert read_levels(levels(("all", 450, 455))).case == "not measured"
