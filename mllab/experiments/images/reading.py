"""Reading a :class:`~.ablation.SizeAblation`: its table, and which principle bought how much.

Every sentence here is computed from the record: which variants were built decides the
reference ("none" when the full base was built, else "slim base alone") and which principles
were measured; a difference under the record's ``same_mb`` reads "nothing measurable".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mllab.experiments.images.ablation import SizeAblation, VariantSize

PRINCIPLES = ("multi_stage", "slim_base", "clean_cache")
NAMES = {"multi_stage": "multi-stage", "slim_base": "slim base", "clean_cache": "cache clean-up"}


@dataclass(frozen=True)
class Flags:
    """A variant's principles as a key: multi-stage, slim base, cache clean-up."""

    multi_stage: bool
    slim_base: bool
    clean_cache: bool

    def with_(self, principle: str, on: bool = True) -> Flags:
        values = {p: getattr(self, p) for p in PRINCIPLES}
        return Flags(**{**values, principle: on})


def _flags(row: VariantSize) -> Flags:
    return Flags(row.multi_stage, row.slim_base, row.clean_cache)


def _sizes(ablation: SizeAblation) -> dict[Flags, float]:
    """The built variants' sizes by their principles."""
    return {_flags(r): r.size_mb for r in ablation.variants if r.size_mb is not None}


def reference(ablation: SizeAblation) -> tuple[str, Flags] | None:
    """What the gains are measured against: "none" when it was built, else "slim base alone"
    (two of three principles measured); None when neither was built."""
    sizes = _sizes(ablation)
    for name, flags in (
        ("none", Flags(False, False, False)),
        ("slim base alone", Flags(False, True, False)),
    ):
        if flags in sizes:
            return name, flags
    return None


def measured_principles(ablation: SizeAblation) -> list[str]:
    """The principles whose effect the built variants show (each alone on the reference)."""
    ref = reference(ablation)
    if ref is None:
        return []
    sizes = _sizes(ablation)
    return [p for p in PRINCIPLES if not getattr(ref[1], p) and ref[1].with_(p) in sizes]


def _x(before: float, after: float) -> str:
    return f"{before / after:.2f}×"


def table(ablation: SizeAblation) -> list[dict[str, Any]]:
    """The built variants, "none" first: stages, base, pip's cache, MB and × smaller than the
    reference. Variants that were not built are left to :func:`not_built` (one line)."""
    ref = reference(ablation)
    ref_mb = _sizes(ablation).get(ref[1]) if ref else None
    column = f"x_vs_{ref[0].replace(' ', '_')}" if ref else "x"
    rows = []
    for r in ablation.variants:
        if r.size_mb is None:
            continue
        rows.append(
            {
                "variant": r.variant,
                "stages": 2 if r.multi_stage else 1,
                "base": "slim" if r.slim_base else "full*",
                "pip_cache": "removed" if r.clean_cache else "kept",
                "size_mb": round(r.size_mb, 1),
                column: round(ref_mb / r.size_mb, 2) if ref_mb else None,
            }
        )
    return rows


def not_built(ablation: SizeAblation) -> list[str]:
    """One line per reason that variants were not built: how many, and why."""
    reasons: dict[str, list[str]] = {}
    for r in ablation.variants:
        if r.size_mb is None:
            why = r.build.reason if r.build.status == "not run" else str(r.build)
            reasons.setdefault(why, []).append(r.variant)
    return [f"not built ({', '.join(names)}): {why}" for why, names in reasons.items()]


def diet_line(ablation: SizeAblation) -> str:
    """The dependency diet, in its own line: the naive research image against ONNX Runtime
    alone under the same principles, or why it was not measured."""
    diet = ablation.diet
    if diet is None or diet.lean_mb is None:
        return "dependency diet: not measured (no 'slim base alone' variant)"
    if diet.naive_mb is None:
        state = "not built" if diet.naive.status == "not run" else diet.naive.status
        return f"dependency diet: {state}: {diet.naive.reason}"
    return (
        f"dependency diet (one stage, slim base, downloads kept in both): torch/CUDA/JupyterLab "
        f"{diet.naive_mb:,.0f} MB vs ONNX Runtime alone {diet.lean_mb:,.0f} MB = "
        f"{_x(diet.naive_mb, diet.lean_mb)} smaller"
    )


def _gain(before: float, after: float, same: float) -> str:
    saved = before - after
    if abs(saved) < same:
        return f"nothing measurable (< {same:g} MB)"
    verb = "saves" if saved > 0 else "adds"
    return f"{verb} {abs(saved):,.0f} MB ({_x(before, after)})"


def which_principle(ablation: SizeAblation) -> list[str]:
    """Which principle bought how much: each alone on the reference, each added last to the
    others, and whether their gains add up, overlap or compound."""
    ref = reference(ablation)
    measured = measured_principles(ablation)
    if ref is None or not measured:
        return ["not measured: the reference variants were not built"]
    sizes, same = _sizes(ablation), ablation.same_mb
    ref_name, ref_flags = ref
    ref_mb = sizes[ref_flags]
    alone = {p: sizes[ref_flags.with_(p)] for p in measured}
    lines = [
        f"against '{ref_name}' ({ref_mb:,.0f} MB), each alone: "
        + "; ".join(f"{NAMES[p]} {_gain(ref_mb, mb, same)}" for p, mb in alone.items())
    ]
    top = Flags(True, True, True)
    if top not in sizes:
        return [*lines, "all three: not built"]
    together = sizes[top]
    lines.append(
        f"all measured together ('all three', {together:,.0f} MB): {_gain(ref_mb, together, same)}"
    )
    last = [
        f"{NAMES[p]} {_gain(sizes[top.with_(p, False)], together, same)}"
        for p in measured
        if top.with_(p, False) in sizes
    ]
    if last:
        lines.append("added last to the others: " + "; ".join(last))
    summed, joint = sum(ref_mb - mb for mb in alone.values()), ref_mb - together
    if len(measured) > 1:
        if abs(summed - joint) < same:
            how = "add up"
        elif summed > joint:
            how = f"overlap: alone they save {summed:,.0f} MB in all, together {joint:,.0f} MB"
        else:
            how = f"compound: alone they save {summed:,.0f} MB in all, together {joint:,.0f} MB"
        lines.append(f"the gains {how}")
    if not ablation.full_base.ok:
        lines.append(f"slim base: not measured: {ablation.full_base.reason}")
    return lines
