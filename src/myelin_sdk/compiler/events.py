"""Sensors and their triggers -> Argo Events ``EventSource``s and ``Sensor``s (plain dicts, no I/O).

For one axon::

    with Axon("ml-rec") as axon:
        train = TrainTask("Train", image="trainer:1")
        deploy = ContainerTask("Deploy", image="deployer:1")
        Sensor("Deployer", triggers=[Lifecycle(train, "Succeeded"), Rest("now")], tasks=[deploy])

    event_manifests(axon, CompileOptions())
    # -> EventSource ml-rec-events   webhook: lifecycle (POST /lifecycle), rest-deployer (POST /rest-deployer)
    #    Sensor      ml-rec-deployer dependencies: train-succeeded (lifecycle, filtered on axon/task/phase),
    #                                              now (rest-deployer)
    #                                triggers: one argoWorkflow submit per dependency (any of them fires)

What each Axon trigger becomes (every name comes from :mod:`.wiring`):

=============  ============================================================================================
``Lifecycle``  event ``lifecycle`` of the webhook EventSource ``<axon>-events``; task templates POST
               ``{"axon": <axon>, "task": <task name as written in the Axon>, "phase": "Succeeded"|"Failed"}``
               and the dependency keeps only the events of its axon, task and phase (``filters.data``).
``Alert``      event ``alerts`` of the same EventSource (Alertmanager's webhook receiver); the dependency
               keeps ``status == firing`` notifications whose ``commonLabels.alertname`` is
               :func:`.wiring.alert_name` (so the Alertmanager route must group by ``alertname``).
``Rest``       event ``rest-<sensor>`` of the same EventSource: ``POST /rest-<sensor>`` on port 12000.
``Calendar``   one event of the calendar EventSource ``<axon>-calendar`` (``schedule`` or ``interval``).
=============  ============================================================================================

Data filters of type ``string`` are regular expressions matched anywhere in the value (Argo Events'
``filterData`` uses Go's ``regexp.Match``), so every value is escaped and anchored: ``^ml-rec$``.

A Sensor submits a ``Workflow`` from the sensor's WorkflowTemplate (:func:`.wiring.sensor_template_name`).
Its name is :func:`.wiring.run_prefix` + ``-`` + the CloudEvent id of the event that fired (the trigger
parameter ``append``\\s ``context.id`` to ``metadata.name``): a re-delivered event, or a trigger retried after
``argo submit`` already created the run, clashes with the existing Workflow instead of starting a second run.
"""

from __future__ import annotations

from typing import Any

from ..config import CompileOptions
from ..errors import Diagnostic, MyelinError
from ..names import dns_label
from ..spec import Alert, Axon, Calendar, Lifecycle, Rest, Sensor
from ..spec.sensors import Trigger
from .bundle import Manifest
from .meta import labels, metadata
from .webhook_auth import auth_secret
from .wiring import (
    ALERTS_EVENT,
    LIFECYCLE_EVENT,
    WEBHOOK_PORT,
    alert_name,
    calendar_event_name,
    calendar_event_source_name,
    rest_event_name,
    run_prefix,
    sensor_name,
    sensor_template_name,
    service_account_name,
    webhook_event_source_name,
)

API_VERSION = "argoproj.io/v1alpha1"
#: How a failed ``argo submit`` is retried (Argo Events ``Backoff``: ``factor`` is a JSON number there).
RETRY_STRATEGY: dict[str, Any] = {"steps": 3, "duration": "10s", "factor": 2}
#: At most this many runs a minute per Argo trigger, whatever floods the webhook.
RATE_LIMIT: dict[str, Any] = {"unit": "Minute", "requestsPerUnit": 10}
#: Go's ``regexp.QuoteMeta`` set: the characters escaped in a data filter value.
_REGEXP_SPECIAL = frozenset("\\.+*?()|[]{}^$")


def exact(value: str) -> str:
    """A Go (RE2) regular expression matching exactly ``value`` (what Go's ``regexp.QuoteMeta`` escapes).

    >>> exact("a.b")
    '^a\\\\.b$'
    """
    return "^" + "".join("\\" + c if c in _REGEXP_SPECIAL else c for c in value) + "$"


def _string_filter(path: str, *values: str) -> dict[str, Any]:
    """A data filter passing when the string at ``path`` is exactly one of ``values``."""
    return {"path": path, "type": "string", "value": [exact(v) for v in values]}


#: The Argo step phases a Lifecycle condition stands for: a task that errored (``Error``) has failed too.
PHASES = {"Succeeded": ("Succeeded",), "Failed": ("Failed", "Error")}


# --- EventSources ------------------------------------------------------------------------------------------


def _webhook_entry(event: str, auth: dict[str, str]) -> dict[str, Any]:
    """One webhook event: ``POST /<event>`` on the shared port (no ``url``: see the module docstring), only
    with the bearer token of ``auth`` (:mod:`.webhook_auth`)."""
    return {"port": str(WEBHOOK_PORT), "endpoint": f"/{event}", "method": "POST", "authSecret": auth}


#: Labels of the webhook EventSource's pod (besides the axon's), which its NetworkPolicy selects.
WEBHOOK_POD_LABELS = {"myelin.io/component": "webhook"}


def webhook_pod_labels(axon: Axon) -> dict[str, str]:
    """The labels of the webhook EventSource's pod (:mod:`.network` selects it by them)."""
    return labels(axon) | WEBHOOK_POD_LABELS


def _triggers(axon: Axon, kind: type) -> list[tuple[Sensor, Trigger]]:
    return [(s, t) for s in axon.sensors for t in s.triggers if isinstance(t, kind)]


def _check_unique(names: list[tuple[str, str]], what: str) -> None:
    """Raise when two Axon objects map to one event name (``names``: (event, Axon field path))."""
    seen: dict[str, str] = {}
    problems = []
    for name, path in names:
        if name in seen:
            problems.append(Diagnostic(path, f"{what} {name!r} is also made from {seen[name]}: rename one"))
        seen.setdefault(name, path)
    if problems:
        raise MyelinError(problems)


def webhook_events(axon: Axon) -> list[str]:
    """The webhook EventSource's events, in order: ``lifecycle``, ``alerts``, then ``rest-<sensor>``s."""
    events = []
    if _triggers(axon, Lifecycle):
        events.append(LIFECYCLE_EVENT)
    if _triggers(axon, Alert):
        events.append(ALERTS_EVENT)
    rest = [
        (rest_event_name(axon, s.name), f"spec.sensors[{i}].name")
        for i, s in enumerate(axon.sensors)
        if any(isinstance(t, Rest) for t in s.triggers)
    ]
    _check_unique(rest, "Rest event")
    return events + [name for name, _ in rest]


def webhook_event_source(axon: Axon, options: CompileOptions) -> Manifest | None:
    """The axon's one webhook ``EventSource`` (None when no sensor has a Lifecycle, Alert or Rest trigger).

    Every event listens on port :data:`.wiring.WEBHOOK_PORT` under ``/<event>`` (POST). ``spec.service``
    exposes that port, so Argo Events creates the Service ``<name>-eventsource-svc`` that task templates and
    Alertmanager post to (:func:`.wiring.webhook_service_url`). Every event needs the bearer token of the
    Secret :func:`.webhook_auth.webhook_secret_name` (``authSecret``); the pod carries
    :func:`webhook_pod_labels`, by which the NetworkPolicy of :mod:`.network` selects it.
    """
    events = webhook_events(axon)
    if not events:
        return None
    name = webhook_event_source_name(axon)
    return {
        "apiVersion": API_VERSION,
        "kind": "EventSource",
        "metadata": metadata(axon, name, options),
        "spec": {
            "eventBusName": options.event_bus,
            "service": {"ports": [{"name": "http", "port": WEBHOOK_PORT, "targetPort": WEBHOOK_PORT}]},
            "template": {"metadata": {"labels": webhook_pod_labels(axon)}},
            "webhook": {event: _webhook_entry(event, auth_secret(axon, options)) for event in events},
        },
    }


def _calendar_entry(trigger: Calendar) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if trigger.schedule is not None:
        entry["schedule"] = trigger.schedule
    if trigger.interval is not None:
        entry["interval"] = trigger.interval
    if trigger.timezone is not None:
        entry["timezone"] = trigger.timezone
    return entry


def calendar_event_source(axon: Axon, options: CompileOptions) -> Manifest | None:
    """The axon's calendar ``EventSource``: one event per Calendar trigger (None when there is none).

    An event is named :func:`.wiring.calendar_event_name` and carries the trigger's ``schedule`` (5-field
    cron) or ``interval`` (``30s``, ``1h``), and its ``timezone`` when set.
    """
    found = [
        (s, t, f"spec.sensors[{i}].triggers[{j}].name")
        for i, s in enumerate(axon.sensors)
        for j, t in enumerate(s.triggers)
        if isinstance(t, Calendar)
    ]
    if not found:
        return None
    _check_unique([(calendar_event_name(s.name, t.name), path) for s, t, path in found], "calendar event")
    return {
        "apiVersion": API_VERSION,
        "kind": "EventSource",
        "metadata": metadata(axon, calendar_event_source_name(axon), options),
        "spec": {
            "eventBusName": options.event_bus,
            "calendar": {
                calendar_event_name(s.name, t.name): _calendar_entry(t)
                for s, t, _ in found
                if isinstance(t, Calendar)
            },
        },
    }


# --- Sensors -----------------------------------------------------------------------------------------------


def dependency_names(sensor: Sensor) -> list[str]:
    """One Argo Events dependency name per trigger: the trigger name in kebab case, made unique by position.

    >>> dependency_names(Sensor("S", triggers=[Rest("Now"), Rest("now")]))
    ['now', 'now-2']
    """
    names: list[str] = []
    for i, trigger in enumerate(sensor.triggers, start=1):
        name = dns_label(trigger.name)
        names.append(name if name not in names else dns_label(trigger.name, str(i)))
    return names


def dependency(axon: Axon, sensor: Sensor, trigger: Trigger, name: str) -> dict[str, Any]:
    """The Sensor dependency of one trigger: which EventSource event, and which of its events count."""
    webhook = webhook_event_source_name(axon)
    if isinstance(trigger, Lifecycle):
        return {
            "name": name,
            "eventSourceName": webhook,
            "eventName": LIFECYCLE_EVENT,
            "filters": {
                "data": [
                    _string_filter("body.axon", axon.name),
                    _string_filter("body.task", trigger.task),
                    _string_filter("body.phase", *PHASES[trigger.condition]),
                ]
            },
        }
    if isinstance(trigger, Alert):
        return {
            "name": name,
            "eventSourceName": webhook,
            "eventName": ALERTS_EVENT,
            "filters": {
                "data": [
                    _string_filter("body.status", "firing"),
                    _string_filter(
                        "body.commonLabels.alertname", alert_name(axon, sensor.name, trigger.name)
                    ),
                ]
            },
        }
    if isinstance(trigger, Rest):
        return {"name": name, "eventSourceName": webhook, "eventName": rest_event_name(axon, sensor.name)}
    return {
        "name": name,
        "eventSourceName": calendar_event_source_name(axon),
        "eventName": calendar_event_name(sensor.name, trigger.name),
    }


def run_workflow(axon: Axon, sensor: Sensor) -> dict[str, Any]:
    """The ``Workflow`` a trigger submits: the sensor's WorkflowTemplate, named ``<run prefix>-`` + event id.

    ``metadata.name`` ends with ``-``: the trigger appends the event's CloudEvent id (32 hex characters in
    Argo Events), which keeps the name within 63 characters (:data:`.wiring.RUN_PREFIX_MAX`). No namespace:
    Argo Events submits into the Sensor's namespace.
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "Workflow",
        "metadata": {
            "name": run_prefix(axon, sensor.name) + "-",
            "labels": labels(axon, sensor=dns_label(sensor.name)),
        },
        "spec": {"workflowTemplateRef": {"name": sensor_template_name(axon, sensor.name)}},
    }


def argo_trigger(axon: Axon, sensor: Sensor, dependency_name: str) -> dict[str, Any]:
    """The Argo Events trigger that submits one run when ``dependency_name``'s event arrives.

    ``operation: submit`` must be explicit (the Sensor controller rejects an empty operation). The one
    parameter appends the event's ``context.id`` to ``metadata.name``, so a run's name derives from the
    CloudEvent id. ``retryStrategy`` and ``rateLimit`` are :data:`RETRY_STRATEGY` and :data:`RATE_LIMIT`.
    """
    return {
        "template": {
            "name": dependency_name,
            "conditions": dependency_name,
            "argoWorkflow": {
                "operation": "submit",
                "source": {"resource": run_workflow(axon, sensor)},
                "parameters": [
                    {
                        "src": {"dependencyName": dependency_name, "contextKey": "id"},
                        "dest": "metadata.name",
                        "operation": "append",
                    }
                ],
            },
        },
        # without atLeastOnce the Sensor neither waits for nor retries a submit (pkg/sensors/listener.go)
        "atLeastOnce": True,
        "retryStrategy": dict(RETRY_STRATEGY),
        "rateLimit": dict(RATE_LIMIT),
    }


def sensor(axon: Axon, sensor: Sensor, options: CompileOptions) -> Manifest | None:
    """The Argo Events ``Sensor`` of an Axon sensor with triggers (None without: it runs once at submit).

    One dependency per Axon trigger (:func:`dependency`) and one Argo trigger per dependency
    (:func:`argo_trigger`, ``conditions: <dependency>``), so ANY of the Axon triggers starts a run. The run
    Workflow is named ``<run prefix>-<CloudEvent id>``. The Sensor pod runs as :func:`service_account_name`,
    which must be allowed to create Workflows.
    """
    if not sensor.triggers:
        return None
    names = dependency_names(sensor)
    return {
        "apiVersion": API_VERSION,
        "kind": "Sensor",
        "metadata": metadata(
            axon, sensor_name(axon, sensor.name), options, original=sensor.name, sensor=dns_label(sensor.name)
        ),
        "spec": {
            "eventBusName": options.event_bus,
            "template": {"serviceAccountName": service_account_name(axon)},
            "dependencies": [
                dependency(axon, sensor, t, n) for t, n in zip(sensor.triggers, names, strict=True)
            ],
            "triggers": [argo_trigger(axon, sensor, n) for n in names],
        },
    }


def event_manifests(axon: Axon, options: CompileOptions) -> list[Manifest]:
    """All Argo Events objects of ``axon``: the webhook and calendar EventSources, then the Sensors in axon
    order (sensors without triggers have none)."""
    out = [webhook_event_source(axon, options), calendar_event_source(axon, options)]
    out += [sensor(axon, s, options) for s in axon.sensors]
    return [m for m in out if m is not None]
