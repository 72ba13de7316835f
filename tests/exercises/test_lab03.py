"""Lab 03's exercises: the self-checks and the hidden cases tell right answers from the
plausible wrong ones (namespace names for options, a shared mnt missed, p99 without its spread,
a shell-form CMD, a JSON list joined by hand); the Dockerfile one is measured on the engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mllab.exercises import lab03, lab03_stop
from mllab.exercises.check import NOT_DONE
from mllab.exercises.hidden_cases import SPECS
from mllab.exercises.hidden_run import run_groups


def _score(grade_id: str, function, seed: int = 3):
    spec = SPECS[grade_id]
    return run_groups(spec, spec.groups(np.random.default_rng(seed)), function)


def right_isolations(container_ns, host_ns):  # written out: a call to the kit's scores 0
    shared = {n for n in container_ns if n in host_ns and container_ns[n] == host_ns[n]}
    return {lab03.OPTIONS.get(n, "shared mnt") for n in shared if n in lab03.OPTIONS or n == "mnt"}


def test_delegating_to_the_kits_answer_scores_nothing():
    def delegates(container_ns, host_ns):
        return lab03.reference_removed_isolations(container_ns, host_ns)

    result = _score("ex03_isolations", delegates)
    assert result.share == 0.0 and "the exercise is to write it" in result.reason


def test_the_isolations_check_passes_a_right_answer_and_keeps_the_measured_options():
    container, host = lab03.made_up_listings()
    measured = [("--pid=host", container, host)]
    checked = lab03.check_isolations(right_isolations, measured)
    assert checked.passed and checked.value == {
        "the container run --pid=host": {"--pid=host", "--uts=host"}
    }


def test_namespace_names_instead_of_options_fail_with_the_hint():
    def names(container_ns, host_ns):
        return {n for n in container_ns if n in host_ns and container_ns[n] == host_ns[n]}

    checked = lab03.check_isolations(names)
    assert not checked.passed and "not the namespaces" in checked.message
    assert _score("ex03_isolations", names).share == 0.0


def test_an_answer_that_forgets_the_shared_mnt_earns_part():
    def no_mnt(container_ns, host_ns):
        return {o for o in right_isolations(container_ns, host_ns) if o != "shared mnt"}

    result = _score("ex03_isolations", no_mnt)
    assert 0 < result.share < 1 and "shared mnt" in result.reason


def test_not_done_goes_on_with_the_kits_answer():
    def not_done(container_ns, host_ns):
        raise NotImplementedError

    checked = lab03.check_isolations(not_done)
    assert not checked.done and checked.message == NOT_DONE


def test_the_setup_check_reads_the_spread_and_the_order_of_isolation():
    rows = lab03.made_up_table()
    assert lab03.reference_choose_setup(rows, 115.0) == ("host", False)  # bridge: 110 + 9
    assert lab03.reference_choose_setup(rows, 140.0) == ("user-defined", False)
    assert lab03.reference_choose_setup(rows, 100.0) is None

    def p99_only(rows, budget_ms):
        order = list(lab03.NETWORKS)
        fits = [r for r in rows if r["p99_ms"] <= budget_ms]
        best = min(fits, key=lambda r: (order.index(r["network"]), r["pinned"]), default=None)
        return None if best is None else (best["network"], best["pinned"])

    checked = lab03.check_setup(p99_only, lab03.measured_tables([]))
    assert not checked.passed and "expected ('host', False)" in checked.message
    result = _score("ex03_network", p99_only)
    assert 0 < result.share < 1 and result.reason.startswith("the spread counts")


def test_the_measured_tables_put_the_budget_between_the_settings():
    rows = [
        {"network": "bridge", "pinned": False, "p99_ms": 120.0, "spread_ms": 5.0},
        {"network": "host", "pinned": False, "p99_ms": 100.0, "spread_ms": 5.0},
    ]
    tables = lab03.measured_tables(rows)
    budgets = [budget for _, _, budget in tables]
    assert budgets[:3] == [115.0, 125.0, 52.5] and len(tables) == 4
    answers = [lab03.reference_choose_setup(r, b) for _, r, b in tables[:3]]
    assert answers == [("host", False), ("bridge", False), None]


@pytest.mark.docker
@pytest.mark.slow
def test_the_dockerfile_exercise_is_judged_by_docker_stop():
    """The notebook's answer earns every group; a JSON list joined by hand earns all but the
    quotes group (Docker falls back to the shell form, which runs nothing useful)."""
    right = _score("ex03_stop", lab03_stop.reference_dockerfile_for)
    assert right.share == 1.0, right.reason

    def joined(base, argv):
        return f"FROM {base}\nCMD [" + ", ".join(f'"{a}"' for a in argv) + "]\n"

    partial = _score("ex03_stop", joined)
    assert partial.share == pytest.approx(0.7) and "quotes" in partial.reason
    assert json.loads(joined("b", ["a"]).split("CMD ", 1)[1]) == ["a"]  # fine without quotes
