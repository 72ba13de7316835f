"""deploy/k8s/*.yaml: valid against the Kubernetes schemas (offline, kubernetes-validate) and
equivalent to the swarm stack (docker/swarm/stack.yml). Not run on a cluster here."""

from __future__ import annotations

import copy

import pytest
import yaml

from mllab.core.paths import DOCKER
from mllab.experiments.delivery.k8s_manifests import KUBERNETES, documents, validate_manifests

kubernetes_validate = pytest.importorskip("kubernetes_validate")  # the dev extra pins it


def _documents() -> dict[str, dict]:
    return {doc["kind"]: doc for _, doc in documents()}


@pytest.fixture(scope="module")
def docs() -> dict[str, dict]:
    return _documents()


@pytest.fixture(scope="module")
def stack_server() -> dict:
    return yaml.safe_load((DOCKER / "swarm" / "stack.yml").read_text())["services"]["server"]


def test_deployment_service_and_hpa_are_all_there(docs):
    assert set(docs) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    assert docs["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"


@pytest.mark.parametrize("kind", ["Deployment", "Service", "HorizontalPodAutoscaler"])
def test_each_manifest_is_valid_against_the_kubernetes_schema_strictly(docs, kind):
    assert kubernetes_validate.validate(docs[kind], KUBERNETES, strict=True)


def test_the_labs_validation_names_each_file_and_the_schema_it_passed():
    checks = {check.kind: check for check in validate_manifests()}
    assert set(checks) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    assert checks["Deployment"].file == "deployment.yaml"
    assert checks["HorizontalPodAutoscaler"].api_version == "autoscaling/v2"
    assert all(check.kubernetes.startswith("1.33") for check in checks.values())


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d["spec"].__setitem__("replicas", "two"),
        lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("readyProbe", {}),
        lambda d: d["spec"].pop("selector"),
    ],
)
def test_a_broken_deployment_is_refused(docs, breakage):
    broken = copy.deepcopy(docs["Deployment"])
    breakage(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_the_deployment_does_what_the_stack_does(docs, stack_server):
    deployment = docs["Deployment"]
    spec = deployment["spec"]
    container = spec["template"]["spec"]["containers"][0]
    swarm = stack_server["deploy"]
    # start-first, one at a time <-> never fewer ready pods, one extra at a time
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert swarm["update_config"]["order"] == "start-first"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert "/ready" in " ".join(stack_server["healthcheck"]["test"])
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert "${MLLAB08_CPUS:-1}" in swarm["resources"]["limits"]["cpus"]
    assert "1g" in swarm["resources"]["limits"]["memory"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MAX_IN_FLIGHT"] == stack_server["environment"]["MAX_IN_FLIGHT"]
    assert "@sha256:" in container["image"]  # by digest, as the stack is deployed


def test_service_and_hpa_point_at_the_deployment(docs):
    deployment, service, hpa = docs["Deployment"], docs["Service"], docs["HorizontalPodAutoscaler"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert (
        hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    )
    cpu = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
    assert cpu  # a CPU utilisation target needs a request to be a share of
