"""The pipeline for real: the slim image built, run and compared with the host, pushed to a
registry the test starts (its own port and storage), and deployed on a swarm stack of its own
(``MLLAB08_STACK``, another port), all removed afterwards. The logic is tested with fakes in
test_pipeline.py."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mllab.core.errors import IntegrityError
from mllab.experiments.delivery.pipeline import DELTA_BUDGET, STAGES, run_pipeline
from mllab.experiments.delivery.pipeline_steps import build_candidate, real_steps
from mllab.experiments.delivery.registry import registry_running
from mllab.model.artifacts import default_model
from mllab.model.integrity import write_digest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

#: ports of this test's registry and stack: not the kit's (5000, 8087) nor other tests' (5055)
REGISTRY_PORT, STACK_PORT = 5066, 8097
STACK = "mllab08pipe"


def _other_weights(model, folder):
    """A copy of ``model`` whose output bias moves by 0.05 (a valid model with its own
    ``.sha256``, but not the one in the image): Δ ≈ 0.05·√1000 ≈ 1.6 on every image."""
    import onnx  # deferred: only this test edits a model
    from onnx import numpy_helper

    proto = onnx.load(str(model))
    bias = next(t for t in proto.graph.initializer if list(t.dims) == [1000])
    moved = numpy_helper.to_array(bias) + np.float32(0.05)
    bias.CopyFrom(numpy_helper.from_array(moved.astype(np.float32), bias.name))
    path = folder / "other-weights.onnx"
    onnx.save(proto, str(path))
    write_digest(path)
    return path


def test_a_model_other_than_the_images_fails_the_test_and_blocks_push_and_deploy(tmp_path):
    """The image holds the kit's model; the pipeline is given another one (same architecture,
    moved weights): Test fails with the sha256 in the image ≠ the file's and Δ over budget, and
    nothing is tagged, pushed or deployed (the registry and the swarm are never touched)."""
    kit_model = default_model()
    steps = real_steps()
    steps = dataclasses.replace(
        steps,
        build=lambda _model, version: build_candidate(kit_model, version),
        registry=lambda _address: pytest.fail("a blocked pipeline must not start a registry"),
        deploy=lambda *_: pytest.fail("a blocked pipeline must not deploy"),
    )
    run = run_pipeline("1.0.0", _other_weights(kit_model, tmp_path), steps=steps)
    test = run.stage("test")
    assert run.stage("build").outcome.ok and run.blocked_by == "test"
    assert test.outcome.reason.startswith(IntegrityError.__name__)
    assert "sha256 of the model file in the image" in test.outcome.reason
    assert f"> the budget {DELTA_BUDGET:g}" in test.outcome.reason
    assert test.detail["delta_l2"] > 1.0 and test.detail["sha256_in_image"] != run.model_sha256
    for stage in ("tag", "push", "deploy"):
        assert run.stage(stage).outcome.reason.startswith("blocked: test failed: IntegrityError")
    assert run.digest is None and run.url is None


#: runs in a child process: the swarm module reads MLLAB08_STACK when it is imported
_FULL_RUN = textwrap.dedent(
    """
    import contextlib, functools, json, sys
    from mllab.experiments.delivery.registry import registry_running
    from mllab.experiments.delivery.swarm import deploy_down
    from mllab.core.records import as_fields
    from mllab.experiments.delivery.pipeline import run_pipeline, stage_table
    from dataclasses import replace
    from mllab.experiments.delivery.pipeline_steps import deploy_swarm, real_steps

    port, storage, stack_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])

    @contextlib.contextmanager
    def registry(_address):
        with registry_running(port, storage) as state:
            yield state.address

    steps = replace(real_steps(), registry=registry)
    deploy = functools.partial(deploy_swarm, port=stack_port)
    try:
        run = run_pipeline("1.0.0", steps=steps, replicas=1, deploy=deploy)
        print(stage_table(run), file=sys.stderr)
        print(json.dumps(as_fields(run)))
    finally:
        deploy_down()
    """
)


def test_the_whole_pipeline_builds_tests_tags_pushes_and_deploys(tmp_path):
    env = {**os.environ, "MLLAB08_STACK": STACK}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _FULL_RUN,
            str(REGISTRY_PORT),
            str(tmp_path / "registry"),
            str(STACK_PORT),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stderr[-1500:])  # the stage table, with seconds, in the test's output
    run = json.loads(done.stdout.strip().splitlines()[-1])
    assert [s["name"] for s in run["stages"]] == list(STAGES)
    assert [s["outcome"]["status"] for s in run["stages"]] == ["ran"] * 5, run["stages"]
    test = run["stages"][1]["detail"]
    assert test["delta_l2"] <= DELTA_BUDGET and test["top1_agreement"] == 1.0
    assert run["reference"] == f"127.0.0.1:{REGISTRY_PORT}/mllab/serve@{run['digest']}"
    assert run["labels"]["org.mllab.model.sha256"] == run["model_sha256"]
    assert run["labels"]["org.opencontainers.image.revision"] == run["git_commit"]
    assert run["deployed_sha256"] == run["model_sha256"]
    assert run["stages"][4]["detail"]["model_versions_deployed"] == [run["model_version"]]
    _tag_is_immutable(run, tmp_path / "registry")


def _tag_is_immutable(run: dict, storage) -> None:
    """After the push: the same image again passes Tag (a rerun), another image under the same
    version tag is refused (ImmutableTagError), and the registry still holds the first."""
    from mllab.experiments.delivery.distribution import ImmutableTagError
    from mllab.experiments.delivery.pipeline_steps import CANDIDATE, check_tag_free
    from mllab.experiments.delivery.registry_api import manifest_digest
    from mllab.experiments.delivery.versions import version_of_labels

    version = version_of_labels(run["labels"])
    with registry_running(REGISTRY_PORT, storage) as state:
        try:
            assert check_tag_free(CANDIDATE, version, state.address).endswith(version.tag)
            with pytest.raises(ImmutableTagError, match="never overwritten"):
                check_tag_free("mllab/nginx:bookworm", version, state.address)
            assert manifest_digest("mllab/serve", version.tag, state.address) == run["digest"]
        finally:
            _untag(f"{state.address}/mllab/serve:{version.tag}")


def _untag(reference: str) -> None:
    """Remove the test's registry-named tag (the candidate image keeps its own tag)."""
    import docker.errors  # deferred: the docker SDK is heavy at start-up

    from mllab.containers.engine import client

    with contextlib.suppress(docker.errors.APIError):
        client().images.remove(reference)
