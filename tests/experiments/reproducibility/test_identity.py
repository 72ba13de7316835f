"""Package manifests (PEP 503 names, freeze form), tags/IDs/digests."""

from __future__ import annotations

import pytest

from mllab.experiments.reproducibility import identity


def test_manifest_diff_splits_shared_and_one_sided():
    host = {"numpy": "2.4.6", "torch": "2.14.1", "onnxruntime-gpu": "1.31.1"}
    box = {"numpy": "2.4.6", "onnxruntime": "1.31.1"}
    diff = identity.manifest_diff(host, box)
    assert diff.shared == 1 and diff.equal_on_shared is True
    assert diff.only_a == ["onnxruntime-gpu==1.31.1", "torch==2.14.1"]
    assert diff.only_b == ["onnxruntime==1.31.1"]
    rows = {r["package"]: r for r in identity.diff_rows(diff)}
    assert rows["torch"] == {"package": "torch", "host": "2.14.1", "container": "-"}
    assert rows["onnxruntime"] == {"package": "onnxruntime", "container": "1.31.1", "host": "-"}
    diff = identity.manifest_diff(host, {"numpy": "2.4.5"})
    assert diff.equal_on_shared is False and diff.different == {"numpy": ("2.4.6", "2.4.5")}
    assert identity.manifest_digest(host) != identity.manifest_digest(box)


def test_host_manifest_is_this_venv_in_freeze_form():
    import importlib.metadata

    host = identity.host_manifest()
    assert host["numpy"] == importlib.metadata.version("numpy")
    # typing_extensions is installed as "typing_extensions": listed under its PEP 503 name
    assert importlib.metadata.version("typing_extensions") == host["typing-extensions"]
    assert not any("_" in name or name != name.lower() for name in host)
    lines = identity.freeze_lines({"numpy": "2.4.6", "a-b": "1"})
    assert lines == ["a-b==1", "numpy==2.4.6"]


def test_manifest_names_are_pep503_normalised():
    raw = {"Typing_Extensions": "4", "zope.interface": "6", "PyYAML": "6.0"}
    assert identity._normalise(raw) == {
        "typing-extensions": "4",
        "zope-interface": "6",
        "pyyaml": "6.0",
    }


@pytest.mark.docker
@pytest.mark.slow
def test_container_manifest_and_identity():
    from mllab.containers.build import build_slim

    tag = build_slim()
    box = identity.container_manifest(tag)
    assert "onnxruntime" in box and "torch" not in box
    diff = identity.manifest_diff(identity.host_manifest(), box)
    assert diff.shared > 0
    image = identity.image_identity(tag)
    assert image.id_is_config_sha256
    assert image.repo_digests == []
    # another tag of the same image: the same identity, from the config read once
    from mllab.containers.engine import client

    other = "mllab-test/identity:second-tag"
    client().images.get(tag).tag(other)
    try:
        hits = identity._config_sha256_of.cache_info().hits
        again = identity.image_identity(other)
        assert identity._config_sha256_of.cache_info().hits == hits + 1
        assert again.id == image.id and again.config_sha256 == image.config_sha256
    finally:
        client().images.remove(other)
