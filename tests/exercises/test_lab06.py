"""Lab 06's self-checks: the notebook's solutions pass, an unfinished exercise is "not done", a
planted wrong answer fails with its hint; made-up L(c) points only (no Docker)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mllab.core.outcome import Outcome
from mllab.exercises import lab06
from mllab.experiments.resources.lc_fit import LcFit, fit_lc


@pytest.fixture
def fit_l_of_c(solution):
    """The notebook's reference solution of ex01_lc_fit."""
    return solution("06", "ex01_lc_fit", {"np": np})


@pytest.fixture
def choose_limits(solution):
    """The notebook's reference solution of ex02_limits."""
    return solution("06", "ex02_limits", {"math": math})


@pytest.fixture
def measured():
    """A noisy 'measured' L(c) of a one-thread pool (knee near 1 CPU) and the kit's fit."""
    return fit_lc([0.5, 1.0, 2.0], [412.0, 205.0, 198.0])


def test_fit_reference_passes(fit_l_of_c, measured, capsys):
    checked = lab06.check_lc_fit(fit_l_of_c, measured)
    assert checked.passed
    assert checked.value.c_opt == pytest.approx(measured.c_opt, abs=0.01)
    assert checked.value.identified is True
    assert "✓ ex01_lc_fit: passed" in capsys.readouterr().out


def test_fit_not_done_goes_on_with_the_kit(measured, capsys, not_done):
    checked = lab06.check_lc_fit(not_done, measured)
    assert not checked.done and checked.value == measured
    out = capsys.readouterr().out
    assert "not done yet" in out and "Traceback" not in out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [  # c_opt at the largest c; a guessed knee; swapped; not a pair
        (lambda c, L: (max(c), float(np.mean(np.asarray(L) * np.asarray(c)))), "scan c_opt"),
        (lambda c, L: (1.0, L[1]), "on an exact sweep"),
        (lambda c, L: (fit_lc(c, L).scale_ms, fit_lc(c, L).c_opt), "on an exact sweep"),
        (lambda c, L: fit_lc(c, L), "return two numbers"),
    ],
)
def test_fit_wrong_answer_fails_with_its_hint(measured, capsys, wrong, hint):
    checked = lab06.check_lc_fit(wrong, measured)
    assert checked.done and not checked.passed and checked.value == measured
    out = capsys.readouterr().out
    assert hint in out and "Влияние ограничений ресурсов" in out and "Traceback" not in out


def test_fit_off_on_the_measured_points_only(fit_l_of_c, measured):
    def coarse(cpus, latency):
        c_opt, scale = fit_l_of_c(cpus, latency)
        return (c_opt, scale) if len(cpus) == len(lab06.EXACT_CPUS) else (2.0, scale)

    checked = lab06.check_lc_fit(coarse, measured)
    assert not checked.passed and "on the measured sweep" in checked.message


def test_fit_without_a_measured_law_checks_the_exact_sweep(fit_l_of_c, capsys):
    none = LcFit(Outcome.not_run("no Docker engine"), [], [])
    checked = lab06.check_lc_fit(fit_l_of_c, none)
    assert checked.passed and checked.value == none
    assert "could not be fitted: not run: no Docker engine" in capsys.readouterr().out


def test_limits_reference_passes(choose_limits, measured, capsys):
    checked = lab06.check_limits(choose_limits, measured)
    assert checked.passed and checked.value == lab06.ServerLimits(1.0, 1)
    assert "--cpus=1 -e THREADS=1" in checked.value.command("mllab/serve:slim")
    assert "✓ ex02_limits: passed — --cpus=1 and 1 threads" in capsys.readouterr().out


def test_limits_not_done_goes_on_with_the_kit_choice(measured, capsys, not_done):
    checked = lab06.check_limits(not_done, measured)
    assert not checked.done and checked.value == lab06.reference_limits(measured)
    assert "not done yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [  # the largest quota measured; half of c_opt; the host's cores; threads without ceil
        (lambda f: (max(f.cpus), math.ceil(max(f.cpus))), "more quota than c_opt buys no latency"),
        (lambda f: (f.c_opt / 2, 1), "a smaller quota costs latency"),
        (lambda f: (f.c_opt, 16), "one thread per CPU the quota grants"),
        (lambda f: (f.c_opt, int(f.c_opt)), "⌈cpus⌉ = 2"),
        (lambda f: f.c_opt, "return (cpus, threads)"),
    ],
)
def test_limits_wrong_answer_fails_with_its_hint(measured, capsys, wrong, hint):
    checked = lab06.check_limits(wrong, measured)
    assert checked.done and not checked.passed
    assert checked.value == lab06.reference_limits(measured)
    out = capsys.readouterr().out
    assert hint in out and "Reread the lecture" in out and "Traceback" not in out


def test_limits_without_a_measured_law(choose_limits):
    checked = lab06.check_limits(choose_limits, LcFit(Outcome.not_run("no Docker"), [], []))
    assert checked.passed and checked.value is None


def test_the_kit_rule_on_the_made_up_laws():
    chosen = [lab06.reference_limits(f) for f in lab06.made_up_fits()]
    assert [(c.cpus, c.threads) for c in chosen] == [(1.0, 1), (1.5, 2), (0.5, 1), (3.0, 3)]


def test_the_sections_cited_are_lecture_headings(cited_headings):
    cited, headings = cited_headings(lab06.SECTION)
    assert len(cited) == 2 and set(cited) <= headings
