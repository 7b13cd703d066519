"""Alert triggers -> a prometheus-operator ``PrometheusRule`` and an ``AlertmanagerConfig``.

An Axon ``Alert`` trigger is PromQL over the metrics its tasks publish (``"{{accuracy}} < 0.9"``). On a
cluster it becomes one alerting rule; Alertmanager routes the firing alert to the axon's webhook EventSource
(``/alerts``, see :mod:`.wiring`), whose Sensor then runs the sensor's tasks::

    PrometheusRule <axon>-alerts          group <axon>-myelin, one rule per Alert trigger
      alert: <AxonSensorTrigger>          expr: the condition with published metric names
      labels: myelin_axon, myelin_sensor  (+ namespace, when the compile namespace is known)
    AlertmanagerConfig <axon>-alerts      route myelin_axon = <axon>, grouped by alertname
      receiver -> webhook http://<axon>-events-eventsource-svc.<ns>.svc:12000/alerts

>>> from myelin_sdk.spec import Axon
>>> axon = Axon.from_yaml('''
... apiVersion: myelin.io/v1alpha1
... kind: Axon
... metadata: {name: ml-rec}
... spec:
...   tasks: [{name: Train, train: {image: "python:3.11"}}]
...   sensors:
...   - name: Retrain
...     triggers: [{name: LowAccuracy, type: Alert, condition: "{{accuracy}} < 0.90", for: 5m}]
...     tasks: [{trainer: {task: Train}}]
... ''')
>>> rule = prometheus_rule(axon, CompileOptions(namespace="ml"))
>>> r = rule["spec"]["groups"][0]["rules"][0]
>>> r["alert"], r["expr"], r["for"]
('MlRecRetrainLowAccuracy', 'accuracy_ml__rec < 0.90', '5m')
>>> r["labels"]
{'myelin_axon': 'ml-rec', 'myelin_sensor': 'Retrain', 'namespace': 'ml'}
>>> config = alertmanager_config(axon, CompileOptions(namespace="ml"))
>>> config["spec"]["receivers"][0]["webhookConfigs"][0]["url"]
'http://ml-rec-events-eventsource-svc.ml.svc:12000/alerts'

The Axon's ``{{metric}}`` placeholders never reach these manifests: expressions and annotations carry the
rendered PromQL (Prometheus annotations are Go templates, so a stray ``{{name}}`` would even be evaluated).

Two cluster-side facts shape the output (prometheus-operator, ``AlertmanagerConfig`` CRD):

- the operator adds a ``namespace = <AlertmanagerConfig's namespace>`` matcher to the route, so an alert
  reaches it only with that ``namespace`` label. Metrics come through the Pushgateway, whose series carry
  the Pushgateway's namespace (or none), so each rule sets ``namespace`` itself when the compile namespace
  is known (compile with ``-n``); otherwise the cluster admin must set
  ``alertmanagerConfigMatcherStrategy: {type: None}`` on the Alertmanager resource (not
  ``enforcedNamespaceLabel`` on Prometheus: that also filters the rule's metrics by namespace, and
  Pushgateway series would never match);
- Prometheus and Alertmanager select these objects by label (``ruleSelector``,
  ``alertmanagerConfigSelector``); only the common Myelin labels are set here.
"""

from __future__ import annotations

from typing import Any

from ..config import CompileOptions
from ..errors import Diagnostic, MyelinError
from ..names import dns_label
from ..spec import Axon
from ..spec.expressions import parse_alert_condition
from ..spec.sensors import PROMETHEUS_DURATION, Alert
from .meta import metadata
from .webhook_auth import alertmanager_authorization
from .wiring import ALERTS_EVENT, alert_name, webhook_event_source_name, webhook_service_url

__all__ = [
    "ALERT_LABEL_AXON",
    "ALERT_LABEL_SENSOR",
    "GROUP_INTERVAL",
    "GROUP_WAIT",
    "REPEAT_INTERVAL",
    "alert_rules",
    "alertmanager_config",
    "alerts_object_name",
    "prometheus_rule",
]

PROMETHEUS_RULE_API = "monitoring.coreos.com/v1"
ALERTMANAGER_CONFIG_API = "monitoring.coreos.com/v1alpha1"

#: Alert label naming the axon (the AlertmanagerConfig routes on it).
ALERT_LABEL_AXON = "myelin_axon"
#: Alert label naming the Axon sensor whose tasks the alert starts.
ALERT_LABEL_SENSOR = "myelin_sensor"

#: Alertmanager waits this long to batch the first notification of a new alert group.
GROUP_WAIT = "10s"
#: ... and this long before notifying about alerts that joined an already notified group.
GROUP_INTERVAL = "5m"
#: A still-firing alert is re-sent (and so re-triggers its sensor) at most this often: a retraining run
#: must not be started again every few minutes while the first one is still running.
REPEAT_INTERVAL = "1h"


def alerts_object_name(axon: Axon) -> str:
    """The name of the axon's PrometheusRule and AlertmanagerConfig."""
    return dns_label(axon.name, "alerts")


def _alert_triggers(axon: Axon) -> list[tuple[str, Alert, str]]:
    """(sensor name, trigger, field path) of every Alert trigger, in declaration order."""
    return [
        (sensor.name, trigger, f"spec.sensors[{i}].triggers[{j}]")
        for i, sensor in enumerate(axon.sensors)
        for j, trigger in enumerate(sensor.triggers)
        if isinstance(trigger, Alert)
    ]


def _namespace(axon: Axon, options: CompileOptions) -> str | None:
    return options.namespace or axon.namespace


def alert_rules(axon: Axon, options: CompileOptions) -> list[dict[str, Any]]:
    """The alerting rules of the axon's Alert triggers (one each, in declaration order).

    Raises :class:`MyelinError` when a trigger's ``for`` is not a Prometheus duration (``30s``, ``5m``,
    ``1h30m``) or its condition does not render to valid PromQL.
    """
    namespace = _namespace(axon, options)
    rules: list[dict[str, Any]] = []
    errors: list[Diagnostic] = []
    for sensor, trigger, path in _alert_triggers(axon):
        try:
            expr = parse_alert_condition(trigger.condition).to_promql(axon.name)
        except ValueError as exc:
            errors.append(Diagnostic(f"{path}.condition", f"invalid alert condition: {exc}"))
            continue
        if trigger.for_ is not None and not (trigger.for_ and PROMETHEUS_DURATION.fullmatch(trigger.for_)):
            errors.append(
                Diagnostic(
                    f"{path}.for",
                    f"{trigger.for_!r} is not a Prometheus duration: expected e.g. '30s', '5m' or '1h30m'",
                )
            )
            continue
        rule: dict[str, Any] = {"alert": alert_name(axon, sensor, trigger.name), "expr": expr}
        if trigger.for_ is not None:
            rule["for"] = trigger.for_
        labels = {ALERT_LABEL_AXON: axon.name, ALERT_LABEL_SENSOR: sensor}
        if namespace:
            labels["namespace"] = namespace
        rule["labels"] = labels
        rule["annotations"] = {
            "summary": f"Alert trigger {trigger.name!r} of sensor {sensor!r} (axon {axon.name!r}) fired",
            "description": (
                f"{expr} held{f' for {trigger.for_}' if trigger.for_ else ''}: "
                f"axon {axon.name!r} runs the tasks of sensor {sensor!r}."
            ),
        }
        rules.append(rule)
    if errors:
        raise MyelinError(errors)
    return rules


def prometheus_rule(axon: Axon, options: CompileOptions) -> dict[str, Any] | None:
    """The axon's ``PrometheusRule`` (one group, one alerting rule per Alert trigger); None without alerts."""
    rules = alert_rules(axon, options)
    if not rules:
        return None
    return {
        "apiVersion": PROMETHEUS_RULE_API,
        "kind": "PrometheusRule",
        "metadata": metadata(axon, alerts_object_name(axon), options),
        "spec": {"groups": [{"name": dns_label(axon.name, "myelin"), "rules": rules}]},
    }


def alertmanager_config(axon: Axon, options: CompileOptions) -> dict[str, Any] | None:
    """The ``AlertmanagerConfig`` sending the axon's alerts to its webhook EventSource; None without alerts.

    Alerts are matched on ``myelin_axon``, grouped by ``alertname`` (one notification per trigger, whatever
    the number of series) and posted with ``sendResolved: true``: the Sensor filters on ``status: firing``.
    """
    if not _alert_triggers(axon):
        return None
    receiver = webhook_event_source_name(axon)
    return {
        "apiVersion": ALERTMANAGER_CONFIG_API,
        "kind": "AlertmanagerConfig",
        "metadata": metadata(axon, alerts_object_name(axon), options),
        "spec": {
            "route": {
                "receiver": receiver,
                "matchers": [{"name": ALERT_LABEL_AXON, "matchType": "=", "value": axon.name}],
                "groupBy": ["alertname"],
                "groupWait": GROUP_WAIT,
                "groupInterval": GROUP_INTERVAL,
                "repeatInterval": REPEAT_INTERVAL,
            },
            "receivers": [
                {
                    "name": receiver,
                    "webhookConfigs": [
                        {
                            "url": webhook_service_url(axon, options, ALERTS_EVENT),
                            "sendResolved": True,
                            "httpConfig": alertmanager_authorization(axon, options),  # the webhook's token
                        }
                    ],
                }
            ],
        },
    }
