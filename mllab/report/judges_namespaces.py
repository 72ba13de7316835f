"""The judge of the claim about PID and NET namespaces (C17), read from lab 03's namespace views.

Like the other judges (:mod:`mllab.report.judges_images`), it reads exact record fields and
gives a :class:`~mllab.report.verdict.Judgement`; a missing record or a measurement that did
not run raises :class:`~mllab.report.verdict.NotMeasured`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mllab.core.records import Results
from mllab.experiments.architecture.namespaces import NamespaceViews
from mllab.report.verdict import Evidence, Judgement, NotMeasured, Verdict, evidence, outcome_text

#: the variants that remove the isolation C17 is about: the control of each half
CONTROLS = {"pid": "--pid=host", "net": "--network host"}


def judge_c17(results: Results) -> Judgement:
    """03 ``NamespaceViews``: outcome, variants (variant, outcome, namespaces (namespace,
    container, host, shared), pid1_is_host_init, own_eth0).

    The lecture (lines 211–217): "Процесс PID 1 внутри контейнера — не тот же, что на хосте"
    and "Каждый контейнер имеет собственный виртуальный адаптер eth0". Holds when the default
    container's pid and net namespaces are not the host's (inodes of ``/proc/<pid>/ns``), the
    PID 1 it sees is not the host's PID 1 (another command or start time), and it has an
    ``eth0`` whose MAC address no host interface has.

    Fails when: the default container shares the host's pid or net namespace, sees the host's
    PID 1, or has no eth0 of its own. Control: ``--pid=host`` and ``--network host`` remove
    exactly these isolations, and the same instruments must then show the namespace shared (and
    the host's PID 1, and no eth0 of its own); a control that does not show it means the
    instrument cannot tell shared from own ("not measured here"); a control not run leaves the
    verdict "holds in part". No difference: an inode is equal or not; there is no spread."""
    r = evidence(results, "03", "NamespaceViews", schema=NamespaceViews.SCHEMA_VERSION)
    variants = {v.get("variant"): v for v in r.get("variants") or [] if isinstance(v, Mapping)}
    default = _variant(r, variants, "default")
    pid, net = _shared(default, "pid"), _shared(default, "net")
    init, eth0 = default.get("pid1_is_host_init"), default.get("own_eth0")
    if init is None or eth0 is None:
        raise NotMeasured(f"{r.where}: the default container's PID 1 or eth0 was not read")
    seen = (
        f"default container: pid namespace {_word(pid)}, net namespace {_word(net)}, "
        f"PID 1 {'is' if init else 'is not'} the host's, "
        f"{'its own' if eth0 else 'no own'} eth0"
    )
    controls, missing = _controls(r, variants)
    measured = f"{seen}; control: {controls} {r.source}"
    wrong = [
        what
        for what, bad in (
            ("shares the host's pid namespace", pid),
            ("shares the host's net namespace", net),
            ("sees the host's PID 1", init),
            ("has no eth0 of its own", not eth0),
        )
        if bad
    ]
    if wrong:
        return Judgement(
            measured, Verdict.does_not_hold("the default container " + ", ".join(wrong))
        )
    text = "own pid and net namespaces: PID 1 is not the host's, and eth0 is the container's own"
    if missing:
        return Judgement(measured, Verdict.holds_in_part(f"{text}; not controlled: {missing}"))
    return Judgement(measured, Verdict.holds(f"{text}; the controls share both, as they must"))


def _variant(r: Evidence, variants: Mapping[Any, Any], name: str) -> Evidence:
    """A variant the verdict needs, measured; else "not measured" with why."""
    if name not in variants:
        raise NotMeasured(f"{r.where}: no '{name}' container was measured")
    found = Evidence(f"{r.where}.{name}", variants[name])
    found.require_ran()
    return found


def _shared(view: Evidence, namespace: str) -> bool:
    """Whether ``view``'s namespace is the host's (inodes read on both sides)."""
    links = [n for n in view.get("namespaces") or [] if n.get("namespace") == namespace]
    if not links or links[0].get("shared") is None:
        raise NotMeasured(f"{view.where}: the {namespace} namespace's inodes were not read")
    return bool(links[0]["shared"])


def _word(shared: bool) -> str:
    return "shared with the host" if shared else "its own"


def _controls(r: Evidence, variants: Mapping[Any, Any]) -> tuple[str, str]:
    """The controls in words, and what is not controlled ('' when both are). A control that
    ran but does not show its namespace shared raises :class:`NotMeasured`."""
    said: list[str] = []
    missing: list[str] = []
    for namespace, name in CONTROLS.items():
        fields = variants.get(name)
        problem = "not run" if fields is None else outcome_text(fields.get("outcome"))
        if fields is None or problem is not None:
            said.append(f"{name} {problem}")
            missing.append(f"{name} ({problem})")
            continue
        control = Evidence(f"{r.where}.{name}", fields)
        shared = _shared(control, namespace)
        if namespace == "pid":
            sign = control.get("pid1_is_host_init") is True
        else:
            sign = control.get("own_eth0") is False
        if not shared or not sign:
            raise NotMeasured(
                f"{control.where} was meant to remove the {namespace} isolation, but the "
                f"instruments did not show it shared (namespace shared: {shared}, "
                f"{'host PID 1 seen' if namespace == 'pid' else 'no own eth0'}: {sign}): "
                "they cannot tell shared from own",
                measured=f"control {name}: {namespace} namespace shared = {shared} {r.source}",
            )
        said.append(f"{name} shares the {namespace} namespace")
    return ", ".join(said), "; ".join(missing)
