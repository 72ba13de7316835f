"""Lab 07's self-checks: the notebook's solutions pass, an unfinished exercise is "not done", a
planted wrong answer fails with its hint; made-up L(c) points only (no Docker)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mllab.core.outcome import Outcome
from mllab.exercises import lab07
from mllab.exercises.hidden_cases import SPECS
from mllab.exercises.hidden_run import run_groups
from mllab.experiments.resources.lc_fit import LcFit, fit_lc


@pytest.fixture
def fit_l_of_c(solution):
    """The notebook's reference solution of ex01_lc_fit."""
    return solution("07", "ex01_lc_fit", {"np": np})


@pytest.fixture
def choose_limits(solution):
    """The notebook's reference solution of ex02_limits."""
    return solution("07", "ex02_limits", {"math": math, "np": np})


@pytest.fixture
def measured():
    """A noisy 'measured' L(c) of a one-thread pool (knee near 1 CPU) and the kit's fit."""
    return fit_lc([0.5, 1.0, 2.0], [412.0, 205.0, 198.0])


def test_fit_reference_passes(fit_l_of_c, measured, capsys):
    checked = lab07.check_lc_fit(fit_l_of_c, measured)
    assert checked.passed
    assert checked.value.c_opt == pytest.approx(measured.c_opt, abs=0.01)
    assert checked.value.identified is True
    assert "✓ ex01_lc_fit: passed" in capsys.readouterr().out


def test_fit_not_done_goes_on_with_the_kit(measured, capsys, not_done):
    checked = lab07.check_lc_fit(not_done, measured)
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
    checked = lab07.check_lc_fit(wrong, measured)
    assert checked.done and not checked.passed and checked.value == measured
    out = capsys.readouterr().out
    assert hint in out and "Влияние ограничений ресурсов" in out and "Traceback" not in out


def test_fit_off_on_the_measured_points_only(fit_l_of_c, measured):
    def coarse(cpus, latency):
        c_opt, scale = fit_l_of_c(cpus, latency)
        return (c_opt, scale) if len(cpus) == len(lab07.EXACT_CPUS) else (2.0, scale)

    checked = lab07.check_lc_fit(coarse, measured)
    assert not checked.passed and "on the measured sweep" in checked.message


def test_fit_without_a_measured_law_checks_the_exact_sweep(fit_l_of_c, capsys):
    none = LcFit(Outcome.not_run("no Docker engine"), [], [])
    checked = lab07.check_lc_fit(fit_l_of_c, none)
    assert checked.passed and checked.value == none
    printed = " ".join(capsys.readouterr().out.split())  # the printed check wraps its lines
    assert "could not be fitted: not run: no Docker engine" in printed


def measured_calls() -> dict[float, list[float]]:
    """'Measured' calls of a one-thread pool: the knee near 1 CPU, 2 CPUs within the noise."""
    return lab07.made_up_latencies(9, 1.0, [0.5, 1.0, 2.0], 0.03)


def test_limits_reference_passes(choose_limits, capsys):
    checked = lab07.check_limits(choose_limits, measured_calls())
    assert checked.passed and checked.value == lab07.ServerLimits(1.0, 1)
    assert "--cpus=1 -e THREADS=1" in checked.value.command("mllab/serve:slim")
    assert "✓ ex02_limits: passed — --cpus=1 and 1 threads" in capsys.readouterr().out


def test_limits_not_done_goes_on_with_the_kit_choice(capsys, not_done):
    checked = lab07.check_limits(not_done, measured_calls())
    assert not checked.done and checked.value == lab07.reference_limits(measured_calls())
    assert "not done yet" in capsys.readouterr().out


def fastest_median(latencies):
    cpus = min(latencies, key=lambda c: np.median(latencies[c]))
    return cpus, math.ceil(cpus)


def the_old_prompts_rule(latencies):  # the fitted c_opt, rounded to half a CPU
    fit = fit_lc(list(latencies), [float(np.median(v)) for v in latencies.values()])
    cpus = max(0.5, math.floor(fit.c_opt * 2 + 0.5) / 2)
    return cpus, math.ceil(cpus)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (fastest_median, "a lower median alone is noise"),
        (the_old_prompts_rule, "a larger quota is faster beyond the spread"),
        (lambda m: (max(m), math.ceil(max(m))), "as fast within the spread"),
        (lambda m: (min(m), 1), "a larger quota is faster beyond the spread"),
        (lambda m: (lab07.reference_limits(m).cpus, 16), "os.cpu_count() in a container"),
        (lambda m: (lab07.reference_limits(m).cpus, 1), "how many threads can a quota of"),
        (lambda m: lab07.reference_limits(m).cpus, "return (cpus, threads)"),
    ],
    ids=[
        "fastest-median",
        "old-rounding-rule",
        "largest",
        "smallest",
        "host-cores",
        "floor",
        "one",
    ],
)
def test_limits_wrong_answer_fails_with_its_hint(capsys, wrong, hint):
    checked = lab07.check_limits(wrong, measured_calls())
    assert checked.done and not checked.passed
    assert checked.value == lab07.reference_limits(measured_calls())
    out = " ".join(capsys.readouterr().out.split())  # the printed check wraps its lines
    assert hint in out and "Reread the lecture" in out and "Traceback" not in out


def test_limits_read_either_spread():
    def wide(latencies):
        cpus = lab07.smallest_unbeaten(latencies, (5.0, 95.0))
        return cpus, math.ceil(cpus)

    assert lab07.check_limits(wide, measured_calls()).passed


def test_limits_without_a_measurement(choose_limits):
    checked = lab07.check_limits(choose_limits, {})
    assert checked.passed and checked.value is None


def test_the_kit_choice_on_the_made_up_measurements():
    chosen = [lab07.reference_limits(m) for m in lab07.made_up_measurements()]
    assert [(c.cpus, c.threads) for c in chosen] == [(1.0, 1), (2.0, 2), (1.0, 1), (1.5, 2)]
    flat = lab07.made_up_measurements()[2]  # the fastest median is noise there
    assert min(flat, key=lambda c: np.median(flat[c])) == 3.0


def test_the_sections_cited_are_lecture_headings(cited_headings):
    cited, headings = cited_headings(lab07.SECTION)
    assert len(cited) == 2 and set(cited) <= headings


def _hidden(answer, seed: int = 0):
    spec = SPECS["ex02_limits"]
    return run_groups(spec, spec.groups(np.random.default_rng(seed)), answer)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hidden_cases_partial_points_for_the_plausible_wrong_answers(choose_limits, seed):
    assert _hidden(choose_limits, seed).share == 1.0
    noise = _hidden(fastest_median, seed)  # a median lower within the spread is noise
    assert noise.share < 1 and "is noise" in noise.reason
    assert _hidden(the_old_prompts_rule, seed).share < 1
    assert _hidden(lambda m: lab07.reference_limits(m), seed).share == 0.0
