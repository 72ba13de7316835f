"""Push, pull back by digest, the moving tag and immutable version tags, against a real
registry started by the kit (port 5055, storage in a temp folder)."""

from __future__ import annotations

import pytest

from mllab.containers.base import image_id
from mllab.containers.build import remove_image
from mllab.core.errors import InputError
from mllab.experiments.delivery.distribution import (
    ImmutableTagError,
    Pushed,
    demo_image,
    moving_tag,
    pull,
    pull_back,
    push,
    push_version,
    remove_local,
)
from mllab.experiments.delivery.registry import registry_running
from mllab.experiments.delivery.registry_api import manifest_digest, registry_ls
from mllab.experiments.delivery.versions import BuildVersion

TEST_PORT = 5055
LOCAL = "mllab-registry-test/img"
VERSION = BuildVersion("1.0.0", 7, "ab" * 20, False, "cd" * 32)


def test_pushed_names_by_tag_and_by_digest():
    pushed = Pushed(
        "mllab/serve", "1.0.0-build.7", "sha256:" + "e" * 64, "sha256:1", "127.0.0.1:5000"
    )
    assert pushed.by_tag == "127.0.0.1:5000/mllab/serve:1.0.0-build.7"
    assert pushed.by_digest == "127.0.0.1:5000/mllab/serve@sha256:" + "e" * 64


def test_pull_needs_a_tag_or_a_digest():
    with pytest.raises(InputError, match="name a tag"):
        pull("127.0.0.1:5000/mllab/serve")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """The kit's registry on the test port, stopped after the module."""
    with registry_running(TEST_PORT, tmp_path_factory.mktemp("registry")) as state:
        assert state.started, f"something already answers on {TEST_PORT}: free the port"
        yield state.address


@pytest.fixture
def made():
    """References the test creates in the engine; all removed afterwards."""
    references: list[str] = []
    yield references
    for reference in reversed(references):
        if reference.startswith(LOCAL):
            remove_image(reference)  # built here: also the build's note of its stages
        else:
            remove_local(reference)


def _image(made: list[str], name: str, content: str, labels=None) -> str:
    made.append(f"{LOCAL}:{name}")
    demo_image(f"{LOCAL}:{name}", content, labels)
    return f"{LOCAL}:{name}"


def _track(made: list[str], pushed: Pushed) -> Pushed:
    made.extend([pushed.by_tag, pushed.by_digest])
    return pushed


@pytest.mark.docker
def test_push_remove_and_pull_back_by_digest(registry, made):
    local = _image(made, "pullback", "pull me back\n")
    pushed = _track(made, push(local, "mllab/test-pullback", "1", registry))
    assert pushed.digest.startswith("sha256:") and pushed.image_id == image_id(local)
    assert manifest_digest("mllab/test-pullback", "1", registry) == pushed.digest
    back = pull_back(pushed, also_remove=(local,))
    assert back.absent_before_pull, "the image was still in the engine: the pull proved nothing"
    assert back.same_id and back.pulled_id == pushed.image_id
    assert back.layers_downloaded == 1 and back.layers_present == 0  # its one layer, really
    assert image_id(local) == pushed.image_id  # the removed tags are back


@pytest.mark.docker
def test_a_tag_moves_a_digest_does_not(registry):
    moved = moving_tag(registry, repository="mllab/test-moving")
    assert moved.first.digest != moved.second.digest
    assert moved.first.image_id != moved.second.image_id
    assert moved.tag_moved and moved.tag_digest_now == moved.second.digest
    assert moved.by_tag_id == moved.second.image_id
    assert moved.digest_pinned and moved.by_digest_id == moved.first.image_id
    assert image_id(moved.first.image_id) is None  # the demo images are removed again
    repos = {r.repository: r for r in registry_ls(registry)}
    assert repos["mllab/test-moving"].digests == {"demo": moved.second.digest}


@pytest.mark.docker
def test_a_version_tag_is_never_overwritten(registry, made):
    first = _image(made, "v1", "version one\n", VERSION.labels())
    pushed = _track(made, push_version(first, VERSION, "mllab/test-versions", registry))
    assert pushed.uploaded and pushed.tag == "1.0.0-build.7"
    again = push_version(first, VERSION, "mllab/test-versions", registry)
    assert not again.uploaded and again.digest == pushed.digest  # same image: a no-op
    other = _image(made, "v1-other", "another image, same version\n", VERSION.labels())
    with pytest.raises(ImmutableTagError, match="never overwritten"):
        push_version(other, VERSION, "mllab/test-versions", registry)
    assert manifest_digest("mllab/test-versions", VERSION.tag, registry) == pushed.digest


@pytest.mark.docker
def test_an_image_without_its_version_labels_is_not_pushed(registry, made):
    unlabelled = _image(made, "unlabelled", "no labels\n")
    with pytest.raises(InputError, match="no version labels"):
        push_version(unlabelled, VERSION, "mllab/test-unlabelled", registry)
    other = BuildVersion("1.0.0", 8, "ab" * 20, False, "cd" * 32)
    labelled = _image(made, "labelled", "labelled as build 8\n", other.labels())
    with pytest.raises(InputError, match="labelled 1.0.0-build.8"):
        push_version(labelled, VERSION, "mllab/test-unlabelled", registry)
    assert manifest_digest("mllab/test-unlabelled", VERSION.tag, registry) is None


@pytest.mark.docker
@pytest.mark.slow
def test_the_slim_image_as_a_version_round_trips_by_digest(executed_lab):
    """Lab 08's run (issue 17: not repeated here): the pipeline's 1.1.0 build of the slim server,
    pushed, its local tags removed, pulled back by digest: the same image ID, truly pulled."""
    back = executed_lab("08").record("PullBack")
    assert back["absent_before_pull"], "the image was still in the engine: the pull proved nothing"
    assert back["same_id"] and back["pulled_id"] == back["built_id"]
    assert back["reference"].split("@")[1].startswith("sha256:") and back["retagged"]


@pytest.mark.docker
def test_a_push_to_a_registry_that_is_down_says_so(made):
    from mllab.experiments.delivery.distribution import TransferFailed
    from mllab.serve.process import free_port

    local = _image(made, "nowhere", "never pushed\n")
    address = f"127.0.0.1:{free_port()}"
    made.append(f"{address}/mllab/test-down:1")
    with pytest.raises(TransferFailed, match="mllab registry up"):
        push(local, "mllab/test-down", "1", address)
