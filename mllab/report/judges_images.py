"""The judge of the claim about image size (C3), read from lab 04's ablation.

Like the other judges (:mod:`mllab.report.judges_figures`), it reads exact record fields and
gives a :class:`~mllab.report.verdict.Judgement`; a missing record or a build that did not run
raises :class:`~mllab.report.verdict.NotMeasured`. Its docstring gives the falsifiable design:
"Fails when", "Control" and "No difference".
"""

from __future__ import annotations

from typing import Any

from mllab.core.records import Results
from mllab.experiments.images.ablation import SizeAblation
from mllab.report.verdict import Evidence, Judgement, NotMeasured, Verdict, evidence, outcome_text

SIZE_RATIO = (2.0, 3.0)  # "в 2–3 раза" (C3): a range, unrounded: 1.96× and 3.04× are outside


def judge_c3(results: Results) -> Judgement:
    """04 ``SizeAblation``: outcome, variants (variant, multi_stage, slim_base, clean_cache,
    build, size_mb), full_base (an Outcome) and full_base_label, same_mb, diet (naive,
    naive_mb, lean_mb).

    The lecture: multi-stage builds, removing temporary files and a slim base make the final
    image "в 2–3 раза" smaller (line 505). That is a range, not a floor: the ratio r of "none"
    (one stage, the full base, pip's cache kept) to "all three" holds within 2 ≤ r ≤ 3; above
    3 the lecture's range does not describe this image either, and the verdict says by how
    much. Without the full base (a stand-in, built only with FULL_BASE) two of three principles
    are measured: r₂ = "slim base alone" / "all three" is a lower bound of r (the full base
    only adds bytes to "none"), so r₂ > 3 does not hold, and otherwise the verdict is "holds in
    part", saying whether r₂ already reaches 2.

    Fails when: r < 2 or r > 3 (or r₂ > 3), a difference under ``same_mb`` included. Control:
    every variant is made from one template on one dependency set (the slim server's lock,
    ONNX Runtime, no torch), with the same app and model, so only the principles differ; the
    dependency diet (the naive torch/CUDA/JupyterLab image against ONNX Runtime alone, under
    the same principles) is shown in its own part of the measured line, never in r. No
    difference: identical builds give identical sizes (no run-to-run spread); sizes closer
    than ``same_mb`` (1 MB) count as the same."""
    r = evidence(results, "04", "SizeAblation", schema=SizeAblation.SCHEMA_VERSION)
    sizes = _sizes(r)
    same = float(r.need("same_mb"))
    together = _size(r, sizes, "all three")
    diet = _diet(r)
    if "none" in sizes:
        return _judge_full(r, sizes, together, same, diet)
    ref = _size(r, sizes, "slim base alone")
    why = outcome_text(r.get("full_base")) or f"'none' {_problem(r, 'none')}"
    why = why.removeprefix("not run: ")
    r2 = ref / together
    measured = (
        f"slim base alone {ref:.0f} MB / all three {together:.0f} MB = {r2:.3g}× (multi-stage "
        f"and cache clean-up only); {diet} {r.source}"
    )
    if r2 > SIZE_RATIO[1]:
        text = f"{r2:.3g}× without the slim base's share already exceeds 2–3×"
        return Judgement(measured, Verdict.does_not_hold(text))
    if ref - together < same:
        reach = f"multi-stage and cache clean-up save nothing measurable (< {same:g} MB)"
    elif r2 >= SIZE_RATIO[0]:
        reach = f"multi-stage and cache clean-up give {r2:.3g}×, within 2–3× already"
    else:
        reach = f"multi-stage and cache clean-up give {r2:.3g}×, below 2× on their own"
    text = f"two of three principles measured: {reach}; the slim base's share was not: {why}"
    return Judgement(measured, Verdict.holds_in_part(text))


def _judge_full(
    r: Evidence, sizes: dict[str, float], together: float, same: float, diet: str
) -> Judgement:
    """C3 with all three principles measured: "none" against "all three"."""
    none = sizes["none"]
    ratio = none / together
    alone = ", ".join(
        f"{name} {none / sizes[name]:.3g}×"
        for name in ("multi-stage alone", "slim base alone", "cache clean-up alone")
        if name in sizes
    )
    measured = (
        f"none {none:.0f} MB / all three {together:.0f} MB = {ratio:.3g}× (each alone: {alone}; "
        f"full base: {r.get('full_base_label')}); {diet} {r.source}"
    )
    if none - together < same:
        text = f"no measurable difference (< {same:g} MB) between none and all three"
        return Judgement(measured, Verdict.does_not_hold(text))
    if ratio < SIZE_RATIO[0]:
        return Judgement(measured, Verdict.does_not_hold(f"only {ratio:.3g}× smaller"))
    if ratio > SIZE_RATIO[1]:
        text = f"{ratio:.3g}× smaller: more than the lecture's 2–3×"
        return Judgement(measured, Verdict.does_not_hold(text))
    text = f"{ratio:.3g}× smaller, within 2–3×, on one dependency set"
    return Judgement(measured, Verdict.holds(text))


def _sizes(r: Evidence) -> dict[str, float]:
    """The built variants' sizes by name."""
    variants: list[dict[str, Any]] = r.get("variants") or []
    return {v["variant"]: float(v["size_mb"]) for v in variants if v.get("size_mb") is not None}


def _size(r: Evidence, sizes: dict[str, float], name: str) -> float:
    """A variant the verdict needs: its size, else "not measured" with its build's outcome."""
    if name in sizes and sizes[name] > 0:
        return sizes[name]
    raise NotMeasured(f"{r.where}: the variant '{name}' {_problem(r, name)}")


def _problem(r: Evidence, name: str) -> str:
    """Why variant ``name`` has no size: its build's outcome ("failed: ...", "not run: ...")."""
    row = next((v for v in r.get("variants") or [] if v.get("variant") == name), None)
    if row is None:
        return "not recorded"
    return outcome_text(row.get("build")) or "has no size"


def _diet(r: Evidence) -> str:
    """The dependency diet in words (its own part, never in the ratio)."""
    diet = r.get("diet") or {}
    naive, lean = diet.get("naive_mb"), diet.get("lean_mb")
    if naive is None or lean is None:
        why = outcome_text(diet.get("naive")) or "no size recorded"
        return f"dependency diet (its own row): {why.replace('not run:', 'not built:', 1)}"
    return (
        f"dependency diet (its own row): torch/CUDA/JupyterLab {naive:.0f} MB vs ONNX Runtime "
        f"alone {lean:.0f} MB = {naive / lean:.3g}×"
    )
