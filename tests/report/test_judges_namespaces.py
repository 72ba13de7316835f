"""Claim C17 (lab 03): records for every verdict kind its judge can give — holds, does not
hold, holds in part (a control not run) and not measured (no record, a default container that
did not run, a control that does not show the isolation removed).

The records are the producer's own dataclasses (``mllab.experiments.architecture.namespaces``;
a field renamed there breaks these tests), written with ``record`` and read back, as a lab run
does (``results_of`` in ``tests/report/conftest.py``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from mllab.core.outcome import Outcome
from mllab.experiments.architecture.namespaces import NamespaceLink, NamespaceViews, VariantView
from mllab.report.judges_namespaces import judge_c17
from mllab.report.verdict import NotMeasured

NAMESPACES = ("pid", "net", "mnt", "uts", "ipc", "user")


def view(variant: str, shared: set[str], init: bool = False, eth0: bool = True) -> VariantView:
    """A measured container sharing the namespaces ``shared`` with the host."""
    links = [
        NamespaceLink(n, 20 if n in shared else 30 + i, 20, n in shared)
        for i, n in enumerate(NAMESPACES)
    ]
    return VariantView(
        variant,
        Outcome.ran(),
        host_pid=4313,
        pid_inside=1,
        namespaces=links,
        pid1_is_host_init=init,
        own_eth0=eth0,
    )


DEFAULT = view("default", {"user"})
PID_HOST = view("--pid=host", {"user", "pid"}, init=True)
NET_HOST = view("--network host", {"user", "net"}, eth0=False)


def views(*variants: VariantView) -> NamespaceViews:
    return NamespaceViews(
        image="mllab/serve:slim",
        outcome=Outcome.ran(),
        host_reference="/proc/self/ns",
        host=None,
        variants=list(variants),
        user="uid 0 inside is uid 0 on the host",
        root_is_host_root=True,
        rootless=Outcome.not_run("no rootless runtime installed"),
        seconds=2.5,
    )


def test_holds_with_own_namespaces_and_controls_that_share(results_of):
    judged = judge_c17(results_of(("03", views(DEFAULT, PID_HOST, NET_HOST))))
    assert judged.verdict.kind == "holds", judged
    assert "the controls share both" in judged.verdict.text
    assert "[03:NamespaceViews]" in judged.measured
    assert "--pid=host shares the pid namespace" in judged.measured


@pytest.mark.parametrize(
    ("default", "said"),
    [
        (view("default", {"user", "pid"}), "shares the host's pid namespace"),
        (view("default", {"user", "net"}), "shares the host's net namespace"),
        (view("default", {"user"}, init=True), "sees the host's PID 1"),
        (view("default", {"user"}, eth0=False), "has no eth0 of its own"),
    ],
)
def test_does_not_hold_when_the_default_container_shares(results_of, default, said):
    judged = judge_c17(results_of(("03", views(default, PID_HOST, NET_HOST))))
    assert judged.verdict.kind == "does not hold", judged
    assert said in judged.verdict.text


def test_holds_in_part_when_a_control_did_not_run(results_of):
    failed = replace(NET_HOST, outcome=Outcome.failed("docker: no host network"))
    judged = judge_c17(results_of(("03", views(DEFAULT, PID_HOST, failed))))
    assert judged.verdict.kind == "holds in part", judged
    assert "not controlled: --network host (failed: docker: no host network)" in judged.verdict.text
    judged = judge_c17(results_of(("03", views(DEFAULT, NET_HOST))))
    assert judged.verdict.kind == "holds in part" and "--pid=host (not run)" in judged.verdict.text


def test_not_measured_when_a_control_does_not_show_the_namespace_shared(results_of):
    """An instrument that reads 'own' for --pid=host cannot tell shared from own at all."""
    blind = view("--pid=host", {"user"}, init=True)
    with pytest.raises(NotMeasured, match="cannot tell shared from own"):
        judge_c17(results_of(("03", views(DEFAULT, blind, NET_HOST))))
    still_own_eth0 = view("--network host", {"user", "net"}, eth0=True)
    with pytest.raises(NotMeasured, match="no own eth0: False"):
        judge_c17(results_of(("03", views(DEFAULT, PID_HOST, still_own_eth0))))


def test_not_measured_without_the_record_or_the_default_container(results_of):
    with pytest.raises(NotMeasured, match="NamespaceViews not recorded: run lab 03"):
        judge_c17(results_of())
    failed = replace(DEFAULT, outcome=Outcome.failed("docker: boom"))
    with pytest.raises(NotMeasured, match="default failed: docker: boom"):
        judge_c17(results_of(("03", views(failed, PID_HOST, NET_HOST))))
    with pytest.raises(NotMeasured, match="no 'default' container"):
        judge_c17(results_of(("03", views(PID_HOST, NET_HOST))))
    unread = replace(DEFAULT, namespaces=[NamespaceLink("pid", None, 20, None)])
    with pytest.raises(NotMeasured, match="pid namespace's inodes were not read"):
        judge_c17(results_of(("03", views(unread, PID_HOST, NET_HOST))))
    stopped = replace(views(DEFAULT, PID_HOST, NET_HOST), outcome=Outcome.failed("engine gone"))
    with pytest.raises(NotMeasured, match="failed: engine gone"):
        judge_c17(results_of(("03", stopped)))
