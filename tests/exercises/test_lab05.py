"""Lab 05's self-checks: the reference answers pass, an unfinished exercise is "not done", a
planted wrong answer fails with its hint; synthetic sweeps only (no session, no Docker)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mllab.exercises import lab05
from mllab.measure.batching import fit_sweep, fit_throughput


@pytest.fixture
def fit_t_of_n(solution):
    """The notebook's reference solution of ex01_fit."""
    return solution("05", "ex01_fit", {"np": np})


@pytest.fixture
def choose_n_star(solution):
    """The notebook's reference solution of ex02_n_star."""
    return solution("05", "ex02_n_star")


def kit_fit(n, t):
    fit = fit_throughput(n, t)
    return fit.a_ms, fit.b_ms


def fastest_by_median(stats, fit, bound):  # p50 instead of p99, no fitted latency
    within = [s for s in stats if s.p50_ms <= bound]
    return lab05.reference_n_star(within, fit, 1e9) if within else None


@pytest.fixture
def measured():
    """A noisy 'measured' sweep and the kit's fit of it (n* under a 60 ms bound)."""
    rows = [
        (n, 1000.0 * n / (5.0 + 3.1 * n + noise), 5.0 + 3.1 * n, 6.0 + 3.3 * n)
        for n, noise in [(1, 0.2), (2, -0.3), (4, 0.4), (8, -0.2), (16, 0.5)]
    ]
    stats = lab05.made_up_stats([(n, t, p50, p99) for n, t, p50, p99 in rows])
    stats = [replace(s, mean_ms=1000.0 * s.batch / s.throughput) for s in stats]
    return stats, fit_sweep(stats, 60.0)


def test_fit_reference_passes(measured, capsys, fit_t_of_n):
    stats, fit = measured
    checked = lab05.check_fit(fit_t_of_n, fit)
    assert checked.passed and checked.done
    assert checked.value.a_ms == pytest.approx(fit.a_ms)
    assert checked.value.r2 == pytest.approx(fit.r2)
    assert "✓ ex01_fit: passed" in capsys.readouterr().out


def test_fit_not_done_goes_on_with_the_kit(measured, capsys, not_done):
    _, fit = measured
    checked = lab05.check_fit(not_done, fit)
    assert not checked.done and not checked.passed and checked.value == fit
    out = capsys.readouterr().out
    assert "not done yet" in out and "Traceback" not in out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n, t: tuple(np.polyfit(n, t, 1)), "fit the latency of one call"),
        (lambda n, t: kit_fit(n, t)[::-1], "swapped"),
        (lambda n, t: tuple(v / 1000 for v in kit_fit(n, t)), "in seconds"),
    ],
)
def test_fit_wrong_answer_fails_with_its_hint(measured, capsys, wrong, hint):
    _, fit = measured
    checked = lab05.check_fit(wrong, fit)
    assert checked.done and not checked.passed and checked.value == fit
    out = " ".join(capsys.readouterr().out.split())  # the printed check wraps its lines
    assert hint in out and "Параллелизм и batch-инференс" in out and "Traceback" not in out


def test_fit_off_on_the_measured_sweep_only(measured, fit_t_of_n):
    _, fit = measured
    exact_a = lab05.exact_sweep()[1]

    def only_exact(n, t):
        return fit_t_of_n(n, t) if list(t) == exact_a else (fit.a_ms * 2, fit.b_ms)

    checked = lab05.check_fit(only_exact, fit)
    assert not checked.passed and "on the measured sweep" in checked.message


def test_n_star_reference_passes(measured, capsys, choose_n_star):
    stats, fit = measured
    checked = lab05.check_n_star(choose_n_star, stats, fit, 60.0)
    assert checked.passed and checked.value.n_star == fit.n_star == 16
    assert "✓ ex02_n_star: passed — n* = 16" in capsys.readouterr().out


def test_n_star_not_done_keeps_the_kit_choice(measured, capsys, not_done):
    stats, fit = measured
    checked = lab05.check_n_star(not_done, stats, fit, 60.0)
    assert not checked.done and checked.value.n_star == fit.n_star
    assert "Traceback" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [  # the largest batch within the bound; the median; no bound at all; max() of nothing
        (
            lambda st, f, b: max((s.batch for s in st if s.p99_ms <= b), default=None),
            "n* = 4, not 8",
        ),
        (fastest_by_median, "n* = 4, not 8"),
        (lambda st, f, b: max(st, key=lambda s: s.throughput).batch, "n* = 4, not 8"),
        (
            lambda st, f, b: (
                max((s for s in st if s.p99_ms <= b), key=lambda s: s.throughput).batch
            ),
            "ValueError",
        ),
    ],
)
def test_n_star_wrong_answer_fails_with_its_hint(measured, capsys, wrong, hint):
    stats, fit = measured
    checked = lab05.check_n_star(wrong, stats, fit, 60.0)
    assert checked.done and not checked.passed and checked.value.n_star == fit.n_star
    out = capsys.readouterr().out
    assert hint in out and "Reread the lecture" in out and "Traceback" not in out


def test_made_up_cases_have_the_answers_the_comments_say():
    assert [lab05.reference_n_star(*case) for case in lab05.n_star_cases()] == [4, 4, 8, 4, None]
    assert fit_throughput(*lab05.exact_sweep()).a_ms == pytest.approx(lab05.EXACT_A_MS)


def test_the_section_cited_is_a_lecture_heading(cited_headings):
    cited, headings = cited_headings(lab05.SECTION)
    assert cited and set(cited) <= headings
