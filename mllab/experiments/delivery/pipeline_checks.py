"""What the pipeline's stages compare, as pure functions of what the stages measured: each
returns the problems it finds in words (empty: the check passed). No Docker, no registry, no
network: :mod:`mllab.experiments.delivery.pipeline` calls them on what
:mod:`mllab.experiments.delivery.pipeline_steps` measured, and decides what a problem fails.

- Test: the model in the image is the model given to the pipeline (:func:`model_problems`: its
  sha256 in the image, as served, as labelled), and the image computes what the host computes
  (:func:`parity_problems`: model_version served, Δ container vs host ≤ 1e-3, top-1 on every
  sample image);
- Push: the registry's copy of the image names the build's commit and model
  (:func:`label_problems`);
- Deploy: every answer of the deployed service names the build's model
  (:func:`deploy_problems`).
"""

from __future__ import annotations

from typing import Any

from mllab.experiments.delivery.versions import (
    LABEL_MODEL_SHA256,
    LABEL_MODEL_VERSION,
    LABEL_REVISION,
    BuildVersion,
)

#: the lecture's bound on Δ (max over samples of ‖a_i − b_i‖₂) between container and host
DELTA_BUDGET = 1e-3


def model_problems(probe: dict[str, Any], file_sha256: str) -> list[str]:
    """What the Test stage finds wrong with the model the image holds: each sha256 (of the
    file in the image, of the model the server serves, of the image's label) that is not
    ``file_sha256``, the sha256 of the model file given to the pipeline now."""
    shas = {
        "the model file in the image": probe.get("sha256_in_image"),
        "the model the server serves": probe.get("sha256_served"),
        f"the image's label {LABEL_MODEL_SHA256}": probe.get("sha256_label"),
    }
    return [
        f"sha256 of {what} is {short_hash(sha)}, not {short_hash(file_sha256)} (the model file "
        "given to the pipeline): the image does not hold that model"
        for what, sha in shas.items()
        if sha != file_sha256
    ]


def parity_problems(
    probe: dict[str, Any], version: BuildVersion, budget: float = DELTA_BUDGET
) -> list[str]:
    """What the Test stage finds wrong with what the image computes: the model_version the
    server answers, Δ container vs host over ``budget``, top-1 disagreement on a sample."""
    problems = []
    if probe.get("model_version_served") != version.model_version:
        problems.append(
            f"the server answers model_version {probe.get('model_version_served')!r}, not "
            f"{version.model_version!r}"
        )
    if probe.get("parity") != "ran" or probe.get("delta_l2") is None:
        problems.append(f"Δ container vs host was not measured: {probe.get('parity')}")
        return problems
    if not probe["delta_l2"] <= budget:
        problems.append(f"Δ container vs host = {probe['delta_l2']:.3g} > the budget {budget:g}")
    if probe.get("top1_agreement") != 1.0:
        problems.append(
            f"top-1 agrees on {probe.get('top1_agreement', 0):.0%} of the {probe.get('n')} "
            "sample images, not all"
        )
    return problems


def probe_problems(
    probe: dict[str, Any], file_sha256: str, version: BuildVersion, budget: float = DELTA_BUDGET
) -> list[str]:
    """Every problem the Test stage finds in a probe of the image (empty: it passed): the
    model's (:func:`model_problems`) first, then the computation's (:func:`parity_problems`)."""
    return [*model_problems(probe, file_sha256), *parity_problems(probe, version, budget)]


def label_problems(labels: dict[str, str], version: BuildVersion) -> list[str]:
    """What the pushed image's labels (read back from the registry) get wrong about
    ``version`` (empty: they name the same commit, model and model_version)."""
    wanted = {
        LABEL_REVISION: version.git_commit,
        LABEL_MODEL_SHA256: version.model_sha256,
        LABEL_MODEL_VERSION: version.model_version,
    }
    return [
        f"the registry's image has {key}={labels.get(key)!r}, not {value!r}"
        for key, value in wanted.items()
        if labels.get(key) != value
    ]


def deploy_problems(answers: list[dict[str, Any]], version: BuildVersion) -> list[str]:
    """What the deployed service's answers get wrong (empty: every answer names the build's
    model sha256 and model_version)."""
    shas = sorted({str(a.get("sha256")) for a in answers})
    versions = sorted({str(a.get("model_version")) for a in answers})
    problems = []
    if shas != [version.model_sha256]:
        problems.append(
            f"sha256(deploy) = {', '.join(map(short_hash, shas))} ≠ sha256(build) = "
            f"{short_hash(version.model_sha256)}: the deployed service does not serve the "
            "built model"
        )
    if versions != [version.model_version]:
        problems.append(
            f"the deployed service answers model_version {', '.join(versions)}, not "
            f"{version.model_version}"
        )
    return problems


def short_hash(sha: str | None) -> str:
    """``9de2b0e88f41…`` / ``sha256:d90a2b7c1e0f…``: enough of a hash to tell two apart."""
    if not sha:
        return repr(sha)
    prefix = "sha256:" if sha.startswith("sha256:") else ""
    return f"{prefix}{sha.removeprefix(prefix)[:12]}…"
