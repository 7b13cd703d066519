"""Compile-time configuration in one place: registry, namespace, images of the build steps, metric endpoints.

>>> opts = CompileOptions(registry="registry.example.com/ml", tag="v1")
>>> opts.image_for("train-myelin-recommender")
'registry.example.com/ml/train-myelin-recommender:v1'

Every field can also come from the environment (``MYELIN_REGISTRY``, ``MYELIN_NAMESPACE``, ...) through
:meth:`CompileOptions.from_env`; the CLI's flags override both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

#: The ways a Metric condition can be gated (``CompileOptions.gate``).
GATES = ("script", "analysis-run")


@dataclass(frozen=True)
class CompileOptions:
    """Settings the compiler needs that are not part of the Axon itself."""

    #: Registry (host and path) images are pushed to: ``<registry>/<repositoryName>:<tag>``.
    registry: str = "localhost:5000/myelin"
    #: Tag of built images.
    tag: str = "latest"
    #: Namespace written into every object; ``None`` leaves it to ``kubectl -n`` / ``myelin submit -n``.
    namespace: str | None = None
    #: A ``kubernetes.io/dockerconfigjson`` Secret with push credentials for the build steps.
    registry_secret: str | None = None
    #: Image of the build step (kaniko executor).
    kaniko_image: str = "gcr.io/kaniko-project/executor:v1.23.2"
    #: Image of the s2i step (``s2i build --as-dockerfile``), as in Tekton's s2i task.
    s2i_image: str = "quay.io/openshift-pipeline/s2i:nightly"
    #: Image of the ``checkImageExists`` step (``crane manifest``).
    crane_image: str = "gcr.io/go-containerregistry/crane:debug"
    #: Image of small shell steps (failing a task after its exit notification).
    shell_image: str = "busybox:1.36"
    #: Image that runs the metric gate (``python`` with only the standard library is needed).
    python_image: str = "python:3.12-alpine"
    #: Pushgateway URL given to tasks and models as ``PUSHGATEWAY_URL``.
    pushgateway_url: str = "http://prometheus-pushgateway.monitoring.svc:9091"
    #: Prometheus URL the metric gates query; an ``https`` one is verified (the system's CAs, or ``ca.crt``
    #: of :attr:`prometheus_secret`).
    prometheus_url: str = "http://prometheus-operated.monitoring.svc:9090"
    #: A Secret with key ``token`` (a bearer token sent to Prometheus) and optionally ``ca.crt`` (the CA of
    #: its https certificate), mounted into each gate step; the bundle names it, never holds its values.
    prometheus_secret: str | None = None
    #: Skip TLS verification of the gates' Prometheus (labs only).
    prometheus_insecure: bool = False
    #: Argo Events EventBus the EventSources and Sensors use.
    event_bus: str = "default"
    #: How Metric conditions are gated: ``script`` (an inline stdlib script step querying Prometheus) or
    #: ``analysis-run`` (an Argo Rollouts AnalysisRun created by a ``resource`` step; needs Argo Rollouts).
    gate: str = "script"
    #: The Secret holding the webhook EventSource's bearer token, keys ``token`` and ``authorization``
    #: (``Bearer <token>``); ``None``: ``<axon>-webhook-token``. The bundle refers to it, never holds it
    #: (docs/security.md: ``kubectl create secret``).
    webhook_secret: str | None = None
    #: Namespace of the Alertmanager that posts alerts to the webhook (its NetworkPolicy admits it).
    alertmanager_namespace: str = "monitoring"
    #: Labels of those Alertmanager pods, ``key=value[,key=value]`` (prometheus-operator's by default).
    alertmanager_labels: str = "app.kubernetes.io/name=alertmanager"

    def __post_init__(self) -> None:
        if self.gate not in GATES:
            from .errors import MyelinError

            raise MyelinError(f"gate: expected one of {', '.join(GATES)}, got {self.gate!r}")

    def image_for(self, repository: str) -> str:
        """The full image reference of a built repository."""
        return f"{self.registry.rstrip('/')}/{repository}:{self.tag}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> CompileOptions:
        """Defaults, then ``MYELIN_<FIELD>`` environment variables, then ``overrides`` that are not None."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = f"MYELIN_{f.name.upper()}"
            if source.get(key):  # an empty variable counts as unset
                text = source[key]
                values[f.name] = text.strip().lower() in ("1", "true", "yes") if f.type == "bool" else text
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)
