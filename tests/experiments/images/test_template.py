"""The ablation's Dockerfiles: one template, and two variants differ only where a principle
does (claim C3's control: the same dependencies, app and model in every variant)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from mllab.containers.dockerfiles import instructions
from mllab.experiments.images.template import FULL_BASE_PACKAGES, VARIANTS, Variant, dockerfile


def _instructions(variant: Variant, tmp_path: Path) -> list[str]:
    path = tmp_path / f"Dockerfile.{variant.slug}"
    path.write_text(dockerfile(variant))
    return instructions(path)


def test_eight_variants_none_first_all_three_last():
    assert len(VARIANTS) == len({v.slug for v in VARIANTS}) == 8
    assert VARIANTS[0].name == "none" and VARIANTS[-1].name == "all three"
    assert [v.name for v in VARIANTS[1:4]] == [
        "multi-stage alone",
        "slim base alone",
        "cache clean-up alone",
    ]


def test_the_base_is_an_argument_so_the_slim_base_changes_no_line(tmp_path):
    full, slim = Variant(False, False, False), Variant(False, True, False)
    assert _instructions(full, tmp_path) == _instructions(slim, tmp_path)


def test_cache_clean_up_adds_only_the_lectures_rm_to_each_pip_install(tmp_path):
    kept = _instructions(Variant(False, True, False), tmp_path)
    clean = _instructions(Variant(False, True, True), tmp_path)
    assert len(kept) == len(clean)
    changed = [(a, b) for a, b in zip(kept, clean, strict=True) if a != b]
    assert len(changed) == 2  # the dependencies' install and the app's
    assert all(b == a + " && rm -rf /root/.cache/pip" for a, b in changed)


def test_multi_stage_adds_only_a_second_stage_that_copies_the_venv(tmp_path):
    single = _instructions(Variant(False, True, True), tmp_path)
    multi = _instructions(Variant(True, True, True), tmp_path)
    assert multi[1] == single[1] + " AS builder"
    # the single stage's FROM is the runtime stage's now; the builder's FROM and the copy are new
    added = Counter(multi) - Counter(single)
    assert added == Counter(
        ["FROM ${BASE_IMAGE} AS builder", "COPY --from=builder /opt/venv /opt/venv"]
    )
    assert (
        multi.index("COPY --from=builder /opt/venv /opt/venv")
        == multi.index("FROM ${BASE_IMAGE}") + 1
    )


def test_every_variant_installs_the_same_lock_app_and_model(tmp_path):
    for variant in VARIANTS:
        text = " ".join(_instructions(variant, tmp_path))
        assert "--require-hashes -r /build/requirements.lock" in text
        assert "/build/dist/mllab-*.whl" in text and "COPY model.onnx" in text


def test_the_full_base_stand_in_names_what_it_adds():
    assert {"build-essential", "python3-dev", "git"} <= set(FULL_BASE_PACKAGES)
