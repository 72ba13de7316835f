"""A lab's closing summary (``labNN.summary()``): each claim the lab judges with its verdict's
kind and figure, the steps that did not run with their reasons, and what was recorded — all
from the run's records, in English or Russian (``MLLAB_LANG``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mllab.core.outcome import Outcome
from mllab.core.records import Results
from mllab.report import claims, lab_summary
from mllab.report.lab_summary import KIND_WORDS, lab_claims, summary_text
from mllab.report.verdict import KINDS, Judgement, Verdict
from mllab.runtime.compat import CudaCompatibility


@dataclass
class Probe:
    """A made-up record of a lab: one step that ran, one that did not, one that failed."""

    ran: Outcome
    gpu: Outcome
    parts: list[Outcome]


def _cuda(observed: Outcome, container: str = "12.4", driver: str | None = "12.8"):
    return CudaCompatibility(container, driver, observed, None)


def test_lab_00_shows_its_claim_verdict_and_figure_from_the_records(results_of):
    results = results_of(("00", _cuda(Outcome.ran())))
    text = summary_text("00", results, lang="en")
    assert "C9   holds — CUDA 12.4 ≤ driver's 12.8, and the session ran" in text
    assert "Every step this lab recorded ran." in text
    assert "Recorded: CudaCompatibility (1 records)." in text
    assert str(results.folder) in text


def test_a_claim_the_run_could_not_measure_says_why(results_of):
    why = "no NVIDIA driver on this machine"
    results = results_of(("00", _cuda(Outcome.not_run(why), driver=None)))
    text = summary_text("00", results, lang="en")
    assert "C9   not measured here — no CUDA session was attempted (not run: " in text
    assert "Not measured in this run, and why:" in text
    assert f"  00:CudaCompatibility.observed:\n      not run: {why}" in text


def test_steps_that_did_not_run_are_grouped_by_reason(results_of):
    gpu = Outcome.not_run("no GPU")
    probe = Probe(Outcome.ran(), gpu, [gpu, Outcome.failed("ImageError: pull refused")])
    text = summary_text("01", results_of(("01", probe)), lang="en")
    assert "This lab judges none of the lecture's claims; its records are below." in text
    assert "  01:Probe.gpu and 2 more like it:\n      not run: no GPU" not in text
    assert "  01:Probe.gpu and 1 more like it:\n      not run: no GPU" in text
    assert "  01:Probe.parts[1]:\n      failed: ImageError: pull refused" in text
    assert "01:Probe.ran" not in text


def test_a_lab_that_recorded_nothing_says_so(tmp_path: Path):
    text = summary_text("08", Results(tmp_path), lang="en")
    assert f"Nothing recorded yet for lab 08 in {tmp_path}" in text
    assert "C14  not measured here — MovingTag not recorded: run lab 08" in text


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_verdict_kind_is_shown_in_the_readers_language(
    lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # lab 08 judges three claims: each gets a made-up judge giving one kind (the judges'
    # own tests cover how each kind follows from records; this covers how it is shown)
    made_up = dict(zip(["C14", "C15", "C16"], KINDS[:3], strict=True))
    for claim, kind in made_up.items():
        verdict = Verdict(kind, f"figure {claim[1:]}.5 ms")
        monkeypatch.setitem(claims.JUDGES, claim, lambda _r, v=verdict: Judgement("—", v))
    results = Results(tmp_path, {"08": {"Probe": {"outcome": {"status": "ran", "reason": ""}}}})
    lines = summary_text("08", results, lang=lang).splitlines()
    for claim, kind in made_up.items():
        assert f"  {claim:<4} {KIND_WORDS[lang][kind]} — figure {claim[1:]}.5 ms" in lines
    if lang == "ru":
        assert lines[0].startswith("Что показал этот запуск — лабораторная 08")
        assert "Каждый записанный этой лабораторной шаг выполнен." in lines


def test_the_language_follows_mllab_lang(results_of, monkeypatch: pytest.MonkeyPatch):
    results = results_of(("00", _cuda(Outcome.ran())))
    monkeypatch.setenv("MLLAB_LANG", "ru_RU.UTF-8")
    assert "C9   выполняется — CUDA 12.4" in summary_text("00", results)
    monkeypatch.setenv("MLLAB_LANG", "de")
    assert "C9   holds — CUDA 12.4" in summary_text("00", results)


def test_a_lab_s_claims_are_those_assigned_to_it_and_those_its_notebook_judges(tmp_path: Path):
    assert lab_claims("08") == ["C14", "C15", "C16"]
    assert "C4" in lab_claims("04") and "C4" in lab_claims("06")  # both labs judge it
    assert lab_claims("01") == []
    (tmp_path / "01_toy.ipynb").write_text(
        '{"cells": [{"cell_type": "code", "source": ["print(lab01.judge(\\"C7\\", r))"]}]}'
    )
    assert lab_claims("01", tmp_path) == ["C7"]


def test_a_long_verdict_is_cut_at_a_word(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    verdict = Verdict.holds("word " * 60)
    monkeypatch.setitem(claims.JUDGES, "C12", lambda _r: Judgement("—", verdict))
    line = next(
        line for line in summary_text("02", Results(tmp_path), "en").splitlines() if "C12" in line
    )
    assert lab_summary.WIDTH - 10 < len(line) <= lab_summary.WIDTH  # the line, not the text
    assert line.endswith("word …")
