"""Tests of the schema-validation harness itself (support.schemas / support.fixtures)."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
import yaml

from support.fixtures import make_schema_validator
from support.schemas import (
    CORE_KINDS,
    SCHEMAS_ENV_VAR,
    SchemasNotFoundError,
    SchemaValidator,
    _validator_for,
    assert_valid,
    close_object_schemas,
    format_path,
)

# --------------------------------------------------------------------------- valid documents

VALID_YAML: dict[str, str] = {
    "WorkflowTemplate": """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: train-pipeline
  namespace: ml
  labels:
    app.kubernetes.io/name: myelin
spec:
  entrypoint: main
  serviceAccountName: myelin-runner
  arguments:
    parameters:
      - name: epochs
        value: "3"
  templates:
    - name: run
      inputs:
        parameters:
          - name: cmd
      container:
        image: python:3.11-slim
        command: [python, -c]
        args: ["print('{{inputs.parameters.cmd}}')"]
        resources:
          requests: {cpu: 100m, memory: 128Mi}
    - name: main
      steps:
        - - name: prepare
            template: run
            arguments:
              parameters: [{name: cmd, value: prepare}]
        - - name: train
            template: run
            arguments:
              parameters: [{name: cmd, value: train}]
""",
    "Workflow": """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: train-pipeline-
spec:
  workflowTemplateRef:
    name: train-pipeline
  arguments:
    parameters:
      - name: epochs
        value: "5"
""",
    "CronWorkflow": """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: nightly-train
spec:
  schedules: ["0 2 * * *"]
  timezone: Europe/Berlin
  concurrencyPolicy: Forbid
  workflowSpec:
    workflowTemplateRef:
      name: train-pipeline
""",
    "ClusterWorkflowTemplate": """
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata:
  name: echo
spec:
  templates:
    - name: echo
      container:
        image: alpine:3.20
        command: [echo, hello]
""",
    "EventSource": """
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata:
  name: webhook
spec:
  service:
    ports:
      - port: 12000
        targetPort: 12000
  webhook:
    example:
      port: "12000"
      endpoint: /example
      method: POST
      url: http://webhook-eventsource-svc:12000
""",
    "Sensor": """
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: webhook
spec:
  template:
    serviceAccountName: operate-workflow-sa
  dependencies:
    - name: test-dep
      eventSourceName: webhook
      eventName: example
  triggers:
    - template:
        name: webhook-workflow-trigger
        argoWorkflow:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata: {generateName: webhook-}
              spec:
                workflowTemplateRef: {name: train-pipeline}
          parameters:
            - src:
                dependencyName: test-dep
                dataKey: body.message
              dest: spec.arguments.parameters.0.value
""",
    "EventBus": """
apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata:
  name: default
spec:
  jetstream:
    version: latest
    replicas: 3
""",
    "AnalysisRun": """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisRun
metadata:
  name: model-quality
spec:
  args:
    - name: service
      value: iris
  metrics:
    - name: success-rate
      interval: 1m
      count: 3
      failureLimit: 1
      successCondition: result[0] >= 0.95
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          query: sum(rate(seldon_api_executor_server_requests_seconds_count{code="200"}[5m]))
""",
    "AnalysisTemplate": """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: model-quality
spec:
  args:
    - name: service
  metrics:
    - name: success-rate
      interval: 1m
      successCondition: result[0] >= 0.95
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          query: sum(rate(requests_total{service="{{args.service}}"}[5m]))
""",
    "SeldonDeployment": """
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: iris-model
  namespace: seldon
spec:
  name: iris
  protocol: seldon
  predictors:
    - name: default
      replicas: 1
      graph:
        name: classifier
        type: MODEL
        implementation: SKLEARN_SERVER
        modelUri: gs://seldon-models/v1.17.0/sklearn/iris
        children: []
      componentSpecs:
        - metadata:
            creationTimestamp: null
          spec:
            containers:
              - name: classifier
                resources:
                  requests: {cpu: 500m, memory: 1Gi}
""",
    "PrometheusRule": """
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: myelin-rules
  labels: {role: alert-rules}
spec:
  groups:
    - name: myelin.rules
      interval: 30s
      rules:
        - record: job:requests:rate5m
          expr: sum by (job) (rate(requests_total[5m]))
        - alert: HighErrorRate
          expr: job:errors:rate5m / job:requests:rate5m > 0.05
          for: 10m
          labels: {severity: warning}
          annotations:
            summary: High error rate on {{ $labels.job }}
""",
    "AlertmanagerConfig": """
apiVersion: monitoring.coreos.com/v1alpha1
kind: AlertmanagerConfig
metadata:
  name: myelin-alerts
spec:
  route:
    receiver: webhook
    groupBy: [job]
    groupWait: 30s
    repeatInterval: 4h
    matchers:
      - name: severity
        value: critical
        matchType: "="
  receivers:
    - name: webhook
      webhookConfigs:
        - url: http://alert-sink.monitoring:8080/hook
          sendResolved: true
""",
    "ServiceAccount": """
apiVersion: v1
kind: ServiceAccount
metadata:
  name: myelin-runner
  namespace: ml
""",
    "Role": """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: myelin-runner
  namespace: ml
rules:
  - apiGroups: [argoproj.io]
    resources: [workflows, workflowtemplates]
    verbs: [get, list, create]
""",
    "RoleBinding": """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: myelin-runner
  namespace: ml
subjects:
  - kind: ServiceAccount
    name: myelin-runner
    namespace: ml
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: myelin-runner
""",
    "PersistentVolumeClaim": """
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: datasets
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: standard
  resources:
    requests:
      storage: 10Gi
""",
    "ConfigMap": """
apiVersion: v1
kind: ConfigMap
metadata:
  name: axon-config
data:
  axon.yaml: "name: demo"
""",
    "Secret": """
apiVersion: v1
kind: Secret
metadata:
  name: registry-creds
type: Opaque
stringData:
  token: s3cr3t
""",
    "Service": """
apiVersion: v1
kind: Service
metadata:
  name: model
spec:
  selector: {app: model}
  ports:
    - name: http
      port: 80
      targetPort: 9000
""",
}


def doc(kind: str) -> dict[str, Any]:
    """A fresh copy of the valid example of ``kind``."""
    result: dict[str, Any] = yaml.safe_load(VALID_YAML[kind])
    return result


def changed(
    document: dict[str, Any], path: str, value: Any = None, *, delete: bool = False
) -> dict[str, Any]:
    """Deep copy of ``document`` with the dotted ``path`` (``a.b.0.c``) set (or deleted)."""
    result = copy.deepcopy(document)
    *parents, last = path.split(".")
    node: Any = result
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if delete:
        del node[key]
    else:
        node[key] = value
    return result


def renamed(document: dict[str, Any], path: str, new_name: str) -> dict[str, Any]:
    """Deep copy of ``document`` with the field at ``path`` renamed (a misspelling)."""
    *parents, last = path.split(".")
    result = copy.deepcopy(document)
    node: Any = result
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[new_name] = node.pop(last)
    return result


def test_every_supported_kind_has_an_example() -> None:
    assert {kind for _, kind in CORE_KINDS} <= VALID_YAML.keys()


@pytest.mark.parametrize("kind", sorted(VALID_YAML))
def test_valid_document_passes(schema_validator: SchemaValidator, kind: str) -> None:
    assert schema_validator.validate(doc(kind)) == []


# --------------------------------------------------------------------------- misspelled fields

# kind -> (path of the field to misspell, misspelled name, expected error path)
MISSPELLINGS: dict[str, tuple[str, str, str]] = {
    "WorkflowTemplate": ("spec.templates.0.container.image", "imagee", "spec.templates[0].container.imagee"),
    "Workflow": ("spec.workflowTemplateRef", "workflowTemplateRf", "spec.workflowTemplateRf"),
    "CronWorkflow": ("spec.concurrencyPolicy", "concurrencyPolcy", "spec.concurrencyPolcy"),
    "ClusterWorkflowTemplate": (
        "spec.templates.0.container.command",
        "cmd",
        "spec.templates[0].container.cmd",
    ),
    "EventSource": ("spec.webhook.example.endpoint", "endpont", "spec.webhook.example.endpont"),
    "Sensor": (
        "spec.triggers.0.template.argoWorkflow.operation",
        "operaton",
        "spec.triggers[0].template.argoWorkflow.operaton",
    ),
    "EventBus": ("spec.jetstream.replicas", "replica", "spec.jetstream.replica"),
    "AnalysisRun": (
        "spec.metrics.0.successCondition",
        "successCondtion",
        "spec.metrics[0].successCondtion",
    ),
    "AnalysisTemplate": (
        "spec.metrics.0.provider.prometheus.query",
        "querry",
        "spec.metrics[0].provider.prometheus.querry",
    ),
    "SeldonDeployment": ("spec.predictors.0.graph.modelUri", "modelUrl", "spec.predictors[0].graph.modelUrl"),
    "PrometheusRule": ("spec.groups.0.rules.1.for", "four", "spec.groups[0].rules[1].four"),
    "AlertmanagerConfig": (
        "spec.receivers.0.webhookConfigs.0.sendResolved",
        "sendResolve",
        "spec.receivers[0].webhookConfigs[0].sendResolve",
    ),
    "ServiceAccount": ("metadata.namespace", "namespce", "metadata.namespce"),
    "Role": ("rules.0.verbs", "verb", "rules[0].verb"),
    "RoleBinding": ("roleRef.apiGroup", "apiGroups", "roleRef.apiGroups"),
    "PersistentVolumeClaim": ("spec.storageClassName", "storageClass", "spec.storageClass"),
    "ConfigMap": ("data", "dat", "dat"),
    "Secret": ("stringData", "stringdata", "stringdata"),
    "Service": ("spec.ports.0.targetPort", "targetport", "spec.ports[0].targetport"),
}


def test_every_kind_has_a_misspelling_case() -> None:
    assert MISSPELLINGS.keys() == VALID_YAML.keys()


@pytest.mark.parametrize("kind", sorted(MISSPELLINGS))
def test_misspelled_field_fails_and_names_the_path(schema_validator: SchemaValidator, kind: str) -> None:
    field, misspelled, expected_path = MISSPELLINGS[kind]
    document = doc(kind)
    errors = schema_validator.validate(renamed(document, field, misspelled))
    name = document["metadata"].get("name") or document["metadata"]["generateName"] + "*"
    message = f"Additional properties are not allowed ({misspelled!r} was unexpected)"
    expected = f"{kind}/{name}: {expected_path}: {message}"
    assert expected in errors, errors


def test_misspelled_top_level_and_metadata_fields_fail(schema_validator: SchemaValidator) -> None:
    errors = schema_validator.validate(renamed(doc("WorkflowTemplate"), "spec", "spc"))
    assert (
        "WorkflowTemplate/train-pipeline: spc: Additional properties are not allowed ('spc' was unexpected)"
        in errors
    )
    assert "WorkflowTemplate/train-pipeline: <root>: 'spec' is a required property" in errors
    errors = schema_validator.validate(renamed(doc("Sensor"), "metadata.name", "nmae"))
    assert errors == [
        "Sensor/<unnamed>: metadata.nmae: Additional properties are not allowed ('nmae' was unexpected)"
    ]


def test_lenient_mode_accepts_misspellings() -> None:
    """Shows it is the injected ``additionalProperties: false`` that catches misspellings."""
    lenient = SchemaValidator(strict=False)
    for kind, (field, misspelled, _) in MISSPELLINGS.items():
        errors = lenient.validate(renamed(doc(kind), field, misspelled))
        # (only "required" errors remain, where the original field was required)
        assert all("is a required property" in e for e in errors), errors


def test_status_is_allowed(schema_validator: SchemaValidator) -> None:
    assert schema_validator.validate(changed(doc("Workflow"), "status", {"phase": "Running"})) == []


# --------------------------------------------------------------------------- wrong types

# kind -> (path, wrong value, expected error path)
WRONG_TYPES: dict[str, tuple[str, Any, str]] = {
    "WorkflowTemplate": ("spec.templates.0.container.args", "print(1)", "spec.templates[0].container.args"),
    "Workflow": ("spec.arguments.parameters", {"name": "epochs"}, "spec.arguments.parameters"),
    "CronWorkflow": ("spec.schedules", "0 2 * * *", "spec.schedules"),
    "ClusterWorkflowTemplate": ("spec.templates.0.name", 7, "spec.templates[0].name"),
    "EventSource": ("spec.webhook.example.port", 12000, "spec.webhook.example.port"),
    "Sensor": ("spec.dependencies.0.eventName", ["example"], "spec.dependencies[0].eventName"),
    "EventBus": ("spec.jetstream.replicas", "three", "spec.jetstream.replicas"),
    "AnalysisRun": ("spec.metrics.0.count", [3], "spec.metrics[0].count"),
    "AnalysisTemplate": ("spec.metrics", {"name": "x"}, "spec.metrics"),
    "SeldonDeployment": ("spec.predictors.0.replicas", "one", "spec.predictors[0].replicas"),
    "PrometheusRule": ("spec.groups.0.rules", {"alert": "x"}, "spec.groups[0].rules"),
    "AlertmanagerConfig": (
        "spec.receivers.0.webhookConfigs.0.sendResolved",
        "yes",
        "spec.receivers[0].webhookConfigs[0].sendResolved",
    ),
    "ServiceAccount": ("automountServiceAccountToken", "false", "automountServiceAccountToken"),
    "Role": ("rules.0.verbs", "get", "rules[0].verbs"),
    "RoleBinding": ("subjects", {"kind": "User", "name": "x"}, "subjects"),
    "PersistentVolumeClaim": ("spec.accessModes", "ReadWriteOnce", "spec.accessModes"),
    "ConfigMap": ("data.axon.yaml", 3, 'data["axon.yaml"]'),
    "Secret": ("immutable", "yes", "immutable"),
    "Service": ("spec.ports.0.port", "80", "spec.ports[0].port"),
}


def test_every_kind_has_a_wrong_type_case() -> None:
    assert WRONG_TYPES.keys() == VALID_YAML.keys()


@pytest.mark.parametrize("kind", sorted(WRONG_TYPES))
def test_wrong_type_fails(schema_validator: SchemaValidator, kind: str) -> None:
    path, value, expected_path = WRONG_TYPES[kind]
    document = doc(kind)
    if kind == "ConfigMap":  # the key itself contains a dot
        document["data"]["axon.yaml"] = value
    else:
        document = changed(document, path, value)
    errors = schema_validator.validate(document)
    assert errors, f"{kind}: wrong type at {path} was accepted"
    assert any(f": {expected_path}: " in e for e in errors), errors


def test_error_message_of_wrong_type(schema_validator: SchemaValidator) -> None:
    errors = schema_validator.validate(
        changed(doc("WorkflowTemplate"), "spec.templates.0.container.args", "x")
    )
    assert errors == [
        "WorkflowTemplate/train-pipeline: spec.templates[0].container.args: 'x' is not of type 'array'"
    ]


# --------------------------------------------------------------------------- unknown kinds


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"}},
            "Rollout/r: <root>: no schema for apiVersion='argoproj.io/v1alpha1' kind='Rollout'",
        ),
        (
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
            "Widget/w: <root>: no schema for apiVersion='example.com/v1' kind='Widget'",
        ),
        (  # the right kind with the wrong version
            {
                "apiVersion": "machinelearning.seldon.io/v1alpha2",
                "kind": "SeldonDeployment",
                "metadata": {"name": "s"},
            },
            "SeldonDeployment/s: <root>: no schema for apiVersion='machinelearning.seldon.io/v1alpha2' "
            "kind='SeldonDeployment'",
        ),
        (  # kubernetes-validate's file names are lossy (rbac.* -> rbac-v1): exact GVK required
            {"apiVersion": "rbac.example.com/v1", "kind": "Role", "metadata": {"name": "r"}},
            "Role/r: <root>: no schema for apiVersion='rbac.example.com/v1' kind='Role'",
        ),
        (
            {"kind": "ConfigMap", "metadata": {"name": "c"}},
            "ConfigMap/c: <root>: no schema for apiVersion=None kind='ConfigMap'",
        ),
        ({}, "<no kind>/<unnamed>: <root>: no schema for apiVersion=None kind=None"),
        ([], "<document>: <root>: expected a mapping (dict), got list"),
    ],
)
def test_unknown_kind_fails(schema_validator: SchemaValidator, document: Any, expected: str) -> None:
    assert schema_validator.validate(document) == [expected]


def test_other_builtin_kinds_are_validated(schema_validator: SchemaValidator) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    assert schema_validator.validate(deployment) == []
    assert schema_validator.validate(renamed(deployment, "spec.template", "templat")) != []


# --------------------------------------------------------------------------- the tolerated quirk


def test_webhook_eventsource_without_url_passes(schema_validator: SchemaValidator) -> None:
    document = changed(doc("EventSource"), "spec.webhook.example.url", delete=True)
    assert schema_validator.validate(document) == []


def test_webhook_eventsource_missing_other_required_field_fails(schema_validator: SchemaValidator) -> None:
    document = changed(doc("EventSource"), "spec.webhook.example.url", delete=True)
    document = changed(document, "spec.webhook.example.port", delete=True)
    assert schema_validator.validate(document) == [
        "EventSource/webhook: spec.webhook.example: 'port' is a required property"
    ]


def test_required_url_is_enforced_everywhere_else(schema_validator: SchemaValidator) -> None:
    # The schema still requires webhook url (the filter is in the validator, not the schema) ...
    lenient_filterless = SchemaValidator(strict=False)._validator("argoproj.io/v1alpha1", "EventSource")
    assert lenient_filterless is not None
    no_url = changed(doc("EventSource"), "spec.webhook.example.url", delete=True)
    assert any("'url' is a required property" in e.message for e in lenient_filterless.iter_errors(no_url))
    # ... another event source type missing url fails,
    kafka = changed(doc("EventSource"), "spec.kafka", {"example": {"topic": "t"}})
    assert (
        "EventSource/webhook: spec.kafka.example: 'url' is a required property"
        in schema_validator.validate(kafka)
    )
    # ... and so does an http trigger of a Sensor.
    sensor = doc("Sensor")
    sensor["spec"]["triggers"][0]["template"] = {"name": "notify", "http": {"payload": [], "method": "POST"}}
    assert schema_validator.validate(sensor) == [
        "Sensor/webhook: spec.triggers[0].template.http: 'url' is a required property"
    ]


# --------------------------------------------------------------------------- other quirks / details


def test_alertmanager_match_type_enum_contains_equals(schema_validator: SchemaValidator) -> None:
    """The CRD's unquoted ``- =`` enum entry is read as the string "=" (PyYAML quirk)."""
    for match_type in ("=", "!=", "=~", "!~"):
        document = changed(doc("AlertmanagerConfig"), "spec.route.matchers.0.matchType", match_type)
        assert schema_validator.validate(document) == [], match_type
    bad = changed(doc("AlertmanagerConfig"), "spec.route.matchers.0.matchType", "==")
    assert len(schema_validator.validate(bad)) == 1


def test_openapi_nullable_allows_null(schema_validator: SchemaValidator) -> None:
    # componentSpecs[0].metadata.creationTimestamp is `nullable: true` in the Seldon CRD
    assert schema_validator.validate(doc("SeldonDeployment")) == []
    document = changed(
        doc("SeldonDeployment"), "spec.predictors.0.componentSpecs.0.metadata.creationTimestamp", 5
    )
    assert len(schema_validator.validate(document)) == 1


def test_argo_workflows_int_or_string_is_string_only(schema_validator: SchemaValidator) -> None:
    """Upstream quirk, NOT tolerated: argo-workflows' schema.json declares IntOrString as
    ``type: string`` (its CRDs say int-or-string), so e.g. ``retryStrategy.limit`` must be
    emitted as a string to validate."""
    template = doc("WorkflowTemplate")
    assert (
        schema_validator.validate(changed(template, "spec.templates.0.retryStrategy", {"limit": "3"})) == []
    )
    assert schema_validator.validate(changed(template, "spec.templates.0.retryStrategy", {"limit": 3})) == [
        "WorkflowTemplate/train-pipeline: spec.templates[0].retryStrategy.limit: 3 is not of type 'string'"
    ]


def test_all_errors_are_reported(schema_validator: SchemaValidator) -> None:
    document = renamed(doc("WorkflowTemplate"), "spec.templates.0.container.image", "imagee")
    document = renamed(document, "spec.entrypoint", "entrypont")
    document["spec"]["templates"][1]["steps"] = "oops"
    assert schema_validator.validate(document) == [
        "WorkflowTemplate/train-pipeline: spec.entrypont: Additional properties are not allowed "
        "('entrypont' was unexpected)",
        "WorkflowTemplate/train-pipeline: spec.templates[0].container: 'image' is a required property",
        "WorkflowTemplate/train-pipeline: spec.templates[0].container.imagee: Additional properties are not "
        "allowed ('imagee' was unexpected)",
        "WorkflowTemplate/train-pipeline: spec.templates[1].steps: 'oops' is not of type 'array'",
    ]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([], "<root>"),
        (["spec", "templates", 0, "container", "imagee"], "spec.templates[0].container.imagee"),
        (["metadata", "labels", "app.kubernetes.io/name"], 'metadata.labels["app.kubernetes.io/name"]'),
        (["spec", "webhook", "my-hook"], "spec.webhook.my-hook"),
        (["steps", 0, 1], "steps[0][1]"),
    ],
)
def test_format_path(parts: list[str | int], expected: str) -> None:
    assert format_path(parts) == expected


# --------------------------------------------------------------------------- strict injection


def test_close_object_schemas_closes_nested_objects_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "allOf": {"type": "string"},  # a property *named* like a keyword
            "child": {"type": "object", "properties": {"a": {"type": "string"}}},
            "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"b": {}}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"c": {}}},
            "patterned": {"type": "object", "properties": {"d": {}}, "patternProperties": {"^x-": {}}},
        },
        "default": {"properties": {"not": "a schema"}},
    }
    closed = close_object_schemas(schema)
    assert closed["additionalProperties"] is False
    props = closed["properties"]
    assert props["allOf"] == {"type": "string"}
    assert props["child"]["additionalProperties"] is False
    assert props["map"]["additionalProperties"]["additionalProperties"] is False
    assert "additionalProperties" not in props["free"]
    assert "additionalProperties" not in props["patterned"]
    assert closed["default"] == schema["default"]
    assert "additionalProperties" not in schema  # input untouched


def test_close_object_schemas_respects_composition() -> None:
    schema = {
        "type": "object",
        "properties": {"kind": {"type": "string"}},
        "allOf": [
            {"properties": {"a": {"type": "string"}}},
            {"properties": {"b": {"type": "object", "properties": {"c": {}}}}},
        ],
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }
    closed = close_object_schemas(schema)
    # neither the parent nor the branches are closed (it would reject a sibling's fields) ...
    assert "additionalProperties" not in closed
    assert all("additionalProperties" not in branch for branch in closed["allOf"])
    # ... but objects nested inside a branch are.
    assert closed["allOf"][1]["properties"]["b"]["additionalProperties"] is False
    # int-or-string anyOf next to properties does not prevent closing
    int_or_string = {"properties": {"x": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}}
    assert close_object_schemas(int_or_string)["additionalProperties"] is False


def test_close_object_schemas_nullable() -> None:
    schema = {"type": "string", "nullable": True, "enum": ["a"]}
    assert close_object_schemas(schema, openapi=True) == {
        "type": ["string", "null"],
        "nullable": True,
        "enum": ["a", None],
    }
    assert close_object_schemas(schema) == schema


def test_kubernetes_validate_strict_schemas_are_closed(schema_validator: SchemaValidator) -> None:
    # kubernetes-validate's "-strict" flavour: a misspelled field in a Role is caught, in a
    # nested object too; its non-strict flavour lets it through.
    role = renamed(doc("Role"), "rules.0.resources", "resource")
    assert schema_validator.validate(role) == [
        "Role/myelin-runner: rules[0].resource: "
        "Additional properties are not allowed ('resource' was unexpected)"
    ]
    assert SchemaValidator(strict=False).validate(role) == []


# --------------------------------------------------------------------------- caching / speed


def test_validators_are_built_once_per_kind(schema_validator: SchemaValidator) -> None:
    schema_validator.validate(doc("WorkflowTemplate"))
    before = _validator_for.cache_info()
    SchemaValidator().validate(doc("WorkflowTemplate"))
    after = _validator_for.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 1


def test_validation_is_fast(schema_validator: SchemaValidator) -> None:
    document = doc("WorkflowTemplate")
    schema_validator.validate(document)  # build the validator first
    start = time.perf_counter()
    for _ in range(300):
        schema_validator.validate(document)
    per_doc = (time.perf_counter() - start) / 300
    assert per_doc < 0.02, f"{per_doc * 1000:.2f} ms per WorkflowTemplate"


# --------------------------------------------------------------------------- assert_valid / fixture


def test_assert_valid_passes_for_valid_documents(schema_validator: SchemaValidator) -> None:
    assert_valid([doc(kind) for kind in VALID_YAML], schema_validator)
    assert_valid(doc("ConfigMap"))  # a single document; default validator


def test_assert_valid_lists_all_errors_of_all_documents(schema_validator: SchemaValidator) -> None:
    docs = [
        renamed(doc("WorkflowTemplate"), "spec.templates.0.container.image", "imagee"),
        doc("ConfigMap"),
        renamed(renamed(doc("Role"), "rules.0.verbs", "verb"), "rules.0.resources", "resource"),
    ]
    with pytest.raises(AssertionError) as info:
        assert_valid(docs, schema_validator)
    message = str(info.value)
    assert message.splitlines() == [
        "5 schema error(s) in 2 of 3 document(s) (strict mode):",
        "  [doc 0] WorkflowTemplate/train-pipeline: spec.templates[0].container: "
        "'image' is a required property",
        "  [doc 0] WorkflowTemplate/train-pipeline: spec.templates[0].container.imagee: "
        "Additional properties are not allowed ('imagee' was unexpected)",
        "  [doc 2] Role/myelin-runner: rules[0]: 'verbs' is a required property",
        "  [doc 2] Role/myelin-runner: rules[0].resource: Additional properties are not allowed "
        "('resource' was unexpected)",
        "  [doc 2] Role/myelin-runner: rules[0].verb: "
        "Additional properties are not allowed ('verb' was unexpected)",
    ]


def test_assert_valid_rejects_nothing_to_validate(schema_validator: SchemaValidator) -> None:
    with pytest.raises(AssertionError, match="no documents"):
        assert_valid([], schema_validator)
    assert_valid([], schema_validator, allow_empty=True)


def test_missing_schemas_dir_is_an_error(tmp_path: Any) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SchemasNotFoundError) as info:
        SchemaValidator(missing)
    assert str(missing) in str(info.value)
    assert SCHEMAS_ENV_VAR in str(info.value)


def test_env_var_overrides_schemas_dir(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCHEMAS_ENV_VAR, str(tmp_path))
    with pytest.raises(SchemasNotFoundError, match=r"lacks: argo-events/schema\.json"):
        SchemaValidator()


def test_fixture_fails_instead_of_skipping(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCHEMAS_ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(pytest.fail.Exception) as info:  # Failed, not Skipped
        make_schema_validator()
    assert not isinstance(info.value, pytest.skip.Exception)
    assert str(tmp_path / "nowhere") in str(info.value)
    assert SCHEMAS_ENV_VAR in str(info.value)
