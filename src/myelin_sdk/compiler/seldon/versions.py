"""The served versions of a deployer's graph, and the names the Seldon mapping shares.

A deploy step serves ``versions`` of the whole graph, newest first: ``versions[0]`` is the one just
selected, ``versions[1]`` the one that served before it, and so on (``rolloutSpec`` ``destinationIndex``
indexes this list). The served versions are recorded, newest first, in the annotation ``myelin.io/versions``
(JSON), so the next deploy step reads them back with :func:`served_versions` and puts its new one in front.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...names import dns_label
from ...spec import Axon, Deployer

__all__ = [
    "API_VERSION",
    "FEEDBACK_PATHS",
    "KIND",
    "PREDICT_PATHS",
    "PROTOCOL",
    "REVIEW_LABEL",
    "REVIEW_VERSION",
    "ROUTE_ANNOTATION",
    "ROUTE_LABEL",
    "VERSIONS_ANNOTATION",
    "GraphVersion",
    "deployer_path",
    "route_suffix",
    "served_versions",
]

API_VERSION = "machinelearning.seldon.io/v1"
KIND = "SeldonDeployment"
#: ``spec.protocol``: the Seldon Core v1 protocol of DESIGN §5 (``{"data": {"ndarray": ...}}``).
PROTOCOL = "seldon"
#: Route paths served by the deployer's main SeldonDeployment at ``/api/v1.0/predictions``.
PREDICT_PATHS = ("/predict", "/api/v1.0/predictions")
#: Route paths served by ``/api/v1.0/feedback``.
FEEDBACK_PATHS = ("/send-feedback", "/api/v1.0/feedback")
#: The version folder every backend model serves in the first deploy's review.
REVIEW_VERSION = "latest"
#: The version label (predictor name) of the first deploy's review.
REVIEW_LABEL = "first"
#: Annotation holding the served versions, newest first, as JSON ``[{"label": ..., "models": {...}}]``.
VERSIONS_ANNOTATION = "myelin.io/versions"
#: Annotation (the route's path) and label (its DNS form) of every SeldonDeployment of a deployer with
#: several predict routes; a deployer with one predict route serves it at ``/predict`` without them.
ROUTE_ANNOTATION = "myelin.io/route"
ROUTE_LABEL = "route"  # -> the label myelin.io/route


@dataclass(frozen=True)
class GraphVersion:
    """One served version of the whole graph: backend model name -> model version name (a folder under that
    backend's trainer ``MODEL_PATH``), and a ``label`` that names the version's predictor.

    >>> GraphVersion({"BackendRecommender": "20190706-1200"}, label="v7").predictor_name
    'v7'
    """

    models: Mapping[str, str]
    label: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", dict(sorted(dict(self.models).items())))
        if not isinstance(self.label, str) or not self.label:
            raise ValueError("a GraphVersion needs a non-empty label")
        dns_label(self.label)  # raises ValueError when nothing DNS-safe is left
        for backend, version in self.models.items():
            if not backend:
                raise ValueError("a backend model name must not be empty")
            if not version or version in (".", "..") or "/" in version or "\0" in version:
                raise ValueError(
                    f"model version {version!r} of backend model {backend!r} is not a folder name "
                    f"(expected a single path component under the trainer's MODEL_PATH)"
                )

    def __hash__(self) -> int:
        return hash((self.label, tuple(self.models.items())))

    @property
    def predictor_name(self) -> str:
        """The name of this version's predictor: the label in DNS-1123 form."""
        return dns_label(self.label)

    @classmethod
    def uniform(cls, deployer: Deployer, version: str, label: str | None = None) -> GraphVersion:
        """Every backend model of ``deployer`` at the same ``version`` (label: the version, by default)."""
        models = {b.name: version for m in deployer.models for b in m.backend_models}
        return cls(models, label=label if label is not None else version)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "models": dict(self.models)}


def served_versions(manifest: Mapping[str, Any]) -> list[GraphVersion]:
    """The versions a SeldonDeployment built here serves, newest first (``[]`` without the annotation)."""
    annotations = manifest.get("metadata", {}).get("annotations", {}) or {}
    text = annotations.get(VERSIONS_ANNOTATION)
    if not text:
        return []
    return [GraphVersion(item["models"], label=item["label"]) for item in json.loads(text)]


def deployer_path(axon: Axon, deployer: Deployer) -> str:
    """The field path of ``deployer`` in ``axon`` (``spec.sensors[1].tasks[0].deployer``), for messages."""
    for i, sensor in enumerate(axon.sensors):
        for j, step in enumerate(sensor.tasks):
            if step.deployer is deployer:
                return f"spec.sensors[{i}].tasks[{j}].deployer"
    return "deployer"


def route_suffix(path: str) -> str | None:
    """The name suffix of a predict route's SeldonDeployment: none for ``/predict`` (and
    ``/api/v1.0/predictions``), else the path in DNS form.

    >>> route_suffix("/predict1"), route_suffix("/predict")
    ('predict1', None)
    """
    if path in PREDICT_PATHS:
        return None
    return dns_label(path.strip("/").replace("/", "-"))
