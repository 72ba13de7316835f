"""Lab 01: do ONNX Runtime's optimisation levels order as "fewer nodes, less time"?

The lecture (and lab 01's text) expects each level to be at least as fast as the one below it:
``disable`` ≥ ``basic`` ≥ ``all`` in time. Two levels differ when their medians are further
apart than their spreads together (each level's p90 − median over the same interleaved rounds);
closer than that they are the same in this run. The reading says which case the run is in —
ordered as the lecture says, against it (a more optimised level slower beyond the spread), or no
measurable difference — and, when :class:`~mllab.model.graph.GraphFusion` is given, sets the
share of nodes ``all`` removed beside the share of time it saved.
"""

from __future__ import annotations

from mllab.model.graph import GraphFusion, LevelRow, OptimizationLevels
from mllab.report.interpret.text import Reading, pct

#: ONNX Runtime's levels from least to most optimised (the lab times a subset of them)
ORDER = ("disable", "basic", "extended", "layout", "all")


def spread_ms(row: LevelRow) -> float:
    """A level's spread in this run: p90 − median of its timed rounds."""
    return max(row.p90_ms - row.median_ms, 0.0)


def differ(a: LevelRow, b: LevelRow) -> bool:
    """Medians further apart than the two spreads together: different, not noise."""
    return abs(a.median_ms - b.median_ms) > spread_ms(a) + spread_ms(b)


def _ordered(levels: OptimizationLevels) -> list[LevelRow]:
    known = [row for row in levels.rows if row.opt_level in ORDER]
    return sorted(known, key=lambda row: ORDER.index(row.opt_level))


def _reversed_pairs(rows: list[LevelRow]) -> list[tuple[LevelRow, LevelRow]]:
    """(less, more optimised) pairs where the more optimised level is slower beyond spread."""
    return [
        (low, high)
        for i, low in enumerate(rows)
        for high in rows[i + 1 :]
        if high.median_ms > low.median_ms and differ(low, high)
    ]


def read_levels(levels: OptimizationLevels, fusion: GraphFusion | None = None) -> Reading:
    """The reading of lab 01's optimisation-level table (``fusion``: the unfolded export's node
    counts before and after ``all``, from ``graph_fusions``)."""
    rows = _ordered(levels)
    if len(rows) < 2:
        reading = Reading("not measured")
        reading.say(
            "Fewer than two optimisation levels were timed: there is no order to read.",
            "Замерено меньше двух уровней оптимизации: читать порядок не из чего.",
        )
        return reading
    first, last = rows[0], rows[-1]
    wide = max(spread_ms(row) for row in rows)
    times = ", ".join(f"{row.opt_level} {row.median_ms:.0f} ms" for row in rows)
    against = _reversed_pairs(rows)
    if against:
        reading = Reading("against the lecture")
    elif last.median_ms < first.median_ms and differ(first, last):
        reading = Reading("as the lecture says")
    else:
        reading = Reading("no difference")
    reading.say(
        f"Median of {levels.repeats} runs per level: {times}; the widest spread "
        f"(p90 − median) is {wide:.0f} ms.",
        f"Медиана {levels.repeats} запусков на уровень: {times.replace(' ms', ' мс')}; "
        f"наибольший разброс (p90 − медиана) — {wide:.0f} мс.",
    )
    if reading.case == "against the lecture":
        low, high = max(against, key=lambda p: p[1].median_ms - p[0].median_ms)
        extra = high.median_ms - low.median_ms
        reading.say(
            f"Not as the lecture says: `{high.opt_level}` is {extra:.0f} ms "
            f"({pct(high.median_ms / low.median_ms)}) slower than `{low.opt_level}`, beyond "
            f"this run's spread ({spread_ms(low) + spread_ms(high):.0f} ms for the two).",
            f"Не так, как в лекции: `{high.opt_level}` на {extra:.0f} мс "
            f"({pct(high.median_ms / low.median_ms)}) медленнее `{low.opt_level}`, больше "
            f"разброса этого запуска ({spread_ms(low) + spread_ms(high):.0f} мс на двоих).",
        )
    elif reading.case == "as the lecture says":
        saved = first.median_ms - last.median_ms
        reading.say(
            f"Ordered as the lecture says: `{last.opt_level}` is {saved:.0f} ms "
            f"({pct(last.median_ms / first.median_ms)}) faster than `{first.opt_level}`, beyond "
            "this run's spread.",
            f"Порядок как в лекции: `{last.opt_level}` на {saved:.0f} мс "
            f"({pct(last.median_ms / first.median_ms)}) быстрее `{first.opt_level}`, больше "
            "разброса этого запуска.",
        )
        same = [(a, b) for a, b in zip(rows, rows[1:], strict=False) if not differ(a, b)]
        for a, b in same:
            reading.say(
                f"`{a.opt_level}` and `{b.opt_level}` are the same within the spread.",
                f"`{a.opt_level}` и `{b.opt_level}` совпадают в пределах разброса.",
            )
    else:
        reading.say(
            "No level is faster than `disable` beyond this run's spread: the optimiser bought "
            f"no measurable time here; more REPEATS than {levels.repeats} narrow the spread.",
            "Ни один уровень не быстрее `disable` больше чем на разброс этого запуска: "
            f"измеримого выигрыша оптимизатор здесь не дал; больше REPEATS, чем "
            f"{levels.repeats}, сузят разброс.",
        )
    if fusion is not None and fusion.nodes_before > 0:
        _nodes_are_not_time(reading, fusion, first, last)
    if reading.case == "against the lecture":
        reading.say(
            "A fused graph is not cheaper by rule: each level changes which kernels run "
            "(`basic` folds BatchNormalization into the convolutions, `all` also moves them to "
            "this CPU's NCHWc layout), and only a timing says which kernels are faster here. "
            "Rerun with more REPEATS to see whether the order repeats or was this shared "
            "machine's load.",
            "Слитый граф не дешевле по определению: каждый уровень меняет набор ядер "
            "(`basic` вливает BatchNormalization в свёртки, `all` ещё и переводит их в "
            "раскладку NCHWc этого CPU), и только замер показывает, какие ядра здесь "
            "быстрее. Повторите с бо́льшим REPEATS: повторится ли порядок или это была "
            "нагрузка общей машины.",
        )
    return reading


def _nodes_are_not_time(
    reading: Reading, fusion: GraphFusion, first: LevelRow, last: LevelRow
) -> None:
    """The share of nodes ``all`` removed beside the share of time it changed."""
    removed = 1.0 - fusion.nodes_after / fusion.nodes_before
    time = pct(last.median_ms / first.median_ms)
    convs = fusion.before.get("Conv", 0)
    reading.say(
        f"`all` turned {fusion.nodes_before} nodes into {fusion.nodes_after} "
        f"({100 * removed:.0f} % fewer) while the time changed by {time}: the time of ResNet-50 is "
        f"in the arithmetic of its {convs} convolutions, which removing the small nodes around "
        "them does not reduce.",
        f"`all` превратил {fusion.nodes_before} узлов в {fusion.nodes_after} "
        f"(на {100 * removed:.0f} % меньше), а время изменилось на {time}: время ResNet-50 "
        f"уходит на арифметику её {convs} свёрток, которую удаление мелких узлов вокруг них не "
        "уменьшает.",
    )
