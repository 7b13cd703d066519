"""How the compiled objects of one axon find each other: object names, webhook endpoints, event names.

Every compiler module takes names from here, so a Sensor's dependency, the EventSource it listens to and the
exit notification a task sends always agree.

Events flow like this on a cluster:

- task templates POST ``/lifecycle`` on the webhook EventSource ``<axon>-events`` (port 12000);
- Alertmanager POSTs ``/alerts`` there; a user POSTs ``/rest-<sensor>`` for a Rest trigger;
- the calendar EventSource ``<axon>-calendar`` has one event per Calendar trigger;
- the Sensor ``<axon>-<sensor>`` filters those events and submits a Workflow from the WorkflowTemplate
  ``<axon>-sensor-<sensor>``, named ``<prefix>-<event id>`` so a duplicate event cannot start a second run.
"""

from __future__ import annotations

from ..config import CompileOptions
from ..names import dns_label
from ..spec import Axon

#: The webhook EventSource's port (the Argo Events convention).
WEBHOOK_PORT = 12000
#: Event (and endpoint) that task templates post their Succeeded/Failed notifications to.
LIFECYCLE_EVENT = "lifecycle"
#: Event (and endpoint) that Alertmanager posts firing alerts to.
ALERTS_EVENT = "alerts"
#: Longest run-name prefix: prefix + "-" + a 32-character event id must fit a 63-character label.
RUN_PREFIX_MAX = 26


def webhook_event_source_name(axon: Axon) -> str:
    """The axon's webhook EventSource: lifecycle notifications, alerts and Rest triggers."""
    return dns_label(axon.name, "events")


def calendar_event_source_name(axon: Axon) -> str:
    """The axon's calendar EventSource (one event per Calendar trigger)."""
    return dns_label(axon.name, "calendar")


def webhook_service_url(axon: Axon, options: CompileOptions, event: str) -> str:
    """The in-cluster URL of a webhook endpoint (Argo Events' Service ``<name>-eventsource-svc``)."""
    namespace = options.namespace or axon.namespace
    host = f"{webhook_event_source_name(axon)}-eventsource-svc"
    if namespace:
        host += f".{namespace}.svc"
    return f"http://{host}:{WEBHOOK_PORT}/{event}"


def rest_event_name(axon: Axon, sensor: str) -> str:
    """The webhook event (and endpoint path ``/<event>``) of a sensor's Rest triggers."""
    return dns_label("rest", sensor)


def calendar_event_name(sensor: str, trigger: str) -> str:
    """The calendar event of one Calendar trigger."""
    return dns_label(sensor, trigger)


def sensor_template_name(axon: Axon, sensor: str) -> str:
    """The WorkflowTemplate that runs a sensor's tasks in order."""
    return dns_label(axon.name, "sensor", sensor)


def sensor_name(axon: Axon, sensor: str) -> str:
    """The Argo Events Sensor of an Axon sensor that has triggers."""
    return dns_label(axon.name, sensor)


def run_prefix(axon: Axon, sensor: str) -> str:
    """The prefix of a sensor run's Workflow name; the event id is appended, so a duplicate event clashes."""
    return dns_label(axon.name, sensor, max_length=RUN_PREFIX_MAX)


def alert_name(axon: Axon, sensor: str, trigger: str) -> str:
    """The Prometheus alert name of an Alert trigger (CamelCase, as Prometheus alert names usually are)."""
    return "".join(p.capitalize() for p in dns_label(axon.name, sensor, trigger, max_length=200).split("-"))


def service_account_name(axon: Axon) -> str:
    """The account workflows and sensors run as: the axon's ``serviceAccountName``, else the generated one."""
    return axon.service_account_name or dns_label(axon.name, "myelin")


#: watched_tasks' one-entry cache: (axon, its sensors list, their number, the answer). Compiling asks once
#: per task; the answer is computed once per compile (``compile_axon`` works on its own copy of the axon).
_watched: list[tuple[Axon, object, int, frozenset[str]]] = []


def watched_tasks(axon: Axon) -> frozenset[str]:
    """Names of the tasks a Lifecycle trigger listens to: their templates send exit notifications.
    Constant time on repeated calls for the same axon (its ``sensors`` list unchanged)."""
    if _watched:
        cached, sensors, count, found = _watched[0]
        if cached is axon and sensors is axon.sensors and count == len(axon.sensors):
            return found
    found = frozenset(t.task for s in axon.sensors for t in s.triggers if t.type == "Lifecycle")
    _watched[:] = [(axon, axon.sensors, len(axon.sensors), found)]
    return found
