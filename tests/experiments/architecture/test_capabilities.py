"""Lab 03's capabilities: decoding the masks, the prediction, the rows, and one Docker test
(lab 03's run)."""

from __future__ import annotations

import pytest

from mllab.containers.docker_cli import DockerCliError
from mllab.core.outcome import Outcome
from mllab.experiments.architecture.capabilities import (
    CAP_NAMES,
    Capabilities,
    CapabilitySet,
    ServerWithoutCaps,
    _refused,
    cap_masks,
    capability_rows,
    decode,
    host_sets,
    predict,
    probe_source,
    server_rows,
    short,
)

#: Docker's default set, as /proc/1/status writes it
DEFAULT_MASK = "00000000a80425fb"
STATUS = (
    f"Name:\tpython\nCapInh:\t0000000000000000\nCapEff:\t{DEFAULT_MASK}\n"
    "CapBnd:\t000001fffeffffff\n"
)
RAN = Outcome.ran()


def test_the_names_follow_the_kernels_bits():
    assert len(CAP_NAMES) == 41
    assert CAP_NAMES[0] == "CAP_CHOWN" and CAP_NAMES[21] == "CAP_SYS_ADMIN"
    assert CAP_NAMES[24] == "CAP_SYS_RESOURCE" and CAP_NAMES[40] == "CAP_CHECKPOINT_RESTORE"


def test_a_mask_decodes_to_names():
    names = decode(DEFAULT_MASK)
    assert len(names) == 14
    assert {"CAP_CHOWN", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_MKNOD"} <= set(names)
    assert "CAP_SYS_ADMIN" not in names
    assert decode("0") == []
    assert decode(1 << 41 | 1) == ["CAP_CHOWN", "CAP_41"]  # a bit newer than the table


def test_status_masks_and_what_the_host_lacks():
    assert cap_masks(STATUS) == {
        "CapInh": "0000000000000000",
        "CapEff": DEFAULT_MASK,
        "CapBnd": "000001fffeffffff",
    }
    bounding, lacks = host_sets(STATUS, last_cap=40)
    assert lacks == ["CAP_SYS_RESOURCE"] and len(bounding) == 40
    assert host_sets(STATUS, last_cap=23)[1] == []
    assert short(["CAP_CHOWN", "CAP_KILL"]) == "CHOWN KILL" and short([]) == "(none)"


def _set(setting: str, effective: list[str], outcome: Outcome = RAN, **more) -> CapabilitySet:
    return CapabilitySet(setting, [], "0", outcome, effective=effective, bounding=effective, **more)


def test_the_prediction_follows_the_image_users_effective_set():
    assert predict(_set("default, USER 10001", []), "10001")[0] is True
    ready, why = predict(_set("default, USER 0", ["CAP_CHOWN"]), "0")
    assert ready is False and "CHOWN" in why
    assert predict(_set("x", [], Outcome.failed("boom")), "10001")[0] is None
    assert predict(None, "10001")[0] is None


def test_a_refused_run_keeps_the_engines_words():
    error = DockerCliError(
        "`docker run ...` failed", 125, "docker: Error response from daemon: no\n"
    )
    outcome = _refused(error)
    assert str(outcome) == "failed: Error response from daemon: no"
    assert outcome.failed_with(DockerCliError)


def test_the_probe_is_a_program():
    compile(probe_source(), "<probe>", "exec")  # its source is sent as `python -c`


def test_rows_show_each_setting_and_the_server():
    caps = Capabilities(
        image="mllab/serve:slim",
        outcome=Outcome.ran(),
        host_bounding=decode("000001fffeffffff"),
        host_lacks=["CAP_SYS_RESOURCE"],
        sets=[
            _set("default", decode(DEFAULT_MASK), dev_entries=14, chown_ok=True, mount_ok=False),
            _set("--privileged", [], Outcome.failed("Error response from daemon: caps")),
            _set("--cap-add ALL", decode("3ffeffffff"), stand_in="stands in", mount_ok=True),
        ],
        server=ServerWithoutCaps(
            ["--cap-drop", "ALL"], Outcome.ran(), True, 1.4, 10001, [], [], True, "starts"
        ),
        seconds=4.0,
    )
    rows = capability_rows(caps)
    assert [r["setting"] for r in rows] == ["default", "--privileged", "--cap-add ALL (stand-in)"]
    assert (
        rows[0]["effective"] == 14 and rows[0]["chown"] is True and rows[0]["mount tmpfs"] is False
    )
    assert rows[1]["effective"] is None and str(rows[1]["outcome"]).startswith("failed: Error")
    assert rows[2]["effective"] == 37
    (server,) = server_rows(caps)
    assert server["answered /ready"] is True and server["predicted ready"] is True
    assert server["effective"] == "(none)" and server["uid"] == 10001


@pytest.mark.docker
@pytest.mark.slow
def test_capability_sets_on_the_engine(executed_lab):
    """Lab 03's run (issue 17: not repeated here): root by default holds CAP_CHOWN and can
    chown; with --cap-drop ALL it holds nothing and cannot; --privileged (or, where this host
    refuses it, its labelled stand-in) can mount; the server's start matches the prediction."""
    caps = executed_lab("03").record("Capabilities")
    assert caps["outcome"]["status"] == "ran", caps["outcome"]
    by = {s["setting"]: s for s in caps["sets"]}
    default, dropped = by["default"], by["--cap-drop ALL"]
    assert default["outcome"]["status"] == dropped["outcome"]["status"] == "ran"
    assert "CAP_CHOWN" in default["effective"] and default["chown_ok"] is True
    assert dropped["effective"] == [] and dropped["bounding"] == [] and dropped["chown_ok"] is False
    assert default["mount_ok"] is False  # no CAP_SYS_ADMIN by default
    privileged = by["--privileged"]
    if privileged["outcome"]["status"] == "ran":
        assert privileged["mount_ok"] is True and privileged["sys_writable"] is True
    else:
        assert caps["host_lacks"], "--privileged failed although the host lacks no capability"
        stand_in = by["--cap-add ALL"]
        assert stand_in["outcome"]["status"] == "ran" and stand_in["stand_in"]
        assert stand_in["mount_ok"] is True
    server = caps["server"]
    assert server["ready"] is not None and server["ready"] is server["predicted_ready"], server
