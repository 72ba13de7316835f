"""The lecture's 22 checkable claims, each judged only by what the labs recorded.

``../shared/lecture/CLAIMS.md`` lists them: C1–C13 first; C14–C16 (tags and digests, registry
digests of rebuilds, builds bound to a commit and a model) come from the lecture's sections on
tags, registries and CI/CD that lab 08 measures; C17–C22 (namespaces, copy-on-write, shared layers,
host networking, disjoint resources, base images) from its sections on Docker's own
architecture that lab 03 measures. One judge per claim
(:mod:`mllab.report.judges_figures`, :mod:`mllab.report.judges_images`,
:mod:`mllab.report.judges_behaviour`, :mod:`mllab.report.judges_delivery`,
:mod:`mllab.report.judges_namespaces`, :mod:`mllab.report.judges_overlay`,
:mod:`mllab.report.judges_network`, :mod:`mllab.report.judges_base_images`) reads the exact
typed records of a run (``mllab.core.records.load_all()``) and gives a
:class:`~mllab.report.verdict.Verdict`: ``holds``, ``holds in part`` (a named part of the
claim was not measured or not established here), ``does not hold``, or
``not measured here: <why>`` when a record is missing or its measurement did not run. Each
judge's docstring gives the claim's falsifiable design: "Fails when", "Control" and
"No difference".

In a notebook::

    from mllab.core.records import load_all
    from mllab.report.claims import judge

    print(judge("C7", load_all()))     # the claim, the lecture's figure, measured, verdict
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllab.core.errors import MllabError
from mllab.core.paths import RUNS
from mllab.core.records import Results, load_all
from mllab.core.tables import format_table, hanging
from mllab.report import judges_base_images as base_images
from mllab.report import judges_behaviour as behaviour
from mllab.report import judges_delivery as delivery
from mllab.report import judges_figures as figures
from mllab.report import judges_images as images
from mllab.report import judges_namespaces as namespaces
from mllab.report import judges_network as network
from mllab.report import judges_overlay as overlay
from mllab.report.verdict import Judgement, NotMeasured, Verdict


@dataclass(frozen=True)
class Claim:
    """One row of CLAIMS.md: what the lecture says, its figure, and where (line numbers)."""

    id: str
    claim: str
    lecture: str
    lines: str
    lab: str  # the lab that measures it


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "C1",
        "Different framework/CUDA/cuDNN versions change logits by about 1e-2",
        "≈1e-2",
        "41",
        "06",
    ),
    Claim(
        "C2",
        "Two engineers building the same Dockerfile get identical image hashes",
        "identical hashes",
        "355, 311, 638",
        "06",
    ),
    Claim(
        "C3",
        "Multi-stage builds, slim bases and cache cleanup make the final image 2–3× smaller",
        "2–3× smaller",
        "505",
        "04",
    ),
    Claim(
        "C4",
        "Two environments are equivalent when Δ = ‖f_host1(x) − f_host2(x)‖₂ ≤ 1e-3",
        "Δ ≤ 1e-3",
        "586–588",
        "06",
    ),
    Claim(
        "C5",
        "Container overhead is at most 1–2 % on GPU and 5 % on CPU (η ≈ 0.98 / 0.95)",
        "η_GPU ≈ 0.98, η_CPU ≈ 0.95",
        "946–956",
        "07",
    ),
    Claim(
        "C6",
        "Fixed seeds, ORT_DISABLE_ALL and enable_mem_pattern=False give equal results "
        "across machines to ε = 1e-6",
        "ε = 1e-6",
        "985–998",
        "06",
    ),
    Claim(
        "C7",
        "Throughput follows T(n) = n/(a + bn); pick n* maximising T(n) under a latency bound L(n)",
        "T(n) = n/(a+bn)",
        "911–913",
        "05",
    ),
    Claim(
        "C8",
        "Under a CPU quota, latency grows like 1/min(c, c_opt)",
        "L(c) ∼ 1/min(c, c_opt)",
        "970",
        "07",
    ),
    Claim(
        "C9",
        'GPU inference needs CUDA_container ≤ Driver_host, else "CUDA driver version '
        'is insufficient"',
        "CUDA_container ≤ Driver_host",
        "519",
        "00",
    ),
    Claim(
        "C10",
        "Unchanged Dockerfile instructions reuse the layer cache; pip install reruns "
        "only when requirements.txt changes",
        "cache hit unless inputs change",
        "296–301",
        "06",
    ),
    Claim(
        "C11",
        "Copying the model into the image makes the image hash depend on the model file",
        "hash depends on the model",
        "421–423",
        "06",
    ),
    Claim(
        "C12",
        "The Flask service in the lecture serves predictions on port 8080 with JSON lists as input",
        "serves on :8080",
        "121–150, 1031–1050",
        "02",
    ),
    Claim(
        "C13",
        "`docker stats` shows CPU, memory and GPU memory per container",
        "CPU %, MEM, GPU MEM columns",
        "925–930",
        "06",
    ),
    Claim("C14", "Under a tag there is always one SHA256", "one digest per tag", "646", "08"),
    Claim(
        "C15",
        "The same Dockerfile and files give exactly the same hash (registry digest)",
        "the same digest",
        "654",
        "08",
    ),
    Claim(
        "C16",
        "Each build is bound to a git commit and a model version",
        "model_version = f(git_commit, docker_tag, hash)",
        "719, 792",
        "08",
    ),
    Claim(
        "C17",
        "PID 1 inside the container is not the host's PID 1 (PID namespace); each container "
        "has its own eth0 (NET namespace)",
        "own PID 1, own eth0",
        "211–217",
        "03",
    ),
    Claim(
        "C18",
        "A write creates a copy in the upper (writable) layer: copy-on-write",
        "copy-on-write to the upper layer",
        "259–263",
        "03",
    ),
    Claim(
        "C19",
        "One base layer can be used by dozens of containers without duplication",
        "no duplication",
        "265",
        "03",
    ),
    Claim(
        "C20",
        "The host network gives maximum performance, but no isolation",
        "host: fastest, not isolated",
        "275–277",
        "03",
    ),
    Claim(
        "C21",
        "cgroups and namespaces guarantee disjoint resources: R(Cᵢ) ∩ R(Cⱼ) = ∅ for i ≠ j; "
        "the shared kernel keeps overhead low",
        "R(Cᵢ) ∩ R(Cⱼ) = ∅",
        "333–341",
        "03",
    ),
    Claim(
        "C22",
        "The smaller the base layer, the faster the build, but the more dependencies to install "
        "by hand",
        "smaller base: faster build, more by hand",
        "413",
        "03",
    ),
)


Judge = Callable[[Results], Judgement]

JUDGES: dict[str, Judge] = {
    "C1": figures.judge_c1,
    "C2": behaviour.judge_c2,
    "C3": images.judge_c3,
    "C4": figures.judge_c4,
    "C5": figures.judge_c5,
    "C6": figures.judge_c6,
    "C7": figures.judge_c7,
    "C8": figures.judge_c8,
    "C9": behaviour.judge_c9,
    "C10": behaviour.judge_c10,
    "C11": behaviour.judge_c11,
    "C12": behaviour.judge_c12,
    "C13": behaviour.judge_c13,
    "C14": delivery.judge_c14,
    "C15": delivery.judge_c15,
    "C16": delivery.judge_c16,
    "C17": namespaces.judge_c17,
    "C18": overlay.judge_c18,
    "C19": overlay.judge_c19,
    "C20": network.judge_c20,
    "C21": network.judge_c21,
    "C22": base_images.judge_c22,
}


@dataclass(frozen=True)
class ClaimRow:
    """One judged claim: what the lecture says and its figure, what was measured, the verdict."""

    id: str
    claim: str
    lecture: str
    measured: str
    verdict: Verdict

    def as_dict(self) -> dict[str, str]:
        """JSON-ready: the verdict as its text and its kind."""
        return {
            "id": self.id,
            "claim": self.claim,
            "lecture": self.lecture,
            "measured": self.measured,
            "verdict": str(self.verdict),
            "kind": self.verdict.kind,
        }

    def __str__(self) -> str:
        """The claim as a notebook and ``mllab claims`` print it: one labelled line each,
        wrapped at :data:`~mllab.core.tables.WIDTH` under its text (the words as judged)."""
        return "\n".join(
            [
                hanging(f"{self.id}: ", self.claim),
                hanging("  lecture:  ", self.lecture),
                hanging("  measured: ", self.measured),
                hanging("  verdict:  ", str(self.verdict)),
            ]
        )


def _claim(claim_id: str) -> Claim:
    for claim in CLAIMS:
        if claim.id == claim_id.upper():
            return claim
    raise MllabError(f"no claim {claim_id}; the claims are C1 to C{len(CLAIMS)}")


def judge(claim_id: str, results: Results) -> ClaimRow:
    """Judge one claim (``"C7"``) by the records in ``results`` (``load_all()``)."""
    claim = _claim(claim_id)
    try:
        judgement = JUDGES[claim.id](results)
    except NotMeasured as missing:
        judgement = Judgement(missing.measured, Verdict.not_measured(str(missing)))
    except (KeyError, TypeError, ValueError) as error:  # a field of the wrong type
        why = f"lab {claim.lab}'s record is malformed ({type(error).__name__}: {error})"
        judgement = Judgement("—", Verdict.not_measured(why))
    lecture = f"{claim.lecture} (line {claim.lines})"
    return ClaimRow(claim.id, claim.claim, lecture, judgement.measured, judgement.verdict)


def claims_table(results: Results) -> list[ClaimRow]:
    """All the claims (C1–C22), in order, judged by the records in ``results``: none dropped."""
    return [judge(claim.id, results) for claim in CLAIMS]


def format_claims(rows: list[ClaimRow]) -> str:
    """The table as plain text, one claim per block (the cells are long)."""
    return "\n\n".join(str(row) for row in rows)


def format_verdicts(rows: list[ClaimRow]) -> str:
    """A one-line-per-claim overview: id, the lecture's figure, the verdict's kind."""
    table = [{"id": r.id, "lecture": r.lecture, "verdict": r.verdict.kind} for r in rows]
    return format_table(table)


def results_folder(results: str | Path | None = None) -> Path:
    """The results folder ``mllab claims`` reads: ``results`` (a results folder or a run
    folder holding one), else ``MLLAB_RESULTS``; never an older run picked silently."""
    chosen = results or os.environ.get("MLLAB_RESULTS")
    if not chosen:
        runs = list(RUNS.glob("*/results")) if RUNS.is_dir() else []
        newest = max(runs, key=lambda p: p.stat().st_mtime) if runs else None
        example = newest or RUNS / "<stamp>" / "results"
        raise MllabError(
            f"which run? pass --results DIR or set MLLAB_RESULTS, e.g. --results {example}"
        )
    folder = Path(chosen)
    if not any(folder.glob("*.json")) and (folder / "results").is_dir():
        folder = folder / "results"  # a run folder: its results
    if not folder.is_dir():
        raise MllabError(f"no results folder {folder}")
    return folder


def load_claims(results: str | Path | None = None) -> list[ClaimRow]:
    """The claims table of one results folder (see :func:`results_folder`)."""
    return claims_table(load_all(run=results_folder(results)))


def rows_as_dicts(rows: list[ClaimRow]) -> list[dict[str, Any]]:
    """JSON-ready rows (``summary.json``)."""
    return [row.as_dict() for row in rows]
