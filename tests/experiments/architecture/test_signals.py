"""Lab 03, PID 1 and signals: the forms' Dockerfiles, the process table, the stop line, the rows
and the sentence (pure), and one Docker test of lab 03's run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllab.core.errors import BuildError
from mllab.core.outcome import Outcome
from mllab.experiments.architecture import entrypoints, inference, signals
from mllab.experiments.architecture.entrypoints import (
    FORMS,
    Case,
    EntrypointRun,
    dockerfile,
    parse_processes,
    server_process,
    shown,
)
from mllab.experiments.architecture.signals import (
    StopTime,
    StopTimes,
    entrypoint_rows,
    stop_rows,
    stop_summary,
    waited_for_kill,
)

SH = ["/bin/sh", "-c", "python -m mllab.serve.app"]
SERVER = ["python", "-m", "mllab.serve.app"]
INIT = ["/sbin/docker-init", "--", *SH]


def stop(form: str, seconds: float | None, code: int | None, drained: bool, **kw) -> StopTime:
    fields = {"pid1": SERVER, "server_argv": SERVER, "got_sigterm": drained, **kw}
    return StopTime(form, "docker run x", "CMD", 10, Outcome.ran(), seconds=seconds,
                    exit_code=code, drained=drained, **fields)  # fmt: skip


# --- the forms and the launcher ------------------------------------------------------------


def test_each_form_starts_from_the_slim_base_with_its_own_instruction():
    for form, lines in FORMS.items():
        text = dockerfile(form)
        assert text.startswith("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n") and text.endswith(
            lines + "\n"
        )
    assert FORMS["cmd-exec"].startswith('CMD ["') and FORMS["cmd-shell"].startswith("CMD python")
    assert "ENTRYPOINT [" in FORMS["entrypoint-exec"] and "CMD [" in FORMS["entrypoint-exec"]
    assert FORMS["entrypoint-shell"].startswith("ENTRYPOINT python")


def test_build_text_adds_the_base_argument_and_ships_inference_py(monkeypatch):
    seen = {}

    def fake_build(name, tag, folder, buildargs, **kw):
        seen.update(text=(Path(folder) / name).read_text(), args=buildargs, tag=tag)
        seen["script"] = (Path(folder) / "inference.py").read_text()

    monkeypatch.setattr(entrypoints, "build", fake_build)
    entrypoints.build_text("FROM ${BASE_IMAGE}\nCMD python x\n", "t:1", "base:tag")
    assert seen["text"].startswith("ARG BASE_IMAGE\nFROM") and seen["args"] == {
        "BASE_IMAGE": "base:tag"
    }
    assert seen["script"] == Path(inference.__file__).read_text()
    entrypoints.build_text(dockerfile("cmd-exec"), "t:1", "b")
    assert seen["text"].count("ARG BASE_IMAGE") == 1


def test_the_launchers_flags_become_the_servers_env():
    assert inference.environment(inference.parse(["--port", "9090"])) == {"PORT": "9090"}
    assert inference.environment(inference.parse([])) == {}
    assert inference.environment(inference.parse(["--threads", "2", "--port", "1"])) == {
        "PORT": "1",
        "THREADS": "2",
    }


def test_a_case_shows_its_docker_run_line():
    case = Case("x", "entrypoint-exec", ("--entrypoint", "python"), ("-m", "mllab.serve.app"))
    assert case.command() == "docker run --entrypoint python entrypoint-exec -m mllab.serve.app"


# --- the process table -----------------------------------------------------------------------


def test_the_probes_table_splits_argv_and_drops_zombies():
    text = json.dumps({"1": "\0".join(SH) + "\0", "7": "\0".join(SERVER) + "\0", "9": ""})
    assert parse_processes(text) == {1: SH, 7: SERVER}


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({1: SERVER}, (1, SERVER)),  # exec form: the server is PID 1
        ({1: SH, 7: SERVER}, (7, SERVER)),  # shell form: sh's child
        ({1: INIT, 8: SH, 9: SERVER}, (9, SERVER)),  # --init: tini, sh, server
        (
            {1: ["/usr/bin/python3.11", "/app/inference.py"]},
            (1, ["/usr/bin/python3.11", "/app/inference.py"]),
        ),
        ({1: SH}, None),  # not started yet
    ],
)
def test_the_server_is_the_first_python_process(table, expected):
    assert server_process(table) == expected


def test_argv_is_shown_with_quoted_words():
    assert shown(SH) == "/bin/sh -c 'python -m mllab.serve.app'"
    assert shown(["a", ""]) == "a ''"


# --- the line, the rows, the sentence ---------------------------------------------------------


def test_the_stop_timeout_is_the_line_between_sigterm_and_sigkill():
    assert waited_for_kill(stop("a", 0.4, 0, True)) is False
    assert waited_for_kill(stop("a", 10.0, 137, False)) is True
    assert waited_for_kill(stop("a", 9.99, 143, False)) is False
    failed = StopTime("a", "c", "i", 10, Outcome.failed("ContainerFailed: exited"))
    assert waited_for_kill(failed) is None and waited_for_kill(stop("a", None, None, False)) is None


def test_rows_say_what_ended_each_container():
    rows = stop_rows([stop("exec", 0.46, 0, True), stop("shell", 10.4, 137, False, pid1=SH)])
    assert [r["ended by"] for r in rows] == ["SIGTERM", "SIGKILL after -t"]
    assert rows[1]["PID 1"] == "/bin/sh -c 'python -m mllab.serve.app'" and rows[0]["drained"]
    assert rows[0]["docker stop s"] == 0.46 and rows[1]["exit code"] == 137


def test_the_summary_follows_the_measurement_not_the_form():
    exec_form = stop("CMD exec form", 0.5, 0, True)
    shell = stop("CMD shell form", 10.5, 137, False, pid1=SH)
    init = stop("CMD shell form + --init", 0.1, 143, False, pid1=INIT)
    text = stop_summary([exec_form, shell, init])
    assert text.startswith("docker stop -t 10")
    assert "CMD exec form stopped before it (0.5 s, exit 0; PID 1: python): the server got" in text
    assert "CMD shell form ran the whole timeout (10.5 s, exit 137; PID 1: /bin/sh)" in text
    assert "+ --init stopped before it (0.1 s, exit 143; PID 1: /sbin/docker-init)" in text
    assert "not drained" in text
    # the same forms measured the other way round: the sentence turns with them
    turned = stop_summary(
        [stop("CMD exec form", 10.2, 137, False), stop("CMD shell form", 0.3, 0, True)]
    )
    assert (
        "CMD exec form ran the whole timeout" in turned
        and "CMD shell form stopped before" in turned
    )


def test_alike_stops_share_one_sentence_and_a_failed_one_is_named():
    failed = StopTime(
        "ENTRYPOINT shell form", "c", "i", 10, Outcome.failed("TimedOut: never listened")
    )
    text = stop_summary([stop("A", 0.4, 0, True), stop("B", 0.6, 0, True), failed])
    assert "A and B stopped before it (0.4–0.6 s, exit 0" in text
    assert "Not measured: ENTRYPOINT shell form (failed: TimedOut: never listened)." in text
    assert stop_summary([failed]).startswith("docker stop was not measured here: ")


def test_the_stop_sentence_is_one_clause_a_line_within_the_tables_width():
    from mllab.core.tables import WIDTH

    long = "CMD shell form with a long name + --init " * 3
    text = stop_summary([stop("A", 0.4, 0, True), stop(long, 10.3, 137, False)])
    lines = text.splitlines()
    assert max(map(len, lines)) <= WIDTH and lines[0].startswith("docker stop -t 10")
    assert [line[:2] for line in lines[1:]].count("- ") == 2  # a clause each, wrapped under it
    assert all(line.startswith(("- ", "  ")) for line in lines[1:])


def test_entrypoint_rows_show_image_and_container_config():
    launcher, argv = (
        ["python", "/app/inference.py"],
        ["python", "/app/inference.py", "--port", "9090"],
    )
    run = EntrypointRun(
        "run args", "docker run entrypoint-exec --port 9090", Outcome.ran(),
        launcher, ["--port", "8080"], launcher, ["--port", "9090"], argv, argv,
    )  # fmt: skip
    record = StopTimes("base", 10, [], [run, EntrypointRun("x", "c", Outcome.failed("boom"))], 1.0)
    rows = entrypoint_rows(record)
    assert (
        rows[0]["image ENTRYPOINT + CMD"] == '["python", "/app/inference.py"] + ["--port", "8080"]'
    )
    assert rows[0]["container ENTRYPOINT + CMD"].endswith('["--port", "9090"]')
    assert rows[0]["PID 1"] == "python /app/inference.py --port 9090"
    assert rows[1]["outcome"] == Outcome.failed("boom") and rows[1]["PID 1"] == ""


def test_a_dockerfile_that_does_not_build_is_a_failed_stop(monkeypatch):
    def broken(*args, **kw):
        raise BuildError("step 3/3: unknown instruction CMDD")

    monkeypatch.setattr(signals, "build_text", broken)
    monkeypatch.setattr(signals, "remove_image", lambda tag: False)
    result = signals.stop_seconds("FROM ${BASE_IMAGE}\nCMDD x\n", base="base:tag")
    assert result.outcome.failed_with(BuildError) and result.seconds is None
    assert waited_for_kill(result) is None


# --- on the engine ---------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_exec_form_drains_and_shell_form_waits_for_the_kill(executed_lab):
    """Lab 03's run (issue 17: not repeated here): the exec forms get the SIGTERM, drain and end
    before the stop timeout; the shell forms' sh never passes it on, so docker stop waits the
    whole timeout and kills (137); --init forwards it; a shell ENTRYPOINT ignores run args."""
    record = executed_lab("03").record("StopTimes")
    by_form = {s["form"]: s for s in record["stops"]}
    assert all(s["outcome"]["status"] == "ran" for s in record["stops"]), [
        s["outcome"] for s in record["stops"]
    ]
    exec_form, shell = by_form["CMD exec form"], by_form["CMD shell form"]
    assert exec_form["pid1"] == exec_form["server_argv"] == SERVER and exec_form["drained"]
    assert shell["pid1"] == SH and shell["server_argv"] == SERVER and not shell["got_sigterm"]
    for form in ("CMD exec form", "ENTRYPOINT exec form + CMD", "CMD shell form + --init"):
        assert by_form[form]["seconds"] < by_form[form]["stop_timeout"], by_form[form]
    for form in ("CMD shell form", "ENTRYPOINT shell form"):
        stopped = by_form[form]
        assert stopped["seconds"] >= stopped["stop_timeout"] and stopped["exit_code"] == 137
    assert by_form["CMD shell form + --init"]["pid1"][0].endswith("docker-init")
    label = next(c.label for c in entrypoints.OVERRIDES if c.form == "entrypoint-shell")
    (ignored,) = [e for e in record["entrypoints"] if e["label"] == label]
    assert ignored["cmd"] == ["--port", "9090"] and ignored["server_argv"][-1] == "8080"
