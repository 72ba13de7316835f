"""A build's log kept in the run's folder, one line shown (issue 18: output walls)."""

from __future__ import annotations

from mllab.containers.buildlog import LogFile


def test_the_log_goes_to_the_run_folder_and_the_summary_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLLAB_RESULTS", str(tmp_path / "results"))
    log = LogFile("build-slim")
    for line in ("Step 1/2 : FROM base", " ---> Using cache\n", "Step 2/2 : CMD x"):
        log(line)
    assert capsys.readouterr().out == ""  # nothing printed while it builds
    assert log.path == tmp_path / "results" / "logs" / "build-slim.log"
    assert log.path.read_text().splitlines() == [
        "Step 1/2 : FROM base",
        " ---> Using cache",
        "Step 2/2 : CMD x",
    ]
    assert log.summary() == f"log: 3 lines in\n    {log.path}"
    assert LogFile("build-slim").path.read_text() == ""  # a new build starts a new log
