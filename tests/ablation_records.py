"""A :class:`SizeAblation` made from variant sizes, as a lab run would record it (shared by
the reading tests and the judge's tests)."""

from __future__ import annotations

from mllab.core.outcome import Outcome
from mllab.experiments.images.ablation import DependencyDiet, SizeAblation, VariantSize
from mllab.experiments.images.template import FULL_BASE_LABEL, VARIANTS

RAN = Outcome.ran()
NO_FULL_BASE = Outcome.not_run("FULL_BASE = False in the parameters")
NO_NAIVE = Outcome.not_run("BUILD_NAIVE = False (the torch/CUDA research image)")


def size_ablation(
    sizes: dict[str, float],
    full_base: Outcome = RAN,
    naive_mb: float | None = None,
) -> SizeAblation:
    """Every variant; those named in ``sizes`` built with that size (MB), the others not run
    (the full-base ones with ``full_base``'s reason)."""
    rows = []
    for v in VARIANTS:
        built = v.name in sizes
        why = full_base if not v.slim_base and not full_base.ok else Outcome.not_run("skipped")
        rows.append(
            VariantSize(
                v.name,
                v.multi_stage,
                v.slim_base,
                v.clean_cache,
                Outcome.ran() if built else why,
                sizes.get(v.name),
                1.0 if built else None,
                f"mllab/ablation:{v.slug}" if built else None,
            )
        )
    naive = Outcome.ran() if naive_mb is not None else NO_NAIVE
    diet = DependencyDiet(naive, naive_mb, sizes.get("slim base alone"))
    return SizeAblation(
        Outcome.ran(),
        rows,
        full_base,
        FULL_BASE_LABEL,
        "mllab/base:bookworm-py311",
        "ab" * 32,
        diet=diet,
        seconds=50.0,
    )


#: the eight sizes of a plausible run: the base 300 MB heavier, pip's cache 50 MB
FULL = {
    "none": 800.0,
    "multi-stage alone": 750.0,
    "slim base alone": 500.0,
    "cache clean-up alone": 750.0,
    "multi-stage + slim base": 450.0,
    "multi-stage + cache clean-up": 750.0,
    "slim base + cache clean-up": 450.5,
    "all three": 450.0,
}
SLIM_ONLY = {
    k: v
    for k, v in FULL.items()
    if k
    in ("slim base alone", "multi-stage + slim base", "slim base + cache clean-up", "all three")
}
