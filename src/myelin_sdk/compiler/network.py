"""The NetworkPolicy of the axon's webhook EventSource: only the axon's own senders reach it.

The webhook starts runs (a Lifecycle notification, an alert, a Rest trigger), so besides its bearer token
(:mod:`.webhook_auth`) its pod admits, on its port only::

    NetworkPolicy <axon>-webhook   pods  myelin.io/axon=<axon>, myelin.io/component=webhook (the EventSource)
      from  pods of the axon (myelin.io/axon=<axon>), same namespace             always
            Argo agent pods (workflows.argoproj.io/component=agent), same namespace  with Lifecycle triggers
            Alertmanager pods (options.alertmanager_labels) in namespace
            options.alertmanager_namespace (kubernetes.io/metadata.name)           with Alert triggers

The Argo agent runs a workflow's ``http`` steps (the exit notifications); its pods carry no label of the
axon, so every agent of the namespace is admitted (each still needs the token). A user's Rest trigger from
outside those pods needs a policy of its own, or ``kubectl port-forward`` (which a NetworkPolicy does not
filter)::

    >>> from myelin_sdk.spec import Axon
    >>> axon = Axon.from_yaml('''
    ... apiVersion: myelin.io/v1alpha1
    ... kind: Axon
    ... metadata: {name: ml-rec}
    ... spec:
    ...   tasks: [{name: Train, train: {image: "python:3.11"}}]
    ...   sensors:
    ...   - name: Retrain
    ...     triggers: [{name: Low, type: Alert, condition: "{{accuracy}} < 0.9"}]
    ...     tasks: [{trainer: {task: Train}}]
    ... ''')
    >>> policy = webhook_network_policy(axon, CompileOptions(namespace="ml"))
    >>> [sorted(peer) for peer in policy["spec"]["ingress"][0]["from"]]
    [['podSelector'], ['namespaceSelector', 'podSelector']]
"""

from __future__ import annotations

from typing import Any

from ..config import CompileOptions
from ..errors import Diagnostic, MyelinError
from ..names import dns_label
from ..spec import Axon
from .events import webhook_events, webhook_pod_labels
from .meta import AXON_LABEL, metadata
from .wiring import ALERTS_EVENT, LIFECYCLE_EVENT, WEBHOOK_PORT

__all__ = ["AGENT_LABELS", "NAMESPACE_LABEL", "parse_labels", "webhook_network_policy"]

#: The label Kubernetes puts on every namespace: its name.
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
#: The labels of Argo's agent pods (they run ``http`` templates).
AGENT_LABELS = {"workflows.argoproj.io/component": "agent"}


def parse_labels(text: str, where: str = "alertmanager_labels") -> dict[str, str]:
    """``key=value[,key=value]`` as a dict; a :class:`MyelinError` naming ``where`` when malformed.

    >>> parse_labels("app.kubernetes.io/name=alertmanager, alertmanager=main")
    {'alertmanager': 'main', 'app.kubernetes.io/name': 'alertmanager'}
    """
    out: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise MyelinError([Diagnostic(where, f"expected key=value[,key=value], got {text[:80]!r}")])
        out[key.strip()] = value.strip()
    return dict(sorted(out.items()))


def webhook_network_policy(axon: Axon, options: CompileOptions) -> dict[str, Any] | None:
    """The ``NetworkPolicy`` of the module docstring; None when the axon has no webhook EventSource."""
    events = webhook_events(axon)
    if not events:
        return None
    peers: list[dict[str, Any]] = [{"podSelector": {"matchLabels": {AXON_LABEL: axon.name}}}]
    if LIFECYCLE_EVENT in events:
        peers.append({"podSelector": {"matchLabels": dict(AGENT_LABELS)}})
    if ALERTS_EVENT in events:
        peers.append(
            {
                "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: options.alertmanager_namespace}},
                "podSelector": {"matchLabels": parse_labels(options.alertmanager_labels)},
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(axon, dns_label(axon.name, "webhook"), options),
        "spec": {
            "podSelector": {"matchLabels": webhook_pod_labels(axon)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": peers, "ports": [{"port": WEBHOOK_PORT, "protocol": "TCP"}]}],
        },
    }
