"""Sensors -> Argo Events EventSources and Sensors (``myelin_sdk.compiler.events``).

No Argo Events controller can run here, so these tests check two things: every document validates against
the upstream Argo Events JSON schema (``support.schemas``, strict: ``additionalProperties: false`` injected),
and the documented contract holds — dependencies point at events their EventSource declares, filters
select exactly the axon/task/phase or alert they mean, each Axon trigger becomes one Argo trigger that
submits the sensor's WorkflowTemplate under a name derived from the CloudEvent id.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from myelin_sdk import (
    Alert,
    Axon,
    Calendar,
    CompileOptions,
    ContainerTask,
    Lifecycle,
    Metric,
    MyelinError,
    Rest,
    Sensor,
    TrainTask,
)
from myelin_sdk.compiler import wiring
from myelin_sdk.compiler.events import (
    RATE_LIMIT,
    RETRY_STRATEGY,
    calendar_event_source,
    dependency_names,
    event_manifests,
    exact,
    sensor,
    webhook_event_source,
)
from myelin_sdk.compiler.wiring import service_account_name
from myelin_sdk.names import is_dns_label
from myelin_sdk.spec.expressions import placeholders

from support.manifests import strings
from support.schemas import SchemaValidator, assert_valid

PROJECT = Path(__file__).resolve().parents[2]
SHARED_AXONS = PROJECT.parent / "shared" / "axons"
RBAC_FILE = "recommender-demo.myelin-sa.yaml"
#: Argo Events' CloudEvent ids: ``fmt.Sprintf("%x", uuid.New())``, 32 hex characters.
EVENT_ID_LENGTH = 32
OPTIONS = CompileOptions()


def _axon_files() -> list[Path]:
    files = sorted(SHARED_AXONS.glob("*.yaml")) + sorted(SHARED_AXONS.glob("examples/*.yaml"))
    return [f for f in files if f.name != RBAC_FILE]


AXON_FILES = _axon_files()


def _file_id(path: Path) -> str:
    return str(path.relative_to(SHARED_AXONS))


# --- axons and helpers -------------------------------------------------------------------------------------


def every_trigger_axon(**axon_fields: Any) -> Axon:
    """An axon that uses every trigger type (and a sensor without triggers)."""
    with Axon("ml-rec", **axon_fields) as axon:
        prep = ContainerTask("DataPrep", image="busybox", command=["true"])
        train = TrainTask("TrainModel", image="busybox")
        deploy = ContainerTask("Deploy", image="busybox")
        Sensor("TrainOnStart", tasks=[prep, train])
        Sensor(
            "Deployer",
            triggers=[Lifecycle(train, "Succeeded")],
            conditions=[Metric("{{train_rmse}} < 0.95")],
            tasks=[deploy],
        )
        Sensor("RetrainOnFailure", triggers=[Lifecycle(train, "Failed")], tasks=[train])
        Sensor("Watchdog", triggers=[Alert("{{deploy_accuracy}} < 0.9", name="AccuracyDrop")], tasks=[train])
        Sensor(
            "Everything",
            triggers=[
                Lifecycle(prep, "Succeeded"),
                Alert("{{deploy_accuracy}} < 0.8", name="LowAccuracy"),
                Rest("Manual"),
                Calendar(name="Nightly", schedule="0 3 * * *", timezone="Europe/Paris"),
                Calendar(name="Hourly", interval="1h"),
            ],
            tasks=[prep, train],
        )
        Sensor("OnDemand", triggers=[Rest()], tasks=[prep])
    return axon


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def sensor_doc(docs: list[dict[str, Any]], original: str) -> dict[str, Any]:
    (found,) = [
        d for d in by_kind(docs, "Sensor") if d["metadata"]["annotations"]["myelin.io/name"] == original
    ]
    return found


def deps(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in doc["spec"]["dependencies"]}


def data_filters(dependency: dict[str, Any]) -> dict[str, list[str]]:
    return {f["path"]: f["value"] for f in dependency["filters"]["data"]}


def run_workflows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [t["template"]["argoWorkflow"]["source"]["resource"] for t in doc["spec"]["triggers"]]


def matches(go_regex: str, text: str) -> bool:
    """Argo Events' string data filter: Go ``regexp.Match``, an unanchored search (our values mean the same
    in Python's ``re``)."""
    return re.search(go_regex, text) is not None


def check_contract(axon: Axon, docs: list[dict[str, Any]], validator: SchemaValidator) -> None:
    """What every compiled axon must satisfy: valid documents, and Sensors that agree with EventSources."""
    assert_valid(docs, validator, allow_empty=True)
    sources = {d["metadata"]["name"]: d["spec"] for d in by_kind(docs, "EventSource")}
    events = {
        name: set(spec.get("webhook", {})) | set(spec.get("calendar", {})) for name, spec in sources.items()
    }
    sensors = by_kind(docs, "Sensor")
    assert len(sensors) == sum(1 for s in axon.sensors if s.triggers)
    for doc in sensors:
        original = doc["metadata"]["annotations"]["myelin.io/name"]
        axon_sensor = next(s for s in axon.sensors if s.name == original)
        assert doc["metadata"]["name"] == wiring.sensor_name(axon, original)
        dependencies = doc["spec"]["dependencies"]
        # one dependency and one Argo trigger per Axon trigger, any of them starts a run
        assert len(dependencies) == len(doc["spec"]["triggers"]) == len(axon_sensor.triggers)
        assert len({d["name"] for d in dependencies}) == len(dependencies)
        for dependency in dependencies:
            assert dependency["eventName"] in events[dependency["eventSourceName"]], dependency
        for dependency, trigger in zip(dependencies, doc["spec"]["triggers"], strict=True):
            template = trigger["template"]
            assert template["conditions"] == template["name"] == dependency["name"]
            assert template["argoWorkflow"]["parameters"][0]["src"]["dependencyName"] == dependency["name"]
        workflows = run_workflows(doc)
        assert_valid(workflows, validator)  # the embedded Workflow against the Argo Workflows schema
        for workflow in workflows:
            assert workflow["spec"]["workflowTemplateRef"]["name"] == wiring.sensor_template_name(
                axon, original
            )
    for text in (s for doc in docs for s in strings(doc)):
        assert "{{" not in text and not placeholders(text), text


# --- the shared Axon files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", AXON_FILES, ids=_file_id)
def test_shared_axon_events_validate_and_agree(path: Path, schema_validator: SchemaValidator) -> None:
    """Every shared axon (even those whose tasks are not supported yet: events read only the sensors)."""
    axon = Axon.from_file(path)
    docs = event_manifests(axon, OPTIONS)
    check_contract(axon, docs, schema_validator)
    assert bool(docs) == any(s.triggers for s in axon.sensors)


def test_recommender_demo_events() -> None:
    axon = Axon.from_file(SHARED_AXONS / "recommender-demo.2019-07.yaml")
    docs = event_manifests(axon, OPTIONS)
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("EventSource", "ml-rec-events"),
        ("Sensor", "ml-rec-deployment-decision-maker"),
        ("Sensor", "ml-rec-post-deployment-decision-maker"),
    ]
    (lifecycle,) = sensor_doc(docs, "DeploymentDecisionMaker")["spec"]["dependencies"]
    assert data_filters(lifecycle)["body.task"] == ["^TrainMyelinRecommender$"]
    (alert,) = sensor_doc(docs, "PostDeploymentDecisionMaker")["spec"]["dependencies"]
    assert data_filters(alert)["body.commonLabels.alertname"] == [
        exact(wiring.alert_name(axon, "PostDeploymentDecisionMaker", "RecommenderDeployAccuracy"))
    ]
    assert sensor_doc(docs, "DeploymentDecisionMaker")["spec"]["template"] == {
        "serviceAccountName": "myelin-minimal"
    }


def test_multi_trigger_shared_axon_gives_one_argo_trigger_per_axon_trigger() -> None:
    axon = Axon.from_file(SHARED_AXONS / "examples" / "multi-model-dag_axon-external.yaml")
    doc = sensor_doc(event_manifests(axon, OPTIONS), "Deployment123DecisionMaker")
    assert [t["template"]["name"] for t in doc["spec"]["triggers"]] == [
        "test-training-complete1",
        "test-training-complete2",
        "test-training-complete3",
    ]
    tasks = [data_filters(d)["body.task"] for d in doc["spec"]["dependencies"]]
    assert tasks == [["^TrainModel1$"], ["^TrainModel2$"], ["^TrainModel3$"]]


# --- an axon with every trigger type -----------------------------------------------------------------------


def test_every_trigger_type_validates_and_agrees(schema_validator: SchemaValidator) -> None:
    axon = every_trigger_axon()
    docs = event_manifests(axon, OPTIONS)
    check_contract(axon, docs, schema_validator)
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("EventSource", wiring.webhook_event_source_name(axon)),
        ("EventSource", wiring.calendar_event_source_name(axon)),
        ("Sensor", "ml-rec-deployer"),
        ("Sensor", "ml-rec-retrain-on-failure"),
        ("Sensor", "ml-rec-watchdog"),
        ("Sensor", "ml-rec-everything"),
        ("Sensor", "ml-rec-on-demand"),
    ]


def test_webhook_event_source_has_one_endpoint_per_event() -> None:
    axon = every_trigger_axon()
    doc = webhook_event_source(axon, OPTIONS)
    assert doc is not None
    assert doc["metadata"]["name"] == "ml-rec-events"
    webhook = doc["spec"]["webhook"]
    assert list(webhook) == [
        wiring.LIFECYCLE_EVENT,
        wiring.ALERTS_EVENT,
        wiring.rest_event_name(axon, "Everything"),
        wiring.rest_event_name(axon, "OnDemand"),
    ]
    for event, entry in webhook.items():
        assert entry == {
            "port": str(wiring.WEBHOOK_PORT),
            "endpoint": f"/{event}",
            "method": "POST",
            "authSecret": {"key": "token", "name": "ml-rec-webhook-token"},  # a bearer token on every event
        }
        # the URL task templates and Alertmanager post to ends with this endpoint
        assert wiring.webhook_service_url(axon, OPTIONS, event).endswith(f":{wiring.WEBHOOK_PORT}/{event}")
    assert doc["spec"]["service"]["ports"] == [
        {"name": "http", "port": wiring.WEBHOOK_PORT, "targetPort": wiring.WEBHOOK_PORT}
    ]
    assert doc["spec"]["eventBusName"] == OPTIONS.event_bus
    assert f"{doc['metadata']['name']}-eventsource-svc" in wiring.webhook_service_url(
        axon, OPTIONS, "lifecycle"
    )


def test_webhook_event_source_only_declares_events_in_use() -> None:
    with Axon("a") as rest_only:
        t = ContainerTask("T", image="busybox")
        Sensor("S", triggers=[Rest()], tasks=[t])
    doc = webhook_event_source(rest_only, OPTIONS)
    assert doc is not None
    assert list(doc["spec"]["webhook"]) == ["rest-s"]
    with Axon("b") as calendar_only:
        t = ContainerTask("T", image="busybox")
        Sensor("S", triggers=[Calendar(interval="10m")], tasks=[t])
    assert webhook_event_source(calendar_only, OPTIONS) is None
    assert calendar_event_source(rest_only, OPTIONS) is None


def test_calendar_event_source_has_one_event_per_calendar_trigger() -> None:
    axon = every_trigger_axon()
    doc = calendar_event_source(axon, OPTIONS)
    assert doc is not None
    assert doc["metadata"]["name"] == "ml-rec-calendar"
    assert doc["spec"]["calendar"] == {
        wiring.calendar_event_name("Everything", "Nightly"): {
            "schedule": "0 3 * * *",
            "timezone": "Europe/Paris",
        },
        wiring.calendar_event_name("Everything", "Hourly"): {"interval": "1h"},
    }
    assert doc["spec"]["eventBusName"] == OPTIONS.event_bus


def test_lifecycle_dependency_filters_axon_original_task_name_and_phase() -> None:
    axon = every_trigger_axon()
    docs = event_manifests(axon, OPTIONS)
    (dependency,) = sensor_doc(docs, "Deployer")["spec"]["dependencies"]
    assert dependency["name"] == "train-model-succeeded"
    assert dependency["eventSourceName"] == wiring.webhook_event_source_name(axon)
    assert dependency["eventName"] == wiring.LIFECYCLE_EVENT
    assert all(f["type"] == "string" for f in dependency["filters"]["data"])
    filters = data_filters(dependency)
    assert filters == {
        "body.axon": ["^ml-rec$"],
        "body.task": ["^TrainModel$"],
        "body.phase": ["^Succeeded$"],
    }
    # Go's regexp.Match searches: the anchors keep a longer task name or another axon out
    (task,) = filters["body.task"]
    assert matches(task, "TrainModel")
    assert not matches(task, "TrainModel2") and not matches(task, "PreTrainModel")
    (phase,) = filters["body.phase"]
    assert not matches(phase, "Failed")


def test_failed_lifecycle_trigger() -> None:
    axon = every_trigger_axon()
    doc = sensor_doc(event_manifests(axon, OPTIONS), "RetrainOnFailure")
    (dependency,) = doc["spec"]["dependencies"]
    assert dependency["name"] == "train-model-failed"
    phases = data_filters(dependency)["body.phase"]
    assert any(matches(p, "Failed") for p in phases) and any(matches(p, "Error") for p in phases)
    assert not any(matches(p, "Succeeded") for p in phases)
    (workflow,) = run_workflows(doc)
    assert workflow["spec"]["workflowTemplateRef"]["name"] == wiring.sensor_template_name(
        axon, "RetrainOnFailure"
    )


def test_alert_dependency_filters_firing_notifications_of_its_alert() -> None:
    axon = every_trigger_axon()
    (dependency,) = sensor_doc(event_manifests(axon, OPTIONS), "Watchdog")["spec"]["dependencies"]
    assert dependency["eventName"] == wiring.ALERTS_EVENT
    alertname = wiring.alert_name(axon, "Watchdog", "AccuracyDrop")
    assert data_filters(dependency) == {
        "body.status": ["^firing$"],
        "body.commonLabels.alertname": [exact(alertname)],
    }
    (status,) = data_filters(dependency)["body.status"]
    assert not matches(status, "resolved")


def test_rest_and_calendar_dependencies() -> None:
    axon = every_trigger_axon()
    doc = sensor_doc(event_manifests(axon, OPTIONS), "Everything")
    found = deps(doc)
    assert list(found) == ["data-prep-succeeded", "low-accuracy", "manual", "nightly", "hourly"]
    assert found["manual"] == {
        "name": "manual",
        "eventSourceName": wiring.webhook_event_source_name(axon),
        "eventName": wiring.rest_event_name(axon, "Everything"),
    }
    assert found["nightly"] == {
        "name": "nightly",
        "eventSourceName": wiring.calendar_event_source_name(axon),
        "eventName": wiring.calendar_event_name("Everything", "Nightly"),
    }
    assert found["hourly"]["eventName"] == wiring.calendar_event_name("Everything", "Hourly")
    assert len(doc["spec"]["triggers"]) == 5


# --- the Argo trigger: submit the sensor's WorkflowTemplate, named after the event id ----------------------


def test_trigger_submits_the_sensor_template_named_after_the_event_id() -> None:
    axon = every_trigger_axon()
    for doc in by_kind(event_manifests(axon, OPTIONS), "Sensor"):
        original = doc["metadata"]["annotations"]["myelin.io/name"]
        for trigger in doc["spec"]["triggers"]:
            argo = trigger["template"]["argoWorkflow"]
            assert argo["operation"] == "submit"  # the Sensor controller rejects an empty operation
            workflow = argo["source"]["resource"]
            assert workflow["apiVersion"] == "argoproj.io/v1alpha1"
            assert workflow["kind"] == "Workflow"
            prefix = wiring.run_prefix(axon, original)
            assert workflow["metadata"]["name"] == f"{prefix}-"
            assert workflow["metadata"]["labels"]["myelin.io/axon"] == "ml-rec"
            assert (
                workflow["metadata"]["labels"]["myelin.io/sensor"]
                == doc["metadata"]["labels"]["myelin.io/sensor"]
            )
            assert argo["parameters"] == [
                {
                    "src": {"dependencyName": trigger["template"]["name"], "contextKey": "id"},
                    "dest": "metadata.name",
                    "operation": "append",
                }
            ]
            # the appended id keeps the run's name a DNS label
            assert is_dns_label(workflow["metadata"]["name"] + "0" * EVENT_ID_LENGTH)
            assert trigger["retryStrategy"] == {"steps": 3, "duration": "10s", "factor": 2}
            assert trigger["rateLimit"] == {"unit": "Minute", "requestsPerUnit": 10}


def test_run_name_fits_for_long_names() -> None:
    with Axon("a-very-long-axon-name-that-goes-on-and-on") as axon:
        t = ContainerTask("T", image="busybox")
        Sensor("AnEvenLongerSensorNameThatNeverEnds", triggers=[Rest()], tasks=[t])
    doc = sensor(axon, axon.sensors[0], OPTIONS)
    assert doc is not None
    (workflow,) = run_workflows(doc)
    assert is_dns_label(workflow["metadata"]["name"] + "f" * EVENT_ID_LENGTH)


def test_backoff_factor_must_be_a_number(schema_validator: SchemaValidator) -> None:
    """The schema's Backoff.factor is an ``Amount`` = JSON number (Go's Amount rejects a quoted string)."""
    doc = sensor(every_trigger_axon(), every_trigger_axon().sensors[1], OPTIONS)
    assert doc is not None
    assert isinstance(RETRY_STRATEGY["factor"], int) and RETRY_STRATEGY["duration"] == "10s"
    assert RATE_LIMIT["unit"] in ("Second", "Minute", "Hour")
    bad = copy.deepcopy(doc)
    bad["spec"]["triggers"][0]["retryStrategy"]["factor"] = "2"
    assert schema_validator.validate(bad)


def test_strict_validation_catches_a_misspelled_field(schema_validator: SchemaValidator) -> None:
    """The validator is strict, so a typo in our builders would not pass unnoticed."""
    doc = sensor(every_trigger_axon(), every_trigger_axon().sensors[1], OPTIONS)
    assert doc is not None
    bad = copy.deepcopy(doc)
    bad["spec"]["dependencies"][0]["eventname"] = bad["spec"]["dependencies"][0].pop("eventName")
    errors = schema_validator.validate(bad)
    assert any("eventname" in e for e in errors) and any("eventName" in e for e in errors)


# --- sensors without triggers, names, options --------------------------------------------------------------


def test_sensor_without_triggers_gives_none() -> None:
    axon = every_trigger_axon()
    assert sensor(axon, axon.sensors[0], OPTIONS) is None
    with Axon("plain") as plain:
        t = ContainerTask("T", image="busybox")
        Sensor("OnStart", tasks=[t])
    assert event_manifests(plain, OPTIONS) == []


def test_service_account_default_and_override() -> None:
    axon = every_trigger_axon()
    assert service_account_name(axon) == "ml-rec-myelin"
    doc = sensor(axon, axon.sensors[1], OPTIONS)
    assert doc is not None and doc["spec"]["template"]["serviceAccountName"] == "ml-rec-myelin"
    own = every_trigger_axon(service_account_name="runner")
    doc = sensor(own, own.sensors[1], OPTIONS)
    assert doc is not None and doc["spec"]["template"]["serviceAccountName"] == "runner"


def test_options_namespace_event_bus_and_labels(schema_validator: SchemaValidator) -> None:
    options = CompileOptions(namespace="ml", event_bus="jetstream")
    docs = event_manifests(every_trigger_axon(), options)
    assert_valid(docs, schema_validator)
    for doc in docs:
        assert doc["metadata"]["namespace"] == "ml"
        assert doc["spec"]["eventBusName"] == "jetstream"
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "myelin"
        assert doc["metadata"]["labels"]["myelin.io/axon"] == "ml-rec"
        assert is_dns_label(doc["metadata"]["name"])
    # the axon's own namespace applies when the options give none
    docs = event_manifests(every_trigger_axon(namespace="team"), OPTIONS)
    assert {d["metadata"]["namespace"] for d in docs} == {"team"}


def test_dependency_names_are_unique_within_a_sensor(schema_validator: SchemaValidator) -> None:
    with Axon("a") as axon:
        t = ContainerTask("T", image="busybox")
        s = Sensor("S", triggers=[Rest("Go"), Rest("go"), Calendar(name="go_", interval="5m")], tasks=[t])
    assert dependency_names(s) == ["go", "go-2", "go-3"]
    docs = event_manifests(axon, OPTIONS)
    check_contract(axon, docs, schema_validator)


def test_clashing_calendar_event_names_are_an_error() -> None:
    with Axon("a") as axon:
        t = ContainerTask("T", image="busybox")
        Sensor("A", triggers=[Calendar(name="bC", interval="5m")], tasks=[t])
        Sensor("aB", triggers=[Calendar(name="C", interval="5m")], tasks=[t])
    with pytest.raises(MyelinError, match="calendar event 'a-b-c'"):
        calendar_event_source(axon, OPTIONS)


def test_exact_escapes_go_regexp_metacharacters() -> None:
    assert exact("a.b+c(d)") == r"^a\.b\+c\(d\)$"
    assert matches(exact("a.b"), "a.b") and not matches(exact("a.b"), "axb")


def test_output_is_deterministic() -> None:
    first = json.dumps(event_manifests(every_trigger_axon(), OPTIONS))
    assert json.dumps(event_manifests(every_trigger_axon(), OPTIONS)) == first
    reloaded = Axon.from_yaml(every_trigger_axon().to_yaml())
    assert json.dumps(event_manifests(reloaded, OPTIONS)) == first


def test_triggers_are_at_least_once_so_their_retry_strategy_applies() -> None:
    """Argo Events retries a failed submit only for ``atLeastOnce`` triggers (pkg/sensors/listener.go)."""
    doc = sensor(every_trigger_axon(), every_trigger_axon().sensors[1], OPTIONS)
    assert doc is not None
    assert all(
        t["atLeastOnce"] is True and t["retryStrategy"] == RETRY_STRATEGY for t in doc["spec"]["triggers"]
    )
