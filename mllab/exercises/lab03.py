"""Lab 03's exercises: reading namespaces, choosing a network setting, and a Dockerfile whose
PID 1 receives ``docker stop``'s SIGTERM.

* ``ex03_isolations`` — ``removed_isolations(container_ns, host_ns)``: from two namespace
  listings (name → inode, as ``/proc/<pid>/ns`` gives them), the ``docker run`` options that
  gave the container the host's namespaces (``--pid=host``, ...; ``"shared mnt"`` for a mount
  namespace, which no option shares). A namespace missing from either listing tells nothing.
* ``ex03_network`` — ``choose_setup(rows, budget_ms)``: the measured setting to deploy under a
  p99 budget, counting the run-to-run spread against the budget, and giving up as little
  isolation as possible (user-defined network, then the bridge, then host networking; unpinned
  before pinned); None when no setting meets it.
* ``ex03_stop`` — ``dockerfile_for(base, argv)``: a Dockerfile whose container runs ``argv``
  so that the program itself is PID 1 (the exec form, JSON-quoted), judged by building it and
  timing ``docker stop`` (:mod:`mllab.exercises.lab03_stop`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from mllab.exercises import lab03_stop
from mllab.exercises.check import Check, expect_cases, over_cases, self_check, show
from mllab.exercises.hidden_run import Case, Group, Spec

Rng = np.random.Generator
Listing = Mapping[str, int]

SECTION_NAMESPACES = (
    "«Пространства имён (Namespaces)» (E_container = {N_PID, N_NET, N_MNT, N_IPC, N_UTS, "
    "N_USER}: two processes share a namespace exactly when its inode numbers are equal)"
)
SECTION_NETWORK = (
    "«Сеть и взаимодействие контейнеров» (bridge, host: „максимальная производительность, но "
    "без изоляции“, custom networks) and «Математическая модель контейнерной изоляции»"
)

#: the ``docker run`` option that gives a container the host's namespace of that name
OPTIONS = {
    "pid": "--pid=host",
    "net": "--network=host",
    "ipc": "--ipc=host",
    "uts": "--uts=host",
    "user": "--userns=host",
    "cgroup": "--cgroupns=host",
}
#: no option shares the host's mount namespace: the answer names it so
SHARED_MNT = "shared mnt"
NAMESPACES = (*OPTIONS, "mnt")
#: isolation given up, least first: the network modes, then pinning
NETWORKS = ("user-defined", "bridge", "host")


# --- ex03_isolations ----------------------------------------------------------------------------


def reference_removed_isolations(container_ns: Listing, host_ns: Listing) -> set[str]:
    """The kit's answer to ``ex03_isolations``."""
    shared = {n for n in container_ns if n in host_ns and container_ns[n] == host_ns[n]}
    return {OPTIONS.get(n, SHARED_MNT) for n in shared if n in OPTIONS or n == "mnt"}


def _same_options(answer: Any, expected: set[str]) -> str | None:
    if not isinstance(answer, set | frozenset | list | tuple):
        return f"expected a set of docker run options, got {type(answer).__name__}: {show(answer)}"
    given = {str(a) for a in answer}
    if given == expected:
        return None
    if given & set(NAMESPACES):
        return "name the docker run options ('--pid=host'), not the namespaces ('pid')"
    missing, extra = sorted(expected - given), sorted(given - expected)
    parts = [f"missing {missing}" if missing else "", f"extra {extra}" if extra else ""]
    return "the options: " + "; ".join(p for p in parts if p)


def made_up_listings() -> tuple[dict[str, int], dict[str, int]]:
    """A container that shares the host's PID and UTS namespaces, and whose listing lacks
    ``cgroup`` (an old kernel): ``--pid=host`` and ``--uts=host``."""
    host = {n: 4026531835 + i for i, n in enumerate(NAMESPACES)}
    container = {n: 4026532200 + i for i, n in enumerate(NAMESPACES) if n != "cgroup"}
    container.update(pid=host["pid"], uts=host["uts"])
    return container, host


def check_isolations(
    removed_isolations: Callable[[Listing, Listing], Any],
    measured: Sequence[tuple[str, Listing, Listing]] = (),
) -> Check:
    """``ex03_isolations``: the student's function on a made-up pair and on the listings
    measured in section 1 (``(label, container_ns, host_ns)`` per container). ``value``: the
    options per label (the student's if right, else the kit's)."""
    pairs = [made_up_listings()] + [(c, h) for _, c, h in measured]
    labels = ["a made-up pair"] + [f"the container run {label}" for label, _, _ in measured]
    checked = self_check(
        "ex03_isolations",
        over_cases(removed_isolations, pairs),
        reference=lambda: [reference_removed_isolations(c, h) for c, h in pairs],
        compare=expect_cases("removed_isolations", pairs, _same_options, labels),
        section=SECTION_NAMESPACES,
        blame=removed_isolations,
        passed=f"right on {len(pairs)} namespace listings ({len(measured)} measured here)",
    )
    found = checked.value if isinstance(checked.value, list) else []
    by_label = {label: set(options) for label, options in zip(labels[1:], found[1:], strict=False)}
    return replace(checked, value=by_label)


def _inodes(rng: Rng, names: Sequence[str]) -> dict[str, int]:
    start = int(rng.integers(4026531800, 4026531900))
    return {n: start + 3 * i for i, n in enumerate(names)}


def _listing_case(rng: Rng, shared: Sequence[str], missing: Sequence[str] = ()) -> Case:
    host = _inodes(rng, NAMESPACES)
    container = {n: int(rng.integers(4026532000, 4026539000)) for n in NAMESPACES}
    container.update({n: host[n] for n in shared})
    for name in missing:
        (container if rng.random() < 0.5 else host).pop(name, None)
    expected = reference_removed_isolations(container, host)
    what = f"shared: {sorted(shared) or 'none'}" + (
        f", not listed: {list(missing)}" if missing else ""
    )
    return Case(what, (container, host), expected)


def hidden_isolation_groups(rng: Rng) -> list[Group]:
    """``ex03_isolations``' hidden cases, drawn from ``rng``."""
    single = [_listing_case(rng, [n]) for n in rng.permutation(list(OPTIONS))[:3]]
    several = [
        _listing_case(rng, list(rng.choice(list(OPTIONS), size=k, replace=False)))
        for k in (2, 3, 0)
    ]
    odd = [
        _listing_case(rng, ["mnt", "pid"]),
        _listing_case(rng, ["net"], missing=["net"]),
        _listing_case(rng, ["ipc", "user"], missing=["cgroup"]),
    ]
    return [
        Group("one isolation given back at a time", 0.4, single, _same_options),
        Group("several at once, or none", 0.3, several, _same_options),
        Group("a shared mnt, and namespaces one listing lacks", 0.3, odd, _same_options),
    ]


# --- ex03_network --------------------------------------------------------------------------------


def _rank(row: Mapping[str, Any]) -> tuple[int, bool]:
    return NETWORKS.index(str(row["network"])), bool(row["pinned"])


def reference_choose_setup(
    rows: Sequence[Mapping[str, Any]], budget_ms: float
) -> tuple[str, bool] | None:
    """The kit's answer to ``ex03_network``: the least isolation given up among the settings
    whose p99 plus its spread stays within the budget."""
    fitting = [r for r in rows if float(r["p99_ms"]) + float(r["spread_ms"]) <= budget_ms]
    if not fitting:
        return None
    best = min(fitting, key=_rank)
    return str(best["network"]), bool(best["pinned"])


def _same_setup(answer: Any, expected: tuple[str, bool] | None) -> str | None:
    if expected is None:
        return (
            None
            if answer is None
            else f"no setting meets the budget: expected None, got {show(answer)}"
        )
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return f"expected (network, pinned), got {show(answer)}"
    got = (str(answer[0]), bool(answer[1]))
    if got == expected:
        return None
    return f"expected {expected}, got {got}"


def check_setup(
    choose_setup: Callable[[Sequence[Mapping[str, Any]], float], Any],
    tables: Sequence[tuple[str, Sequence[Mapping[str, Any]], float]],
) -> Check:
    """``ex03_network``: the student's function on ``tables`` (``(label, rows, budget_ms)``:
    made from this run's measurements by the lab, see :func:`measured_tables`) and a made-up
    one. ``value``: the answer for the first table."""
    cases = [(rows, budget) for _, rows, budget in tables]
    labels = [label for label, _, _ in tables]
    checked = self_check(
        "ex03_network",
        over_cases(choose_setup, cases),
        reference=lambda: [reference_choose_setup(r, b) for r, b in cases],
        compare=expect_cases("choose_setup", cases, _same_setup, labels),
        section=SECTION_NETWORK,
        blame=choose_setup,
        passed=f"right on {len(cases)} tables",
    )
    first = checked.value[0] if isinstance(checked.value, list) and checked.value else None
    return replace(checked, value=first)


def made_up_table() -> list[dict[str, Any]]:
    """Settings where p99 alone would pick the bridge and p99 + spread picks host networking."""
    return [
        {"network": "user-defined", "pinned": False, "p99_ms": 131.0, "spread_ms": 4.0},
        {"network": "bridge", "pinned": False, "p99_ms": 110.0, "spread_ms": 9.0},
        {"network": "host", "pinned": False, "p99_ms": 105.0, "spread_ms": 3.0},
        {"network": "host", "pinned": True, "p99_ms": 101.0, "spread_ms": 2.0},
    ]


def measured_tables(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, list, float]]:
    """Tables for the self-check from this run's ``rows`` (network, pinned, p99_ms, spread_ms):
    a budget between the best and the worst p99 + spread (the answer is not the first row),
    one that every setting meets and one that none does; then the made-up table."""
    rows = [dict(r) for r in rows if r.get("p99_ms") is not None]
    tables: list[tuple[str, list, float]] = []
    if rows:
        totals = sorted(float(r["p99_ms"]) + float(r["spread_ms"]) for r in rows)
        middle = (totals[0] + totals[-1]) / 2
        tables += [
            (f"this run's settings, budget {middle:.0f} ms", rows, round(middle, 1)),
            (f"this run's settings, budget {totals[-1]:.0f} ms", rows, totals[-1]),
            (f"this run's settings, budget {totals[0] / 2:.0f} ms", rows, totals[0] / 2),
        ]
    tables.append(("a made-up table, budget 115 ms", made_up_table(), 115.0))
    return tables


def _table(rng: Rng, kind: str) -> Case:
    rows: list[dict[str, Any]] = []
    for network in NETWORKS:
        for pinned in (False, True):
            p99 = float(rng.uniform(80, 160))
            rows.append(
                {
                    "network": network,
                    "pinned": pinned,
                    "p99_ms": round(p99, 1),
                    "spread_ms": round(float(rng.uniform(1, 12)), 1),
                }
            )
    rows = [rows[i] for i in rng.permutation(len(rows))]
    totals = sorted(float(r["p99_ms"]) + float(r["spread_ms"]) for r in rows)
    if kind == "inside":
        budget = float(rng.uniform(totals[1], totals[-2]))
    elif kind == "spread":  # a budget that p99 alone meets and p99 + spread does not
        row = min(rows, key=_rank)
        budget = float(row["p99_ms"]) + float(row["spread_ms"]) / 2
    else:
        budget = float(rng.uniform(totals[0] * 0.5, totals[0] * 0.95))
    budget = round(budget, 1)
    expected = reference_choose_setup(rows, budget)
    return Case(f"{len(rows)} settings, budget {budget} ms", (rows, budget), expected)


def hidden_setup_groups(rng: Rng) -> list[Group]:
    """``ex03_network``' hidden cases, drawn from ``rng``."""
    return [
        Group(
            "the least isolation given up within the budget",
            0.4,
            [_table(rng, "inside") for _ in range(3)],
            _same_setup,
        ),
        Group(
            "the spread counts against the budget",
            0.35,
            [_table(rng, "spread") for _ in range(2)],
            _same_setup,
        ),
        Group(
            "no setting meets the budget",
            0.25,
            [_table(rng, "none") for _ in range(2)],
            _same_setup,
        ),
    ]


def specs() -> list[Spec]:
    """This lab's hidden cases, as :data:`mllab.exercises.hidden_cases.SPECS` holds them."""
    return [
        Spec(
            "ex03_isolations",
            "removed_isolations",
            SECTION_NAMESPACES,
            (reference_removed_isolations,),
            hidden_isolation_groups,
        ),
        Spec(
            "ex03_network",
            "choose_setup",
            SECTION_NETWORK,
            (reference_choose_setup,),
            hidden_setup_groups,
        ),
        lab03_stop.spec(),
    ]
