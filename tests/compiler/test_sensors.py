"""Sensors -> WorkflowTemplates: task order by templateRef, metric gates, start Workflows, exit notifications.

No Argo controller can run here, so the manifests are checked against the upstream Argo Workflows schema
(strict) and the documented template semantics; the gate step's inline script is run for real against a
real Prometheus and Pushgateway.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from myelin_sdk import (
    Axon,
    CompileOptions,
    ContainerTask,
    Deployer,
    DeployTask,
    Lifecycle,
    Metric,
    Model,
    MyelinError,
    Rest,
    Sensor,
    TrainTask,
    VolumeClaimTemplate,
)
from myelin_sdk.compiler import compile_axon
from myelin_sdk.compiler.sensors import CREATE_ONCE
from myelin_sdk.loader import load_path
from myelin_sdk.spec import BackendModel
from myelin_sdk.spec.expressions import placeholders

from support.prometheus import Server, push, wait_for
from support.schemas import SchemaValidator, assert_valid

DEMO_YAML = Path(__file__).resolve().parents[2] / "examples" / "recommender_demo" / "recommender-demo.yaml"


def gated_axon() -> Axon:
    with Axon("ml-rec") as axon:
        VolumeClaimTemplate("store", storage="1Gi")
        prep = ContainerTask("Prep", image="busybox")
        train = TrainTask("Train", image="busybox")
        DeployTask("Serve", image="seldon:1")
        Sensor("OnStart", tasks=[prep, train])
        Sensor(
            "Retrain",
            triggers=[Rest("again")],
            conditions=[
                Metric("{{recommender_train_rmse}} < 0.95"),
                Metric("{{other}} > 1", interval="1s", count=3, failure_limit=1),
            ],
            tasks=[prep, train, prep],
        )
        Sensor("Watch", triggers=[Lifecycle(train, "Failed")], tasks=[prep])
    return axon


def flat(steps_template: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of a steps template, groups flattened in order."""
    return [step for group in steps_template["steps"] for step in group]


def templates(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in manifest["spec"]["templates"]}


def sensor_template(bundle: Any, sensor: str) -> dict[str, Any]:
    (found,) = bundle.find("WorkflowTemplate", f"ml-rec-sensor-{sensor}")
    return found  # type: ignore[no-any-return]


def test_sensor_templates_validate_and_reference_existing_task_templates(
    schema_validator: SchemaValidator,
) -> None:
    bundle = compile_axon(gated_axon())
    assert_valid(bundle.manifests, schema_validator)
    names = {m["metadata"]["name"] for m in bundle.find("WorkflowTemplate")}
    for sensor in ("on-start", "retrain", "watch"):
        main = templates(sensor_template(bundle, sensor))["main"]
        for step in flat(main):
            if "templateRef" in step:
                assert step["templateRef"]["name"] in names
                assert step["templateRef"]["template"] == "main"


def test_steps_run_in_the_listed_order_with_unique_names() -> None:
    main = templates(sensor_template(compile_axon(gated_axon()), "retrain"))["main"]
    refs = [(s["name"], s["templateRef"]["name"]) for s in flat(main) if "templateRef" in s]
    assert refs == [("prep", "ml-rec-prep"), ("train", "ml-rec-train"), ("prep-2", "ml-rec-prep")]


def test_gates_run_first_side_by_side_and_every_later_step_needs_all_of_them() -> None:
    """All gates always run (in one parallel group), so every result the later `when`s read exists."""
    main = templates(sensor_template(compile_axon(gated_axon()), "retrain"))["main"]
    gates, *later = main["steps"]
    assert [g["name"] for g in gates] == ["gate-0", "gate-1"]
    assert all("when" not in g for g in gates)
    both = "{{steps.gate-0.outputs.result}} == passed && {{steps.gate-1.outputs.result}} == passed"
    assert [len(group) for group in later] == [1, 1, 1]
    assert all(group[0]["when"] == both for group in later)


def test_gate_script_carries_the_published_query_and_the_analysis_settings() -> None:
    options = CompileOptions(prometheus_url="http://prom.monitoring.svc:9090")
    gate = templates(sensor_template(compile_axon(gated_axon(), options), "retrain"))["gate-1"]["script"]
    source = gate["source"]
    assert gate["command"] == ["python"]
    assert source.rstrip().endswith(
        "sys.exit(main(['--prometheus', 'http://prom.monitoring.svc:9090', '--query', 'other_ml__rec > 1', "
        "'--interval', '1s', '--count', '3', '--failure-limit', '1', '--step-output']))"
    )
    assert "{{" not in source


def test_sensor_without_triggers_gets_a_create_once_start_workflow(schema_validator: SchemaValidator) -> None:
    bundle = compile_axon(gated_axon())
    (start,) = bundle.find("Workflow")
    assert start["spec"] == {"workflowTemplateRef": {"name": "ml-rec-sensor-on-start"}}
    assert start["metadata"]["annotations"][CREATE_ONCE] == "true"
    assert bundle.manifests[-1] is start  # created after everything it needs
    assert_valid([start], schema_validator)


def test_sensor_templates_declare_the_volumes_of_the_referenced_tasks() -> None:
    wt = sensor_template(compile_axon(gated_axon()), "on-start")
    assert wt["spec"]["volumes"] == [
        {"name": "axon-store", "persistentVolumeClaim": {"claimName": "ml-rec-store"}}
    ]


def test_watched_task_notifies_its_exit_phase_and_still_fails_when_it_failed() -> None:
    bundle = compile_axon(gated_axon())
    (train,) = bundle.find("WorkflowTemplate", "ml-rec-train")
    t = templates(train)
    steps = [s for (s,) in t["main"]["steps"]]
    assert [s["name"] for s in steps] == ["task", "notify", "fail"]
    assert steps[0]["continueOn"] == {"error": True, "failed": True}
    assert steps[2]["when"] == "{{steps.task.status}} != Succeeded"
    http = t["notify"]["http"]
    assert http["url"] == "http://ml-rec-events-eventsource-svc:12000/lifecycle"
    assert '"phase": "{{inputs.parameters.phase}}"' in http["body"]
    assert '"task": "Train"' in http["body"]
    (prep,) = bundle.find("WorkflowTemplate", "ml-rec-prep")
    assert [s["name"] for (s,) in templates(prep)["main"]["steps"]] == ["run"]  # nobody listens to Prep


def unmappable_deployer(train: TrainTask, serve: DeployTask) -> Deployer:
    """A deployer Seldon Core cannot serve: predictors split traffic by weight, not by a rollout ``match``."""
    from myelin_sdk import Destination, RolloutStep

    model = Model("M", backend_models=[BackendModel("B", trainer=train, deployer=serve)])
    rollout = RolloutStep(match={"headers": {"x-canary": "1"}}, destinations=[Destination(0, 100)])
    return Deployer("dep", models=[model], rollout_spec=[rollout])


def test_a_deployer_that_cannot_map_to_seldon_is_refused_with_its_field_path() -> None:
    """Never left out silently: compile refuses it, and lint reports the same error (one rule set)."""
    from myelin_sdk.compiler import refusals
    from myelin_sdk.errors import UnsupportedError
    from myelin_sdk.lint import errors_only, lint_axon

    with Axon("d") as axon:
        VolumeClaimTemplate("store", storage="1Gi")
        train = TrainTask("Train", image="busybox")
        serve = DeployTask("Serve", image="seldon:1")
        Sensor("Deploy", triggers=[Lifecycle(train)], tasks=[unmappable_deployer(train, serve)])
    with pytest.raises(UnsupportedError) as err:
        compile_axon(axon)
    path = "spec.sensors[0].tasks[0].deployer.rolloutSpec[0].match"
    assert [d.path for d in err.value.diagnostics] == [path]
    assert "predictors get traffic by weight only" in str(err.value)
    assert refusals(axon) == list(err.value.diagnostics)
    assert [d.path for d in errors_only(lint_axon(axon))] == [path]


def test_a_condition_prometheus_cannot_measure_is_refused() -> None:
    with Axon("n") as axon:
        t = TrainTask("T", image="b")
        Sensor("S", triggers=[Rest()], conditions=[Metric("not {{m}} < 1")], tasks=[t])
    with pytest.raises(MyelinError, match=r"spec\.sensors\[0\]\.conditions\[0\]\.condition: .*'not'"):
        compile_axon(axon)


@pytest.mark.parametrize(
    ("metric", "value", "verdict"), [("probe_low", 0.9, "passed"), ("probe_high", 1.2, "failed")]
)
def test_compiled_gate_script_decides_against_a_real_prometheus(
    prometheus: Server, pushgateway: Server, metric: str, value: float, verdict: str
) -> None:
    """The exact script the gate step would run, run here with a bare interpreter against real servers."""
    published = f"{metric}_ml__rec"
    push(pushgateway.url, "ml-rec-train", published, value)
    wait_for(prometheus.url, f"{published} == {value!r}")
    with Axon("ml-rec") as axon:
        t = TrainTask("Train", image="busybox")
        Sensor("Gated", triggers=[Rest()], conditions=[Metric(f"{{{{{metric}}}}} < 0.95")], tasks=[t])
    bundle = compile_axon(axon, CompileOptions(prometheus_url=prometheus.url))
    gate = templates(sensor_template(bundle, "gated"))["gate-0"]["script"]
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-"], input=gate["source"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr  # a failed gate is not an error: the steps are skipped
    assert result.stdout == f"{verdict}\n"  # Argo's outputs.result is exactly this


def test_an_axon_with_every_trigger_and_condition_compiles_to_valid_documents(
    schema_validator: SchemaValidator,
) -> None:
    """Lifecycle (Succeeded, Failed), Alert, Rest and Calendar triggers, a Metric condition: one bundle."""
    from myelin_sdk import Alert, Calendar

    with Axon("every", namespace="ml") as axon:
        VolumeClaimTemplate("store", storage="1Gi")
        prep = ContainerTask("Prep", image="busybox")
        train = TrainTask("Train", image="busybox")
        Sensor("OnStart", tasks=[prep, train])
        Sensor(
            "OnTrained",
            triggers=[Lifecycle(train, "Succeeded")],
            conditions=[Metric("{{rmse}} < 1")],
            tasks=[prep],
        )
        Sensor("OnFailed", triggers=[Lifecycle(train, "Failed")], tasks=[train])
        Sensor(
            "OnAlert",
            triggers=[Alert("avg_over_time({{acc}}[5m]) < 0.9", name="low", for_="1m")],
            tasks=[train],
        )
        Sensor("OnCall", triggers=[Rest("go"), Calendar(name="nightly", schedule="0 3 * * *")], tasks=[train])
        Sensor("Hourly", triggers=[Calendar(name="tick", interval="1h")], tasks=[prep])
    bundle = compile_axon(axon)
    assert_valid(bundle.manifests, schema_validator)
    kinds = {m["kind"] for m in bundle}
    assert kinds == {
        "ServiceAccount", "Role", "RoleBinding", "PersistentVolumeClaim", "WorkflowTemplate", "EventSource",
        "Sensor", "PrometheusRule", "AlertmanagerConfig", "Workflow", "NetworkPolicy",
    }  # fmt: skip
    assert len(bundle.find("Sensor")) == 5
    assert len(bundle.find("EventSource")) == 2  # webhook + calendar
    for manifest in bundle:
        assert all(not placeholders(s) for s in strings(manifest))
    assert bundle.warnings == []


def strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def test_alerts_without_a_namespace_warn_that_alertmanager_cannot_resolve_the_webhook() -> None:
    from myelin_sdk import Alert

    with Axon("a") as axon:
        train = TrainTask("Train", image="busybox")
        Sensor("Retrain", triggers=[Alert("{{acc}} < 1", name="low")], tasks=[train])
    assert [w.path for w in compile_axon(axon).warnings] == ["metadata.namespace"]
    assert compile_axon(axon, CompileOptions(namespace="ml")).warnings == []


def test_analysis_run_gates_validate_and_decide_by_the_step_status(schema_validator: SchemaValidator) -> None:
    """``gate="analysis-run"``: each gate is a resource step creating an Argo Rollouts AnalysisRun (checked
    against the Rollouts CRD: no Rollouts controller runs here); a failed analysis skips the steps."""
    import yaml

    options = CompileOptions(gate="analysis-run", prometheus_url="http://prom.monitoring.svc:9090")
    bundle = compile_axon(gated_axon(), options)
    assert_valid(bundle.manifests, schema_validator)
    wt = templates(sensor_template(bundle, "retrain"))
    resource = wt["gate-1"]["resource"]
    assert resource["action"] == "create"
    assert resource["successCondition"] == "status.phase == Successful"
    run = yaml.safe_load(resource["manifest"])
    assert_valid([{**run, "metadata": {**run["metadata"], "name": "x"}}], schema_validator)
    (metric,) = run["spec"]["metrics"]
    assert (metric["interval"], metric["count"], metric["failureLimit"]) == ("1s", 3, 1)
    assert metric["provider"]["prometheus"] == {
        "address": "http://prom.monitoring.svc:9090",
        "query": "other_ml__rec > 1",
    }
    gates, *later = wt["main"]["steps"]
    assert all(g["continueOn"] == {"failed": True} for g in gates)
    assert (
        later[0][0]["when"] == "{{steps.gate-0.status}} == Succeeded && {{steps.gate-1.status}} == Succeeded"
    )
    (role,) = bundle.find("Role")
    assert {
        "apiGroups": ["argoproj.io"],
        "resources": ["analysisruns"],
        "verbs": ["create", "get", "list", "watch"],
    } in (role["rules"])


def test_script_gates_need_no_analysis_rights() -> None:
    (role,) = compile_axon(gated_axon()).find("Role")
    assert all("analysisruns" not in rule["resources"] for rule in role["rules"])


def test_an_unknown_gate_is_refused() -> None:
    with pytest.raises(MyelinError, match="gate: expected one of script, analysis-run"):
        CompileOptions(gate="rollouts")


def test_a_deployer_becomes_select_apply_commit_after_the_gates(schema_validator: SchemaValidator) -> None:
    bundle = compile_axon(load_path(DEMO_YAML))
    assert_valid(bundle.manifests, schema_validator)
    wt = templates(sensor_template(bundle, "deployment-decision-maker"))
    groups = [[s["name"] for s in group] for group in wt["main"]["steps"]]
    assert groups == [
        ["gate-0"],
        ["recommenderdeployer-select"],
        ["recommenderdeployer-apply"],
        ["recommenderdeployer-commit"],
    ]
    apply_step = wt["main"]["steps"][2][0]
    assert apply_step["arguments"]["parameters"] == [
        {"name": "manifest", "value": "{{steps.recommenderdeployer-select.outputs.result}}"}
    ]
    assert apply_step["when"] == "{{steps.gate-0.outputs.result}} == passed"
    resource = wt["recommenderdeployer-apply"]["resource"]
    assert (resource["action"], resource["successCondition"]) == ("apply", "status.state == Available")
    mounts = wt["recommenderdeployer-select"]["script"]["volumeMounts"]
    # the shared volume, and an emptyDir at /tmp: the script's root is read-only (compiler.security)
    assert mounts == [
        {"mountPath": "/axon-store", "name": "axon-store"},
        {"mountPath": "/tmp", "name": "myelin-tmp"},
    ]
    assert [w.path for w in bundle.warnings] == ["metadata.namespace"]  # nothing is left out
