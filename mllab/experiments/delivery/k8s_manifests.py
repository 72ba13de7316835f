"""Lab 08's Kubernetes manifests (``deploy/k8s/``: Deployment, Service, HorizontalPodAutoscaler,
the swarm stack's equivalent), validated offline against the Kubernetes schemas that
kubernetes-validate ships. Not applied to a cluster here: there is none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mllab.core.paths import ROOT

K8S = ROOT / "deploy" / "k8s"
#: a Kubernetes version whose schemas kubernetes-validate 1.37 ships (and clusters still run)
KUBERNETES = "1.33.0"


@dataclass
class ManifestCheck:
    """One manifest validated: its file, what it is, the schema version it passed."""

    file: str
    api_version: str
    kind: str
    kubernetes: str


def documents(folder: Path = K8S) -> list[tuple[Path, dict[str, Any]]]:
    """Every YAML document of ``folder/*.yaml``, with its file, in file order."""
    return [
        (path, doc)
        for path in sorted(folder.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def validate_manifests(folder: Path = K8S, version: str = KUBERNETES) -> list[ManifestCheck]:
    """Each manifest of ``folder`` validated strictly (unknown fields refused) against
    Kubernetes ``version``; kubernetes-validate's ``ValidationError`` when one is invalid."""
    import kubernetes_validate  # deferred: the dev extra has it (schemas for every version)

    return [
        ManifestCheck(
            path.name,
            doc["apiVersion"],
            doc["kind"],
            kubernetes_validate.validate(doc, version, strict=True),
        )
        for path, doc in documents(folder)
    ]
