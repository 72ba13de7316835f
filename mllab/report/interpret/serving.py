"""Lab 02: what HTTP costs against the kit's goal, and what dynamic batching did.

**HTTP overhead.** The goal (:data:`mllab.measure.suite.HTTP_OVER_IN_PROCESS_GOAL`) is the
median HTTP / in-process ratio of a binary body or an image at batch 1. The fastest calls'
ratio (``ratio_min``) is what is left when no other process interferes: a median that misses
the goal while the fastest calls meet it is this shared machine's noise, not HTTP. When both
miss, the record splits the extra time: ``server_inference_ms − in_process_ms`` is the model
itself running slower inside the server (client and server share the cores), ``http_ms −
server_inference_ms`` is the HTTP path (serialising, the socket, parsing, the answer); the
larger share is the likely reason.

**Dynamic batching.** Each point is one closed-loop load of ``requests`` requests, so its
throughput T = concurrency / mean latency carries the sampling error of the mean latency. The
record keeps one load per point and p50 and p99, not every latency: the spread of one request
is estimated as (p99 − p50) / 2.326 (a normal tail; a right-skewed latency makes it larger, so
the estimate calls fewer differences real), and the relative standard error of T as that
spread / p50 / √requests. This is the sampling spread of a point's requests: a drift of this
machine's load between the two server runs is not in it (only a repeated sweep would measure
that), so the reading calls it a sampling spread. Batching on and off differ at a concurrency
when their throughputs are further apart than two standard errors of the difference. The mean
rows per ``session.run`` says whether anything was batched at all: about one row means there was
nobody to batch with, and what batching changed is its own cost (the wait for company, the
hand-off to the batcher).
"""

from __future__ import annotations

import math

from mllab.experiments.serving.batching import BatchingPoint, BatchingSweep
from mllab.experiments.serving.http_overhead import BodyOverhead, HttpOverhead
from mllab.measure.suite import HTTP_GOAL_BODIES, HTTP_OVER_IN_PROCESS_GOAL
from mllab.report.interpret.text import Reading, pct

#: p99 − p50 of a normal distribution, in standard deviations
P99_Z = 2.326
#: mean rows per session.run below which nothing was batched (one caller at a time)
ALONE_ROWS = 1.05


def read_overhead(overhead: HttpOverhead, goal: float = HTTP_OVER_IN_PROCESS_GOAL) -> Reading:
    """The reading of lab 02's HTTP / in-process table against the goal ``goal``."""
    rows = [row for row in overhead.bodies if row.body in HTTP_GOAL_BODIES]
    if not rows:
        reading = Reading("not measured")
        reading.say(
            "No image or binary body was timed: the goal cannot be read.",
            "Ни изображение, ни бинарное тело не замерены: цель прочитать не из чего.",
        )
        return reading
    missed = [row for row in rows if row.ratio > goal]
    truly = [row for row in missed if row.ratio_min > goal]
    ratios = ", ".join(f"{row.body} {row.ratio:.2f}×" for row in rows)
    if not missed:
        reading = Reading("goal met")
        reading.say(
            f"HTTP / in-process at batch 1: {ratios}; every one meets the goal ≤ {goal:g}×.",
            f"HTTP / в процессе при батче 1: {ratios}; все укладываются в цель ≤ {goal:g}×.",
        )
        return reading
    worst = max(truly or missed, key=lambda row: row.ratio)
    if not truly:
        reading = Reading("within noise")
        reading.say(
            f"HTTP / in-process at batch 1: {ratios} against the goal ≤ {goal:g}×. The medians "
            f"miss it, but the fastest calls meet it ({worst.body}: {worst.ratio_min:.2f}×): "
            "what the median adds is this shared machine's load, not HTTP.",
            f"HTTP / в процессе при батче 1: {ratios} при цели ≤ {goal:g}×. Медианы в неё не "
            f"укладываются, а самые быстрые вызовы укладываются ({worst.body}: "
            f"{worst.ratio_min:.2f}×): то, что добавляет медиана, — нагрузка общей машины, "
            "а не HTTP.",
        )
        return reading
    reading = Reading("goal missed")
    reading.say(
        f"HTTP / in-process at batch 1: {ratios} against the goal ≤ {goal:g}×; {worst.body} "
        f"misses it even in its fastest calls ({worst.ratio_min:.2f}×).",
        f"HTTP / в процессе при батче 1: {ratios} при цели ≤ {goal:g}×; {worst.body} не "
        f"укладывается даже в самых быстрых вызовах ({worst.ratio_min:.2f}×).",
    )
    _split(reading, worst)
    return reading


def _split(reading: Reading, row: BodyOverhead) -> None:
    """Where the extra time of ``row`` went: the model in the server, or the HTTP path."""
    extra = row.http_ms - row.in_process_ms
    model = row.server_inference_ms - row.in_process_ms
    path = row.http_ms - row.server_inference_ms
    reading.say(
        f"Of its {extra:.1f} ms extra, {model:.1f} ms is the model itself running slower in "
        f"the server ({row.server_inference_ms:.1f} ms against {row.in_process_ms:.1f} ms "
        f"in-process) and {path:.1f} ms is the HTTP path for a "
        f"{row.body_bytes / 1e6:.2f} MB body.",
        f"Из {extra:.1f} мс сверху {model:.1f} мс — сама модель, которая в сервере работает "
        f"медленнее ({row.server_inference_ms:.1f} мс против {row.in_process_ms:.1f} мс в "
        f"процессе), и {path:.1f} мс — путь HTTP для тела {row.body_bytes / 1e6:.2f} МБ.",
    )
    if model > path:
        reading.say(
            "The larger share is the model, not HTTP: the client, the server and their thread "
            "pools share this machine's cores, so the ratio measures their contention.",
            "Бо́льшая доля — модель, а не HTTP: клиент, сервер и их пулы потоков делят ядра "
            "этой машины, и отношение измеряет их конкуренцию.",
        )
    else:
        reading.say(
            "The larger share is the HTTP path itself (serialising, the socket, parsing, the "
            "answer): next to a model this fast it is not small.",
            "Бо́льшая доля — сам путь HTTP (сериализация, сокет, разбор, ответ): рядом с "
            "такой быстрой моделью он не мал.",
        )


def relative_se(point: BatchingPoint) -> float | None:
    """The relative standard error of a point's throughput (see the module's docstring);
    None when the point has no latencies."""
    if point.p50_ms is None or point.p99_ms is None or point.p50_ms <= 0 or point.requests < 1:
        return None
    sd = max(point.p99_ms - point.p50_ms, 0.0) / P99_Z
    return sd / point.p50_ms / math.sqrt(point.requests)


def read_batching(sweep: BatchingSweep) -> Reading:
    """The reading of lab 02's batching sweep: at each concurrency measured both ways, did
    batching raise throughput, lower it, or change nothing beyond the spread. The case is
    ``helped``, ``hurt``, ``mixed`` (both, at different concurrencies), ``within spread`` or
    ``not measured``."""
    off = {p.concurrency: p for p in sweep.of(False)}
    on = {p.concurrency: p for p in sweep.of(True)}
    cases: list[str] = []
    lines = Reading("")
    for c in sorted(set(off) & set(on)):
        case = _point(lines, off[c], on[c], sweep.max_queue_delay_ms)
        if case:
            cases.append(case)
    if not cases:
        case = "not measured"
        lines.say(
            "No concurrency was measured with batching both off and on.",
            "Ни одна конкурентность не замерена с батчированием и без него.",
        )
    elif "helped" in cases and "hurt" in cases:
        case = "mixed"  # it depends on the concurrency: the sentences say where
    elif "helped" in cases:
        case = "helped"
    elif "hurt" in cases:
        case = "hurt"
    else:
        case = "within spread"
    return Reading(case, lines.en, lines.ru)


def _point(reading: Reading, off: BatchingPoint, on: BatchingPoint, delay_ms: float) -> str:
    """One concurrency's sentences; its case (helped, hurt, within spread), "" if unmeasured."""
    se_off, se_on = relative_se(off), relative_se(on)
    if se_off is None or se_on is None or off.throughput <= 0:
        return ""
    ratio = on.throughput / off.throughput
    band = 2 * math.hypot(se_off, se_on)  # relative, of the difference
    c = off.concurrency
    change = (
        f"{off.throughput:.1f} → {on.throughput:.1f} requests/s ({pct(ratio)}, sampling spread "
        f"±{100 * band:.0f} %), p99 {off.p99_ms:.0f} → {on.p99_ms:.0f} ms"
    )
    change_ru = change.replace("requests/s", "запросов/с").replace(" ms", " мс")
    change_ru = change_ru.replace("sampling spread", "выборочный разброс")
    rows = on.mean_batch_rows
    if abs(ratio - 1) <= band:
        case = "within spread"
        reading.say(
            f"Concurrency {c}: batching changed nothing beyond the spread: {change}.",
            f"Конкурентность {c}: батчирование ничего не изменило сверх разброса: {change_ru}.",
        )
    else:
        case = "helped" if ratio > 1 else "hurt"
        verb, verb_ru = ("raised", "подняло") if ratio > 1 else ("lowered", "снизило")
        reading.say(
            f"Concurrency {c}: batching {verb} throughput: {change}.",
            f"Конкурентность {c}: батчирование {verb_ru} throughput: {change_ru}.",
        )
    if rows is not None and rows < ALONE_ROWS and case == "within spread":
        added = 1000.0 * c / on.throughput - 1000.0 * c / off.throughput
        reading.say(
            f"A batch held {rows:.2f} rows on average: there was nobody to batch with, so "
            f"batching could only add its own cost; here that difference ({added:+.1f} ms per "
            "request) is within the sampling spread.",
            f"В батче в среднем {rows:.2f} строки: объединять было не с кем, и батчирование "
            f"могло лишь добавить свою цену; здесь эта разница ({added:+.1f} мс на запрос) — в "
            "пределах выборочного разброса.",
        )
    elif rows is not None and rows < ALONE_ROWS:
        added = 1000.0 * c / on.throughput - 1000.0 * c / off.throughput
        reading.say(
            f"A batch held {rows:.2f} rows on average: there was nobody to batch with, so "
            f"batching could only add its own cost — here {added:+.1f} ms per request, of "
            f"which the wait for company is at most {delay_ms:g} ms and the rest the hand-off "
            "to the batcher on these cores.",
            f"В батче в среднем {rows:.2f} строки: объединять было не с кем, и батчирование "
            f"могло лишь добавить свою цену — здесь {added:+.1f} мс на запрос, из них "
            f"ожидание компании — не больше {delay_ms:g} мс, остальное — передача батчеру "
            "на этих ядрах.",
        )
    elif rows is not None and case != "helped":
        reading.say(
            f"Batches held {rows:.1f} rows on average and still bought no throughput: a batch "
            "of n costs about n single runs when the fixed cost a of a call is small next to "
            "the per-image cost b (lab 05 measures both on this machine).",
            f"В батче в среднем {rows:.1f} строки, и всё же throughput не вырос: батч из n "
            "стоит примерно n одиночных запусков, когда фиксированная цена вызова a мала "
            "рядом с ценой изображения b (лабораторная 05 меряет обе на этой машине).",
        )
    return case
