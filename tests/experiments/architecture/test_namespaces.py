"""Lab 03's namespaces: the parsing of what a process sees, the comparisons, the rows, the probe
(run here by this machine's Python, as the container runs it), and one Docker test (lab 03's
run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mllab.core.errors import MllabError
from mllab.core.outcome import Outcome
from mllab.experiments.architecture.namespace_probe import (
    Sight,
    default_route,
    inode,
    interfaces,
    ipv4,
    is_host_init,
    own_eth0,
    probe,
    probe_command,
    sight,
    started,
    status_field,
    sysv_keys,
)
from mllab.experiments.architecture.namespaces import (
    NamespaceLink,
    NamespaceViews,
    VariantView,
    namespace_rows,
    namespace_views,
    user_sentence,
    view_rows,
)

NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets
    lo:  100  1    0    0    0     0          0         0  100  1
  eth0: 2000 20    0    0    0     0          0         0  300  3
"""
ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0
"""
STATUS = "Name:\tpython\nUid:\t0\t0\t0\t0\nNSpid:\t31483\t1\n"
STAT = "1 (python -c x) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 7777 13768 0"
SHM = "       key      shmid perms  size\n    123456      7  600  4096\n"


def test_interfaces_come_from_proc_net_dev():
    assert interfaces(NET_DEV) == ["lo", "eth0"]
    assert interfaces(None) == []


def test_the_default_route_reads_its_gateway_in_dots():
    assert ipv4("010011AC") == "172.17.0.1"
    assert default_route(ROUTE) == "eth0 via 172.17.0.1"
    assert default_route(ROUTE.splitlines()[0] + "\n") is None  # --network none: no route


def test_status_fields_stat_start_time_and_shm_keys():
    assert status_field(STATUS, "Uid") == [0, 0, 0, 0]
    assert status_field(STATUS, "NSpid") == [31483, 1]
    assert status_field(STATUS, "Gid") == []
    assert started(STAT) == 7777  # field 22, with a space inside the command's parentheses
    assert started(None) is None
    assert sysv_keys(SHM) == {123456}
    assert inode("pid:[4026532180]") == 4026532180


def _sight(**changed) -> Sight:
    base = dict(
        pid1_command="python -c sleep",
        pid1_started=7777,
        processes=2,
        hostname="406e28d1ec03",
        interfaces=["lo", "eth0"],
        addresses=["00:00:00:00:00:00", "02:42:ac:11:00:02"],
        default_route="eth0 via 172.17.0.1",
        mounts=28,
        sysv_shm_seen=False,
        posix_shm_seen=False,
    )
    return Sight(**{**base, **changed})


HOST = _sight(
    pid1_command="/sbin/init",
    pid1_started=1,
    processes=90,
    hostname="vm",
    interfaces=["lo", "eth0", "docker0"],
    addresses=["00:00:00:00:00:00", "06:00:ac:10:00:02", "02:42:3a:00:00:01"],
    default_route="eth0 via 192.0.2.1",
    sysv_shm_seen=True,
    posix_shm_seen=True,
)


def test_own_eth0_is_told_by_its_mac_not_by_its_name():
    assert own_eth0(_sight(), HOST)  # the host has an eth0 too, with another MAC
    assert not own_eth0(HOST, HOST)  # --network host: the host's own eth0
    assert not own_eth0(_sight(interfaces=["lo"], addresses=["00:00:00:00:00:00"]), HOST)


def test_the_hosts_init_is_told_by_command_and_start_time():
    assert is_host_init(HOST, HOST)
    assert not is_host_init(_sight(), HOST)
    assert not is_host_init(_sight(pid1_command="/sbin/init"), HOST)  # same name, another start


def _view(variant: str, shared: set[str], inside: Sight, uid: tuple[int, int] = (0, 0)):
    links = [
        NamespaceLink(n, 2 if n in shared else 3, 2, n in shared)
        for n in ("pid", "net", "mnt", "uts", "ipc", "user")
    ]
    return VariantView(
        variant,
        Outcome.ran(),
        host_pid=4313,
        pid_inside=1,
        namespaces=links,
        inside=inside,
        uid_inside=uid[0],
        uid_on_host=uid[1],
        uid_map="0 0 4294967295",
        pid1_is_host_init=is_host_init(inside, HOST),
        own_eth0=own_eth0(inside, HOST),
    )


def test_the_user_sentence_is_computed_from_the_uids_and_the_user_namespace():
    text, root = user_sentence(_view("default", {"user"}, _sight()))
    assert root is True
    assert "uid 0 inside is uid 0 on the host" in text and "no userns-remap" in text
    assert "'0 0 4294967295'" in text
    text, root = user_sentence(_view("default", set(), _sight(), uid=(0, 100000)))
    assert root is False and "own USER namespace" in text and "uid 100000 on the host" in text
    assert user_sentence(None) == ("not measured: the default container's uids were not read", None)


def test_rows_are_namespaces_by_variant_and_sights_by_variant():
    views = NamespaceViews(
        image="mllab/serve:slim",
        outcome=Outcome.ran(),
        host_reference="/proc/self/ns",
        host=HOST,
        variants=[
            _view("default", {"user"}, _sight()),
            _view("--pid=host", {"user", "pid"}, _sight(pid1_command="/sbin/init", pid1_started=1)),
            VariantView("--ipc host", Outcome.failed("docker: boom")),
        ],
        user="",
        root_is_host_root=True,
        rootless=Outcome.not_run("no rootless runtime installed"),
        seconds=2.0,
    )
    rows = {row["namespace"]: row for row in namespace_rows(views)}
    assert rows["pid"] == {
        "namespace": "pid",
        "default": False,
        "--pid=host": True,
        "--ipc host": None,
    }
    assert rows["user"]["default"] is True
    assert "cgroup" not in rows  # read nowhere: no row
    seen = {row["seen"]: row for row in view_rows(views)}
    assert seen["PID 1"]["host"] == "/sbin/init"
    assert seen["PID 1"]["--pid=host"] == "/sbin/init"
    assert seen["interfaces"]["default"] == "lo eth0"
    assert seen["processes"]["--ipc host"] == "failed: docker: boom"
    assert seen["uid inside → on the host"]["default"] == "0 → 0"


def test_long_commands_and_interface_lists_are_cut_so_three_variants_fit_a_line():
    from mllab.core.tables import WIDTH, format_table
    from mllab.experiments.architecture.namespaces import VIEW_CELL

    host = _sight(pid1_command="/process_api --firecracker-init --addr 0.0.0.0:2024 " * 2,
                  interfaces=[f"veth{i:04x}" for i in range(12)])  # fmt: skip
    views = NamespaceViews(
        "img", Outcome.ran(), "/proc/self/ns", host,
        [_view(f"v{i}", {"user"}, _sight()) for i in range(5)],
        "", True, Outcome.not_run("no"), 1.0,
    )  # fmt: skip
    seen = {row["seen"]: row for row in view_rows(views)}
    assert len(seen["PID 1"]["host"]) == VIEW_CELL and seen["PID 1"]["host"].endswith("…")
    assert seen["interfaces"]["host"].startswith("12: veth0000")
    assert seen["interfaces"]["v0"] == "lo eth0"  # short: as it is
    text = format_table(view_rows(views))
    assert text.count("\n\n") == 1 and max(map(len, text.splitlines())) <= WIDTH  # 2 parts


def test_the_probe_runs_as_source_and_reads_this_process_the_same_way():
    """The command sent into a container, run here: the same fields as a direct call."""
    command = probe_command(os.getpid(), 42, "/nonexistent/mllab")
    done = subprocess.run(
        [sys.executable, *command[1:]], capture_output=True, text=True, check=True
    )
    sent = json.loads(done.stdout)
    direct = probe(os.getpid(), 42, "/nonexistent/mllab")
    assert set(sent) == set(direct)
    here = sight(sent)
    assert here.interfaces and "lo" in here.interfaces
    assert here.processes > 1 and here.mounts > 0
    assert not here.posix_shm_seen  # the file does not exist
    assert status_field(sent["status"], "Uid") == status_field(direct["status"], "Uid")


def test_an_unknown_variant_is_refused_before_anything_starts():
    with pytest.raises(MllabError, match="unknown variants"):
        namespace_views("any", variants=("default", "--privileged"))


@pytest.mark.docker
@pytest.mark.slow
def test_namespace_views_on_the_engine(executed_lab):
    """Lab 03's run (issue 17: not repeated here): the default container owns its pid, net, ipc
    and uts namespaces; each control shares exactly the one it removes, and sees what that
    namespace holds (the host's PID 1, interfaces, System V shared memory, hostname)."""
    views = executed_lab("03").record("NamespaceViews")
    assert views["outcome"]["status"] == "ran", views["outcome"]
    by = {v["variant"]: v for v in views["variants"]}
    assert {"default", "--pid=host", "--network host"} <= set(by), sorted(by)
    assert all(v["outcome"]["status"] == "ran" for v in by.values()), [
        v["outcome"] for v in by.values()
    ]
    removes = {
        "--pid=host": "pid",
        "--network host": "net",
        "--ipc host": "ipc",
        "--uts host": "uts",
    }  # each control variant: the one namespace it shares with the host
    for variant, view in by.items():
        shared = {n["namespace"]: n["shared"] for n in view["namespaces"]}
        assert {ns: shared[ns] for ns in removes.values()} == {
            ns: removes.get(variant) == ns for ns in removes.values()
        }, variant
    default, host = by["default"], views["host"]
    assert default["pid_inside"] == 1 and default["pid1_is_host_init"] is False
    assert by["--pid=host"]["pid1_is_host_init"] is True
    assert default["own_eth0"] is True and by["--network host"]["own_eth0"] is False
    assert host is not None and host["sysv_shm_seen"]
    assert default["inside"] is not None and not default["inside"]["sysv_shm_seen"]
    if "--ipc host" in by:
        assert by["--ipc host"]["inside"]["sysv_shm_seen"]
    if "--uts host" in by:
        assert by["--uts host"]["inside"]["hostname"] == host["hostname"]
        assert default["inside"]["hostname"] != host["hostname"]
    assert views["root_is_host_root"] is (default["uid_on_host"] == 0)
