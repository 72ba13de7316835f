"""BuildKit's rewrite-timestamp path: written out, and why it cannot run here."""

from __future__ import annotations

from pathlib import Path

from mllab.experiments.reproducibility import buildkit


def test_buildkit_path_is_written_and_reports_why_it_cannot_run(monkeypatch):
    command = buildkit.buildkit_command(Path("/ctx"), "x:1")
    assert "rewrite-timestamp=true" in " ".join(command)
    assert "SOURCE_DATE_EPOCH=0" in command
    monkeypatch.setattr(buildkit, "buildkit_status", lambda: "Docker 20.10.24 without buildx")
    result = buildkit.buildkit_rewrite_timestamp()
    assert str(result.outcome) == "not run: Docker 20.10.24 without buildx"
    assert result.same is None and "rewrite-timestamp=true" in result.command
