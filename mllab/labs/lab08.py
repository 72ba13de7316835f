"""Lab 08 — Delivery: a registry, the CI/CD pipeline and an orchestrated deployment: the kit,
as the notebook uses it.

The lab runs the lecture's delivery end to end with the slim server image: a registry on
127.0.0.1, the pipeline Build → Test → Tag → Push → Deploy with model_version = f(git_commit,
docker_tag, hash) (claim C16), a tag that moves while a digest does not (C14), the same inputs
built twice (C15), and Docker Swarm: a rolling update and a rollback under load (Prometheus
scraping the replicas meanwhile), a replica killed, 1/2/4 replicas, the same deployment as
Kubernetes manifests. The registry, the stack and the swarm outlive the cells; :func:`cleanup`
(the lab's last cell, and ``mllab labs run`` after the lab) removes them. The ``docker`` SDK
is reached through :func:`docker_client`.

Groups: the engine, the model, the image and the registry; the pipeline; tags and digests;
Docker Swarm; Kubernetes; records, tables and claims; the exercise checks; the clean-up.
"""

from __future__ import annotations

from typing import Any

from mllab.containers.build import build_slim_logged as build_slim
from mllab.containers.engine import client as docker_client
from mllab.containers.engine import ensure_engine
from mllab.core.errors import InputError
from mllab.core.records import load_all, record
from mllab.core.tables import fold, format_table, labelled
from mllab.exercises.hidden import hidden_tests
from mllab.exercises.lab08 import check_next_version, check_rollout_verdict, exercise_timeline
from mllab.experiments.delivery.cleanup import cleanup, lab_registry
from mllab.experiments.delivery.digests import digest_rows, same_inputs_digests
from mllab.experiments.delivery.distribution import PullBack, Pushed, moving_tag, pull_back, push
from mllab.experiments.delivery.k8s_manifests import validate_manifests
from mllab.experiments.delivery.pipeline import PipelineRun, release_run, stage_table
from mllab.experiments.delivery.pipeline_steps import CANDIDATE, REPOSITORY
from mllab.experiments.delivery.prometheus import watch as watch_prometheus
from mllab.experiments.delivery.prometheus_view import plot_view as plot_prometheus
from mllab.experiments.delivery.prometheus_view import view_of as prometheus_view
from mllab.experiments.delivery.registry_api import RepoTags, registry_ls
from mllab.experiments.delivery.rollout import (
    Rollouts,
    demo_versions,
    failing_update,
    plot_rollout,
    rolling_update,
)
from mllab.experiments.delivery.scale import kill_under_load, plot_scale, swarm_scale
from mllab.experiments.delivery.swarm import deploy_up, service_tasks
from mllab.experiments.delivery.swarm_node import swarm_state
from mllab.model.artifacts import default_model
from mllab.report.claims import claims_table, format_claims, judge
from mllab.report.lab_summary import lab_pages

plan, summary = lab_pages("08")  # every lab's opening and closing cells (kit-wide)

__all__ = [
    # the engine, the model, the slim image and the registry (up for the whole lab)
    "ensure_engine",
    "docker_client",
    "swarm_state",
    "default_model",
    "build_slim",
    "lab_registry",
    # the pipeline: Build -> Test -> Tag -> Push -> Deploy (C16)
    "release_run",
    "stage_table",
    "registry_ls",
    "registry_rows",
    # a tag is a name, a digest is the artefact (C14); the same inputs, the same digest? (C15)
    "pull_back_release",
    "moving_tag",
    "same_inputs_digests",
    "digest_rows",
    # Docker Swarm: replicas, a rolling update, a rollback, a kill, scale
    "deploy_up",
    "service_tasks",
    "rolling_update",
    "failing_release",
    "failing_update",
    "Rollouts",
    "plot_rollout",
    # Prometheus scraping the replicas through both updates, beside locust
    "watch_prometheus",
    "prometheus_view",
    "plot_prometheus",
    "kill_under_load",
    "swarm_scale",
    "plot_scale",
    # Kubernetes: the same deployment, validated offline
    "validate_manifests",
    # records, tables and claims
    "record",
    "load_all",
    "fold",
    "labelled",
    "format_table",
    "judge",
    "claims_table",
    "format_claims",
    # the exercise checks
    "check_next_version",
    "hidden_tests",
    "exercise_timeline",
    "check_rollout_verdict",
    # the clean-up: the stack, the registry if started here, the swarm if the kit made it
    "cleanup",
]

#: the release that never becomes healthy (``rollout.demo_versions``): what a failed update is
FAILING_RELEASE = "1.2.0"


def registry_rows(repos: list[RepoTags]) -> list[dict[str, Any]]:
    """One table row per tag of the registry's repositories, with the digest it names."""
    return [
        {"repository": r.repository, "tag": tag, "digest": r.digests.get(tag, "")[:19]}
        for r in repos
        for tag in r.tags
    ]


def pull_back_release(run: PipelineRun, registry: str) -> PullBack:
    """The release ``run`` pushed, its local tags removed (also the pipeline's candidate tag,
    so that the image is really gone from the engine), pulled back by digest: is the ID the one
    that was built and tested?"""
    if run.tag is None or run.digest is None or run.image_id is None:
        raise InputError(f"release {run.release} was not pushed (stopped at {run.blocked_by})")
    pushed = Pushed(REPOSITORY, run.tag, run.digest, run.image_id, registry)
    return pull_back(pushed, also_remove=(CANDIDATE,))


def failing_release(slim: str, registry: str) -> Pushed:
    """Release 1.2.0, built FROM ``slim`` so that it never becomes healthy here (its
    ``failing_update`` says how), pushed to ``registry`` beside the pipeline's releases."""
    tag = demo_versions(slim, versions=[FAILING_RELEASE])[FAILING_RELEASE]
    return push(tag, f"{REPOSITORY}-demo", FAILING_RELEASE, registry)
