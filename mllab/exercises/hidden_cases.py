"""The hidden cases of the exercises whose answers are plain functions (labs 00, 01, 03, 04,
05, 07, 08; those of labs 01, 03, 04 and 08 are drawn in ``mllab.exercises.labNN``);
those judged by a measurement (labs 02, 06, 07) are in :mod:`mllab.exercises.hidden_measured`.

Each exercise draws its cases from a seeded generator (the grader picks the seed, so the cases
differ from the visible self-check's fixed ones and from one grading to the next), in groups
that each check one idea of the lecture and carry a share of the points. The expected answers
come from the kit's reference, called here before the student's function runs; the references
listed in each :class:`Spec` are unavailable while it runs.

Exercises not listed here (they need the lab's state: a model, a server, an image) are graded
by their self-check's own result in the kernel; :data:`SPECS` says which are covered.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from mllab.exercises import lab00, lab01, lab03, lab04, lab05, lab07, lab08
from mllab.exercises.check import show
from mllab.exercises.hidden_measured import specs as measured_specs
from mllab.exercises.hidden_run import Case, Group, Spec
from mllab.experiments.environment import fingerprint as env
from mllab.experiments.resources import lc_fit
from mllab.measure import batching, drift
from mllab.model import artifacts, export

Rng = np.random.Generator


def _equal(what: str) -> Callable[[Any, Any], str | None]:
    def compare(answer: Any, expected: Any) -> str | None:
        if answer == expected and (answer is None) == (expected is None):
            return None
        return f"{what}: expected {show(expected)}, got {show(answer)}"

    return compare


def _pair(answer: Any) -> tuple[float, float]:
    first, second = answer
    return float(first), float(second)


# --- lab 00 -----------------------------------------------------------------------------------


def _version_groups(rng: Rng) -> list[Group]:
    major = int(rng.integers(10, 14))
    low, high = int(rng.integers(2, 9)), int(rng.integers(10, 13))
    two_digit = [
        (f"{major}.{high}", f"{major}.{low}"),
        (f"{major}.{low}", f"{major}.{high}"),
        (f"{major}.{high}", f"{major}.{high + 1}"),
    ]
    minor = int(rng.integers(0, 9))
    majors = [
        (f"{major}.{minor}", f"{major + 1}.0"),
        (f"{major + 1}.0", f"{major}.{minor + 1}"),
        (f"{major}.{minor}", f"{major}.{minor}"),
    ]
    patch = int(rng.integers(1, 9))
    lengths = [
        (f"{major}.{minor}.{patch}", f"{major}.{minor}"),
        (f"{major}.{minor}", f"{major}.{minor}.{patch}"),
        (f"{major}.{minor}.{patch}", f"{major}.{minor + 1}"),
    ]
    compare = _equal("CUDA_container ≤ Driver_host")

    def group(name: str, share: float, pairs: list[tuple[str, str]]) -> Group:
        rule = lab00.reference_cuda_compatible
        cases = [
            Case(f"container CUDA {c} on a driver up to {d}", (c, d), rule(c, d)) for c, d in pairs
        ]
        return Group(name, share, cases, compare)

    return [
        group("versions with a two-digit part (12.10 is newer than 12.9)", 0.4, two_digit),
        group("other majors and equal versions", 0.3, majors),
        group("versions of different lengths (12.4.1)", 0.3, lengths),
    ]


def _tree(rng: Rng, depth: int) -> dict[str, Any]:
    keys = [f"k{i}" for i in rng.permutation(9)[: int(rng.integers(2, 4))]]
    if depth == 0:
        return {k: f"v{int(rng.integers(100))}" for k in keys}
    leaves = {k: f"v{int(rng.integers(100))}" for k in keys[1:]}
    return {keys[0]: _tree(rng, depth - 1), **leaves}


def _leaf(tree: dict[str, Any]) -> list[str]:
    """The path to the deepest first leaf of ``tree``."""
    key = next(iter(tree))
    return [key, *_leaf(tree[key])] if isinstance(tree[key], dict) else [key]


def _set(tree: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        tree = tree[key]
    if value is _DELETE:
        del tree[path[-1]]
    else:
        tree[path[-1]] = value


_DELETE = object()


def _fingerprint_pair(rng: Rng, change: str) -> tuple[dict[str, Any], dict[str, Any]]:
    e1: dict[str, Any] = {"captured_at": "2026-12-01T10:00:00Z", "hostname": "a"}
    e1["os"] = _tree(rng, 2)
    e1["packages"] = _tree(rng, 0)
    e2 = copy.deepcopy(e1)
    if change == "nested":
        _set(e2, ["os", *_leaf(e1["os"])], "changed")
        _set(e2, ["packages", next(iter(e1["packages"]))], "9.9")
    elif change == "one side":
        _set(e2, ["os", *_leaf(e1["os"])], _DELETE)
        e2["packages"]["only-here"] = "1.0"
    else:  # volatile fields only, and one real difference at the top
        e2.update(captured_at="2026-12-02T11:00:00Z", hostname="b", python="3.12")
    return e1, e2


def _same_fields(answer: Any, expected: list[str]) -> str | None:
    if not isinstance(answer, list | tuple | set):
        return f"expected a list of dotted field paths, got {type(answer).__name__}"
    missing, extra = sorted(set(expected) - set(answer)), sorted(set(answer) - set(expected))
    if not missing and not extra:
        return None
    parts = [f"missing {missing[:3]}" if missing else "", f"extra {extra[:3]}" if extra else ""]
    return "the fields that differ: " + "; ".join(p for p in parts if p)


def _diff_groups(rng: Rng) -> list[Group]:
    def group(name: str, share: float, change: str, label: str) -> Group:
        pairs = [_fingerprint_pair(rng, change) for _ in range(2)]
        cases = [Case(label, pair, lab00.reference_differing_fields(*pair)) for pair in pairs]
        return Group(name, share, cases, _same_fields)

    return [
        group("nested fields, at any depth", 0.4, "nested", "fingerprints with nested changes"),
        group("a field on one side only", 0.3, "one side", "a field in one fingerprint only"),
        group(
            "the volatile captured_at and hostname left out",
            0.3,
            "volatile",
            "fingerprints taken at two times on two hosts",
        ),
    ]


# --- lab 05 -----------------------------------------------------------------------------------


def _sweep(rng: Rng, noise: float) -> tuple[list[int], list[float], float, float]:
    a, b = float(rng.uniform(0.5, 30)), float(rng.uniform(0.05, 10))
    batches = sorted(int(2**k) for k in rng.choice(7, size=int(rng.integers(3, 7)), replace=False))
    latency = [(a + b * n) * (1 + noise * float(rng.standard_normal())) for n in batches]
    return batches, [1000.0 * n / max(t, 1e-3) for n, t in zip(batches, latency, strict=True)], a, b


def _fit_close(share_of_mean: float) -> Callable[[Any, Any], str | None]:
    def compare(answer: Any, expected: tuple[float, float, float, float]) -> str | None:
        a_ref, b_ref, mean_ms, mean_n = expected
        if not isinstance(answer, tuple | list) or len(answer) != 2:
            return f"return two numbers (a_ms, b_ms), not {show(answer)}"
        a, b = _pair(answer)
        tolerance = share_of_mean * mean_ms
        ok = abs(a - a_ref) <= tolerance + 1e-9 and abs(b - b_ref) * mean_n <= tolerance + 1e-9
        if ok and math.isfinite(a) and math.isfinite(b):
            return None
        return f"expected a ≈ {a_ref:.4g} ms, b ≈ {b_ref:.4g} ms, got a = {a:.4g}, b = {b:.4g}"

    return compare


def _fit_groups(rng: Rng) -> list[Group]:
    def group(name: str, noise: float, tolerance: float) -> Group:
        cases = []
        for _ in range(3):
            batches, throughput, a, b = _sweep(rng, noise)
            fit = batching.fit_throughput(batches, throughput)
            latency = 1000.0 * np.asarray(batches) / np.asarray(throughput)
            expected = (fit.a_ms, fit.b_ms, float(latency.mean()), float(np.mean(batches)))
            label = f"a sweep at batches {batches} made with a = {a:.3g} ms, b = {b:.3g} ms" + (
                f" and {noise:.0%} noise" if noise else ""
            )
            cases.append(Case(label, (batches, throughput), expected))
        return Group(name, 0.5, cases, _fit_close(tolerance))

    return [
        group("exact sweeps T(n) = 1000·n/(a + b·n)", 0.0, 1e-6),
        group("noisy sweeps (least squares on L(n) = a + b·n)", 0.05, lab05.FIT_TOLERANCE),
    ]


def _contended(rng: Rng) -> tuple[list[int], list[float]]:
    """Batches and p50 latencies (ms) of L(n) = a + b·n + c·n²: latency grows with n and the
    throughput peaks inside the sweep (at n ≈ √(a/c))."""
    a, b = float(rng.uniform(2, 10)), float(rng.uniform(0.5, 2))
    peak = int(2 ** rng.integers(2, 5))
    c = a / peak**2
    batches = [1, 2, 4, 8, 16, 32, 64][: int(math.log2(peak)) + 3]
    return batches, [a + b * n + c * n * n for n in batches]


def _n_star_case(rng: Rng, scenario: str) -> Case:
    batches, p50 = _contended(rng)
    throughput = [1000.0 * n / t for n, t in zip(batches, p50, strict=True)]
    fastest = int(np.argmax(throughput))
    tail = [1.05] * len(batches)
    fit = replace(batching.fit_throughput([1, 2], [1000.0, 1000.0]), a_ms=0.001, b_ms=0.001)
    bound = max(p50) * 2
    if scenario == "p99":
        tail[fastest], bound = 1.8, p50[fastest] * 1.3
    elif scenario == "fit":
        fit = replace(fit, a_ms=0.0, b_ms=1.2 * bound / batches[fastest])
    elif scenario == "none":
        bound = min(p50) * 0.5
    rows = [(n, t, m, m * k) for n, t, m, k in zip(batches, throughput, p50, tail, strict=True)]
    stats = lab05.made_up_stats(rows)
    label = (
        f"a sweep at batches {batches} (fastest: {batches[fastest]}), fitted a = {fit.a_ms:.3g}, "
        f"b = {fit.b_ms:.3g} ms, bound {bound:.3g} ms"
    )
    return Case(label, (stats, fit, bound), batching.best_batch(stats, fit, bound, "p99"))


def _n_star_compare(answer: Any, expected: int | None) -> str | None:
    if answer == expected and (answer is None) == (expected is None):
        return None
    if expected is None:
        return f"no batch meets the bound, so n* is None, not {show(answer)}"
    return f"n* = {expected}, not {show(answer)}"


def _n_star_groups(rng: Rng) -> list[Group]:
    scenarios = {
        "the fastest batch, not the largest": "fastest",
        "p99 within the bound (the median is not enough)": "p99",
        "the fitted latency a + b·n within the bound too": "fit",
        "no batch within the bound: None": "none",
    }
    return [
        Group(name, 0.25, [_n_star_case(rng, key) for _ in range(2)], _n_star_compare)
        for name, key in scenarios.items()
    ]


# --- lab 07 -----------------------------------------------------------------------------------


def _lc_case(rng: Rng, where: str, noise: float) -> Case:
    cpus = sorted(float(c) for c in rng.choice(np.arange(1, 17) / 4, size=6, replace=False))
    c_opt = cpus[-1] if where == "end" else float(rng.uniform(cpus[1], cpus[-2]))
    scale = float(rng.uniform(50, 400))
    latency = [scale / min(c, c_opt) * (1 + noise * float(rng.standard_normal())) for c in cpus]
    fit = lc_fit.fit_lc(cpus, latency)
    label = f"L(c) at c = {cpus} made with c_opt = {c_opt:.3g}, scale = {scale:.4g} ms" + (
        f" and {noise:.0%} noise" if noise else ""
    )
    return Case(label, (cpus, latency), (fit.c_opt, fit.scale_ms, cpus))


def _curve_close(tolerance: float) -> Callable[[Any, Any], str | None]:
    def compare(answer: Any, expected: tuple[float, float, list[float]]) -> str | None:
        c_opt, scale, cpus = expected
        if not isinstance(answer, tuple | list) or len(answer) != 2:
            return f"return two numbers (c_opt, scale_ms), not {show(answer)}"
        got_c, got_s = _pair(answer)
        c = np.asarray(cpus)
        ratio = (got_s / np.minimum(c, got_c)) / (scale / np.minimum(c, c_opt))
        worst = float(np.max(np.abs(ratio - 1)))
        if math.isfinite(worst) and worst <= tolerance:
            return None
        return (
            f"expected c_opt ≈ {c_opt:.3g}, scale ≈ {scale:.4g} ms; yours (c_opt = {got_c:.3g}, "
            f"scale = {got_s:.4g} ms) is up to {worst:.1%} off at the measured c"
        )

    return compare


def _lc_groups(rng: Rng) -> list[Group]:
    def group(name: str, share: float, where: str, noise: float, tolerance: float) -> Group:
        return Group(
            name, share, [_lc_case(rng, where, noise) for _ in range(2)], _curve_close(tolerance)
        )

    return [
        group("exact sweeps L(c) = s/min(c, c_opt)", 0.4, "inside", 0.0, 0.01),
        group("latency still falling at the largest quota", 0.3, "end", 0.0, 0.01),
        group("noisy sweeps (least squares)", 0.3, "inside", 0.03, lab07.CURVE_TOLERANCE),
    ]


def _spec(grade_id: str, function: str, section: str, *references: Any, groups: Any) -> Spec:
    return Spec(grade_id, function, section, tuple(references), groups)


SPECS: dict[str, Spec] = {
    spec.grade_id: spec
    for spec in (
        _spec(
            "ex00_cuda",
            "cuda_compatible",
            lab00.SECTION_CUDA,
            lab00.reference_cuda_compatible,
            groups=_version_groups,
        ),
        _spec(
            "ex00_diff",
            "differing_fields",
            lab00.SECTION_E,
            env.diff,
            lab00.reference_differing_fields,
            groups=_diff_groups,
        ),
        _spec(
            "ex01_fit",
            "fit_t_of_n",
            lab05.SECTION,
            batching.fit_throughput,
            batching.fit_sweep,
            groups=_fit_groups,
        ),
        _spec(
            "ex02_n_star",
            "choose_n_star",
            lab05.SECTION,
            batching.best_batch,
            lab05.reference_n_star,
            groups=_n_star_groups,
        ),
        _spec(
            "ex01_lc_fit",
            "fit_l_of_c",
            lab07.SECTION,
            lc_fit.fit_lc,
            lc_fit.fit_sweep,
            groups=_lc_groups,
        ),
        _spec(
            "ex01_next_version",
            "next_version",
            lab08.SECTION_TAGS,
            lab08.reference_next_version,
            groups=lab08.hidden_version_groups,
        ),
        # labs 01, 04 and 08's second: the case builders live with the exercise
        _spec(
            "ex01_export",
            "export_with_dynamic_batch",
            lab01.SECTION_EXPORT,
            export.export_onnx,
            export._export_with_torch,
            export._export_torchscript,
            artifacts.default_model,
            groups=lab01.hidden_export_groups,
        ),
        _spec(
            "ex01_delta",
            "lecture_delta",
            lab01.SECTION_DELTA,
            drift.compare,
            drift.per_sample_l2,
            groups=lab01.hidden_delta_groups,
        ),
        _spec(
            "ex04_order",
            "cache_friendly_order",
            lab04.SECTION_CACHE,
            lab04.reference_order,
            lab04.lecture_order,
            groups=lab04.hidden_order_groups,
        ),
        _spec(
            "ex04_interface",
            "interface_part",
            lab04.SECTION_INTERFACE,
            lab04.reference_interface,
            groups=lab04.hidden_interface_groups,
        ),
        _spec(
            "ex02_rollout_verdict",
            "rollout_verdict",
            lab08.SECTION_ROLLOUT,
            lab08.reference_rollout_verdict,
            groups=lab08.hidden_verdict_groups,
        ),
    )
}

#: the exercises judged by a measurement (labs 02, 06, 07): :mod:`.hidden_measured`; lab 03's
SPECS.update({spec.grade_id: spec for spec in [*measured_specs(), *lab03.specs()]})


def covered() -> Sequence[str]:
    """The grade ids whose hidden cases are here."""
    return sorted(SPECS)
