"""Alert triggers -> ``PrometheusRule`` + ``AlertmanagerConfig`` (``myelin_sdk.compiler.monitoring``).

No Kubernetes API server, prometheus-operator, Prometheus rule loader or Alertmanager can run here, so
these tests check the documents against the upstream prometheus-operator CRD schemas (strict mode: unknown
fields are errors) and the documented contract: the PromQL is the Axon condition rendered with published
metric names, the route selects the axon's alerts (and the namespace label the operator adds a matcher for)
and posts them to the axon's webhook EventSource at ``/alerts``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from myelin_sdk import Axon, CompileOptions, MyelinError, Sensor, TrainTask
from myelin_sdk.compiler import wiring
from myelin_sdk.compiler.meta import AXON_LABEL, PART_OF
from myelin_sdk.compiler.monitoring import (
    ALERT_LABEL_AXON,
    ALERT_LABEL_SENSOR,
    alertmanager_config,
    alerts_object_name,
    prometheus_rule,
)
from myelin_sdk.names import is_dns_label
from myelin_sdk.spec.expressions import parse_alert_condition, placeholders
from myelin_sdk.spec.sensors import Alert, Lifecycle, Rest
from myelin_sdk.yamlio import dump_all

from support.manifests import strings
from support.schemas import SchemaValidator, assert_valid

PROJECT = Path(__file__).resolve().parents[2]
DEMO_YAML = PROJECT / "examples" / "recommender_demo" / "recommender-demo.yaml"
IMAGE_CLASSIFICATION = PROJECT.parent / "shared" / "axons" / "examples" / "image-classification_axon.yaml"

OPTION_SETS = [CompileOptions(), CompileOptions(namespace="ml")]


def _both(axon: Axon, options: CompileOptions) -> list[dict[str, Any]]:
    rule, config = prometheus_rule(axon, options), alertmanager_config(axon, options)
    assert rule is not None and config is not None
    return [rule, config]


def _rules(rule: dict[str, Any]) -> list[dict[str, Any]]:
    groups = rule["spec"]["groups"]
    assert len(groups) == 1
    rules: list[dict[str, Any]] = groups[0]["rules"]
    return rules


@pytest.fixture(scope="module")
def demo() -> Axon:
    return Axon.from_file(DEMO_YAML)


@pytest.fixture(scope="module")
def image_classification() -> Axon:
    return Axon.from_file(IMAGE_CLASSIFICATION)


def _many_alerts() -> Axon:
    """Python DSL: two sensors, three Alert triggers (one with ``for``), plus non-Alert triggers."""
    with Axon("multi-alerts") as axon:
        train = TrainTask("Train", image="python:3.11-slim")
        Sensor(
            "Retrain",
            triggers=[
                Alert("{{accuracy}} < 0.9", name="LowAccuracy", for_="5m"),
                Lifecycle(train, "Failed"),
                Alert("rate({{errors}}[5m]) > 0.1 and {{accuracy}} < 0.95", name="Errors"),
            ],
            tasks=[train],
        )
        Sensor("Drift", triggers=[Rest("now"), Alert("{{drift_score}} > 3", name="drift")], tasks=[train])
    return axon


# --------------------------------------------------------------------------- schema validity


@pytest.mark.parametrize("options", OPTION_SETS, ids=["no-namespace", "namespace"])
def test_demo_documents_validate(
    demo: Axon, options: CompileOptions, schema_validator: SchemaValidator
) -> None:
    assert_valid(_both(demo, options), schema_validator)


@pytest.mark.parametrize("options", OPTION_SETS, ids=["no-namespace", "namespace"])
def test_image_classification_and_dsl_documents_validate(
    image_classification: Axon, options: CompileOptions, schema_validator: SchemaValidator
) -> None:
    assert_valid(_both(image_classification, options) + _both(_many_alerts(), options), schema_validator)


def test_kinds_names_and_metadata(demo: Axon) -> None:
    rule, config = _both(demo, CompileOptions(namespace="ml"))
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert (config["apiVersion"], config["kind"]) == ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig")
    for doc in (rule, config):
        md = doc["metadata"]
        assert md["name"] == alerts_object_name(demo) == "ml-rec-alerts"
        assert is_dns_label(md["name"])
        assert md["namespace"] == "ml"
        assert md["labels"][PART_OF] == "myelin" and md["labels"][AXON_LABEL] == "ml-rec"
    assert rule["spec"]["groups"][0]["name"] == "ml-rec-myelin"


def test_no_namespace_in_metadata_without_one(demo: Axon) -> None:
    for doc in _both(demo, CompileOptions()):
        assert "namespace" not in doc["metadata"]


# --------------------------------------------------------------------------- the rules


def test_demo_rule_is_the_rendered_condition(demo: Axon) -> None:
    (trigger,) = [t for s in demo.sensors for t in s.triggers if isinstance(t, Alert)]
    rule = prometheus_rule(demo, CompileOptions())
    assert rule is not None
    (r,) = _rules(rule)
    assert r["expr"] == parse_alert_condition(trigger.condition).to_promql(demo.name)
    assert r["expr"] == "recommender_deploy_accuracy_ml__rec < 0.90"
    assert r["alert"] == wiring.alert_name(demo, "PostDeploymentDecisionMaker", trigger.name)
    assert r["labels"] == {ALERT_LABEL_AXON: "ml-rec", ALERT_LABEL_SENSOR: "PostDeploymentDecisionMaker"}
    assert "for" not in r  # the demo's trigger has none: Prometheus fires at the first failing evaluation
    assert "recommender_deploy_accuracy_ml__rec < 0.90" in r["annotations"]["description"]
    assert "PostDeploymentDecisionMaker" in r["annotations"]["summary"]


def test_image_classification_avg_over_time(image_classification: Axon) -> None:
    rule = prometheus_rule(image_classification, CompileOptions())
    assert rule is not None
    (r,) = _rules(rule)
    assert r["expr"] == (
        "avg_over_time(image_classifer_accuracy_image__classifier{job='image-classifier'}[5m]) < 0.20"
    )
    assert r["alert"] == "ImageClassifierPostDeploymentDecisionMakerTestDeployAccuracy"


def test_one_rule_per_alert_trigger_in_order_with_for() -> None:
    axon = _many_alerts()
    rule = prometheus_rule(axon, CompileOptions())
    assert rule is not None
    rules = _rules(rule)
    expected = [
        ("Retrain", "LowAccuracy", "{{accuracy}} < 0.9", "5m"),
        ("Retrain", "Errors", "rate({{errors}}[5m]) > 0.1 and {{accuracy}} < 0.95", None),
        ("Drift", "drift", "{{drift_score}} > 3", None),
    ]
    assert len(rules) == len(expected)
    for r, (sensor, trigger, condition, for_) in zip(rules, expected, strict=True):
        assert r["alert"] == wiring.alert_name(axon, sensor, trigger)
        assert r["expr"] == parse_alert_condition(condition).to_promql(axon.name)
        assert r.get("for") == for_
        assert r["labels"][ALERT_LABEL_SENSOR] == sensor
    assert rules[0]["expr"] == "accuracy_multi__alerts < 0.9"
    assert len({r["alert"] for r in rules}) == len(rules)  # the route groups by alertname: one per trigger


def test_rules_carry_the_namespace_the_operator_matches_on(demo: Axon) -> None:
    # prometheus-operator adds a ``namespace = <AlertmanagerConfig namespace>`` matcher to the route.
    config = alertmanager_config(demo, CompileOptions(namespace="ml"))
    rule = prometheus_rule(demo, CompileOptions(namespace="ml"))
    assert rule is not None and config is not None
    for r in _rules(rule):
        assert r["labels"]["namespace"] == config["metadata"]["namespace"] == "ml"
    rule = prometheus_rule(demo.model_copy(update={"namespace": "from-axon"}), CompileOptions())
    assert rule is not None
    assert _rules(rule)[0]["labels"]["namespace"] == "from-axon"


def test_no_axon_placeholder_reaches_a_manifest(demo: Axon, image_classification: Axon) -> None:
    for axon in (demo, image_classification, _many_alerts()):
        for doc in _both(axon, CompileOptions(namespace="ml")):
            for text in strings(doc):
                assert placeholders(text) == [], text
                assert "{{" not in text, text  # nor Prometheus templating that could evaluate to a surprise


def test_invalid_for_is_a_diagnostic() -> None:
    with Axon("bad-for") as axon:
        train = TrainTask("Train", image="python:3.11-slim")
        Sensor("Retrain", triggers=[Alert("{{accuracy}} < 0.9", name="a", for_="1.5m")], tasks=[train])
    with pytest.raises(MyelinError) as info:
        prometheus_rule(axon, CompileOptions())
    assert [d.path for d in info.value.diagnostics] == ["spec.sensors[0].triggers[0].for"]
    assert "1.5m" in str(info.value) and "Prometheus duration" in str(info.value)


# --------------------------------------------------------------------------- the route


@pytest.mark.parametrize("options", OPTION_SETS, ids=["no-namespace", "namespace"])
def test_route_posts_the_axon_alerts_to_its_webhook(demo: Axon, options: CompileOptions) -> None:
    config = alertmanager_config(demo, options)
    rule = prometheus_rule(demo, options)
    assert config is not None and rule is not None
    route = config["spec"]["route"]
    (receiver,) = config["spec"]["receivers"]
    assert route["receiver"] == receiver["name"]
    (webhook,) = receiver["webhookConfigs"]
    assert webhook["url"] == wiring.webhook_service_url(demo, options, wiring.ALERTS_EVENT)
    assert webhook["url"].endswith(f":{wiring.WEBHOOK_PORT}/{wiring.ALERTS_EVENT}")
    assert webhook["sendResolved"] is True
    assert route["groupBy"] == ["alertname"]
    assert route["repeatInterval"] == "1h"
    # Every matcher of the route holds for every alert of the axon's rules: the route selects them.
    for r in _rules(rule):
        for matcher in route["matchers"]:
            assert matcher["matchType"] == "="
            assert r["labels"][matcher["name"]] == matcher["value"]
    assert {"name": ALERT_LABEL_AXON, "matchType": "=", "value": "ml-rec"} in route["matchers"]


def test_route_does_not_select_another_axons_alerts(demo: Axon) -> None:
    other = _many_alerts()
    config = alertmanager_config(demo, CompileOptions())
    rule = prometheus_rule(other, CompileOptions())
    assert config is not None and rule is not None
    matchers = config["spec"]["route"]["matchers"]
    for r in _rules(rule):
        assert any(r["labels"].get(m["name"]) != m["value"] for m in matchers)


# --------------------------------------------------------------------------- none, determinism


def test_no_alert_triggers_gives_none() -> None:
    with Axon("quiet") as axon:
        train = TrainTask("Train", image="python:3.11-slim")
        Sensor("Once", tasks=[train])
        Sensor("OnFail", triggers=[Lifecycle(train, "Failed"), Rest("go")], tasks=[train])
    assert prometheus_rule(axon, CompileOptions()) is None
    assert alertmanager_config(axon, CompileOptions()) is None
    assert prometheus_rule(Axon("empty"), CompileOptions()) is None
    assert alertmanager_config(Axon("empty"), CompileOptions()) is None


def test_deterministic(demo: Axon) -> None:
    first = dump_all(_both(demo, CompileOptions(namespace="ml")) + _both(_many_alerts(), CompileOptions()))
    again = Axon.from_file(DEMO_YAML)
    second = dump_all(_both(again, CompileOptions(namespace="ml")) + _both(_many_alerts(), CompileOptions()))
    assert first == second


def test_long_axon_name_stays_dns_safe() -> None:
    with Axon("a-very-long-axon-name-" + "x" * 60) as axon:
        train = TrainTask("Train", image="python:3.11-slim")
        Sensor("Retrain", triggers=[Alert("{{acc}} < 0.9")], tasks=[train])
    for doc in _both(axon, CompileOptions()):
        assert is_dns_label(doc["metadata"]["name"])
