"""The judges of lab 03's OverlayFS claims: copy-on-write (C18) and one base layer shared by
many containers (C19), read from :class:`~mllab.experiments.architecture.copy_up.CopyUp` and
:class:`~mllab.experiments.architecture.shared_layers.SharedLayers`.

Like the other judges (:mod:`mllab.report.judges_images`), each reads exact record fields and
gives a :class:`~mllab.report.verdict.Judgement`; a missing record or a measurement that did not
run raises :class:`~mllab.report.verdict.NotMeasured`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mllab.core.records import Results
from mllab.experiments.architecture.copy_up import TARGETS, CopyUp
from mllab.experiments.architecture.shared_layers import SharedLayers
from mllab.report.verdict import Evidence, Judgement, NotMeasured, Verdict, evidence, g

#: C18: the first write to the large lower file against these (each must lie beyond the spread)
NO_COPY = ("lower_big_second", "volume_first", "tmpfs_first")
#: C19: "dozens" of containers, as the verdict extrapolates the measured ones (three dozen)
DOZENS = 36
#: C19: dozens of containers together must add less than this share of one image
SHARE = 0.1


def judge_c18(results: Results) -> Judgement:
    """03 ``CopyUp``: targets (target, first_ms, min_ms, median_ms, max_ms), big_mb, write_kb,
    big_bytes, host (an Outcome), upper_big_bytes, copied_up.

    The lecture: "При записи создаётся копия в верхнем слое (механизм copy-on-write)" (line
    263). If a write copies the file up, the first small write to a large file of a lower layer
    pays for copying the whole file, the second write to it does not, nor does the same write
    to a file of the same size on a volume or on tmpfs (no layers there); and afterwards the
    container's upper directory holds the whole file, not only the bytes written.

    Fails when: the first write's range over the rounds overlaps the second write's, the
    volume's or tmpfs's (no difference beyond the spread), or the upper directory seen from the
    host does not hold the whole file. Control: the first write to a 4 KiB file of the same
    lower layer (a copy-up of almost nothing) must cost less than the large one's, beyond the
    spread, or the extra cost is not shown to be the copy (then: holds in part). No difference:
    two targets differ only when their min–max ranges over the rounds do not overlap."""
    r = evidence(results, "03", "CopyUp", schema=CopyUp.SCHEMA_VERSION)
    timings = _timings(r)
    big = timings["lower_big_first"]
    volume = timings["volume_first"]
    copy_mbps = float(r.need("big_bytes")) / 1e6 / (big["median_ms"] / 1000.0)
    measured = (
        f"1st {r.need('write_kb')} KiB write to the {r.need('big_mb')} MiB lower file "
        f"{_range(big)}; "
        + "; ".join(f"{_short(k)} {_range(timings[k])}" for k in TARGETS if k != "lower_big_first")
        + f" (ms over {len(big['first_ms'])} rounds: median [min–max]); the copy-up moves "
        f"≈{copy_mbps:.0f} MB/s; upper dir after each round: {_upper(r)} {r.source}"
    )
    overlapping = [_short(k) for k in NO_COPY if big["min_ms"] <= timings[k]["max_ms"]]
    if overlapping:
        text = (
            "no difference beyond the rounds' spread between the first write to the large "
            f"lower file and: {', '.join(overlapping)}"
        )
        return Judgement(measured, Verdict.does_not_hold(text))
    if r.get("copied_up") is False:
        text = (
            "the first write is slower, but the upper directory did not hold the whole file "
            f"after it ({_upper(r)} of {r.need('big_bytes')} B)"
        )
        return Judgement(measured, Verdict.does_not_hold(text))
    ratio = (
        f"the first write to the large lower file costs {g(big['median_ms'] / volume['median_ms'])}"
        f"× the same write on a volume and "
        f"{g(big['median_ms'] / timings['lower_big_second']['median_ms'])}× the second write, "
        "beyond the rounds' spread"
    )
    if r.get("copied_up") is not True:
        why = _host_problem(r)
        text = f"{ratio}; the copy in the upper directory was not seen: {why}"
        return Judgement(measured, Verdict.holds_in_part(text))
    small = timings["lower_small_first"]
    if big["min_ms"] <= small["max_ms"]:
        text = (
            f"{ratio}, and the upper directory holds the whole file; but the control fails: the "
            "4 KiB lower file's first write costs as much, so the extra cost is not shown to be "
            "the copy"
        )
        return Judgement(measured, Verdict.holds_in_part(text))
    text = (
        f"{ratio}; the 4 KiB lower file's first write does not (control: "
        f"{g(small['median_ms'])} ms), and the upper directory then holds the whole "
        f"{r.need('big_mb')} MiB file"
    )
    return Judgement(measured, Verdict.holds(text))


def judge_c19(results: Results) -> Judgement:
    """03 ``SharedLayers``: image, image_bytes, n, stand_in, containers (name, df_size,
    size_rw_bytes, layer_disk_bytes), same_lower, image_layer_dirs, host (an Outcome).

    The lecture: "общий базовый слой python:3.10-slim может быть использован десятками
    контейнеров без дублирования" (line 265). Without duplication, each container adds only its
    writable layer (what it wrote, plus the engine's few files), and every container's lower
    directories are the same directories: the image's layers, once on disk.

    Fails when: the containers' image layers are different directories, or what
    :data:`DOZENS` containers would add, at the largest addition measured per container, is
    :data:`SHARE` (a tenth) of one image or more (a container that copied the image would add
    about an image). Control: every container writes the same small file, so what one adds
    beyond it is the engine's own. No difference: sizes are counts of bytes and blocks, not
    timings; the data root's free bytes (moved by any writer on the machine) are shown, never
    judged. Holds in part when the host's disk blocks were not read (the engine's count only)."""
    r = evidence(results, "03", "SharedLayers", schema=SharedLayers.SCHEMA_VERSION)
    containers: list[Mapping[str, Any]] = r.need("containers")
    if not containers:
        raise NotMeasured(f"{r.where} has no containers")
    image = float(r.need("image_bytes"))
    added = [_added(c) for c in containers]
    same = r.need("same_lower")
    total, largest = sum(added), max(added)
    dozens = DOZENS * largest
    shown = ", ".join(str(c.get("df_size")) for c in containers)
    measured = (
        f"{len(containers)} containers of {r.need('image')} ({image / 1e6:.1f} MB): each adds "
        f"≤ {largest} B (docker system df -v SIZE {shown}), "
        f"together {total} B = {100 * total / image:.3g}% of one image; the image's "
        f"{r.need('image_layer_dirs')} layer dir(s) the same for all: {same}; at this rate "
        f"{DOZENS} containers add {dozens / 1e6:.3g} MB; {r.need('stand_in')} {r.source}"
    )
    if not same:
        text = "the containers' image layers are different directories: the image is duplicated"
        return Judgement(measured, Verdict.does_not_hold(text))
    if dozens >= SHARE * image:
        each = " (each adds about an image)" if largest >= 0.5 * image else ""
        text = (
            f"{DOZENS} containers would add {100 * dozens / image:.3g}% of one image, not less "
            f"than {SHARE:.0%}{each}"
        )
        return Judgement(measured, Verdict.does_not_hold(text))
    shared = (
        f"{len(containers)} containers share the image's layer directories and each adds "
        f"{100 * largest / image:.2g}% of it at most; {DOZENS} would add "
        f"{100 * dozens / image:.2g}% (< {SHARE:.0%})"
    )
    if any(c.get("layer_disk_bytes") is None for c in containers):
        why = _host_problem(r)
        text = f"{shared}, by the engine's count; the host's disk blocks were not read: {why}"
        return Judgement(measured, Verdict.holds_in_part(text))
    return Judgement(measured, Verdict.holds(f"{shared}, by the engine's and the host's count"))


def _timings(r: Evidence) -> dict[str, Mapping[str, Any]]:
    """Each target's timing; every target and two rounds at least, else not measured."""
    found = {t["target"]: t for t in r.need("targets")}
    missing = [k for k in TARGETS if k not in found]
    if missing:
        raise NotMeasured(f"{r.where} has no timing of {', '.join(missing)}")
    rounds = min(len(t["first_ms"]) for t in found.values())
    if rounds < 2:
        raise NotMeasured(f"{r.where} has {rounds} round(s): no spread to compare against")
    return found


def _short(key: str) -> str:
    """A target's label without its place in the lower layer spelt out."""
    return TARGETS[key].split(" (")[0]


def _range(t: Mapping[str, Any]) -> str:
    return f"{g(t['median_ms'])} [{g(t['min_ms'])}–{g(t['max_ms'])}]"


def _upper(r: Evidence) -> str:
    sizes = r.get("upper_big_bytes") or []
    return ", ".join("absent" if s is None else f"{s} B" for s in sizes) or "not read"


def _host_problem(r: Evidence) -> str:
    host = r.get("host") or {}
    return str(host.get("reason") or host.get("status") or "no outcome recorded")


def _added(c: Mapping[str, Any]) -> int:
    """What one container adds: the larger of the engine's SizeRw and the host's blocks."""
    return max(int(c["size_rw_bytes"]), int(c.get("layer_disk_bytes") or 0))
