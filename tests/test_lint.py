"""Tests of myelin_sdk.lint: one test a check, asserting the field path and the key words of the message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from myelin_sdk.errors import Diagnostic, MyelinError
from myelin_sdk.lint import errors_only, lint_axon
from myelin_sdk.spec import (
    Alert,
    Artifact,
    Axon,
    BackendModel,
    ContainerTask,
    DagNode,
    Deployer,
    DeployTask,
    Destination,
    Dockerfile,
    EnvVar,
    Git,
    ImageBuild,
    Lifecycle,
    Metric,
    Model,
    Parameter,
    Rest,
    RolloutStep,
    Route,
    RouteDestination,
    RoutingStep,
    Sensor,
    Task,
    TrainTask,
    VolumeClaimTemplate,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_AXONS = SHARED / "axons"

# --- helpers -----------------------------------------------------------------------------------------------


def build(repo: str = "train") -> ImageBuild:
    return ImageBuild(repository_name=repo, artifact="src", dockerfile=Dockerfile(f"Dockerfile.{repo}"))


def deployer(
    *,
    trainer: str | Task = "Train",
    server: str | Task = "Deploy",
    rollout: list[Destination] | None = None,
    routing: list[RouteDestination] | None = None,
    routes: list[Route] | None = None,
) -> Deployer:
    """A one-model deployer; every part can be replaced to break it."""
    model = Model(
        "Rec",
        backend_models=[BackendModel("Backend", trainer=trainer, deployer=server)],
        routing_strategy=[RoutingStep(destinations=routing)] if routing else [],
    )
    return Deployer(
        "deployer",
        rollout_spec=[RolloutStep(destinations=rollout or [Destination(0, 50), Destination(1, 50)])],
        models=[model],
        routes=routes or [],
    )


def base(name: str = "t") -> Axon:
    """An artifact, a prep/train/deploy task trio; add sensors inside ``with axon:``."""
    axon = Axon(name)
    with axon:
        Artifact("src", git=Git(repo="https://github.com/myelinio/myelin-examples.git"))
        VolumeClaimTemplate("axon-store", storage="1Gi")  # a deployer needs the shared volume to compile
        ContainerTask("Prep", image="python:3.11-slim", command=["python", "prep.py"])
        TrainTask("Train", image_build=build("train"), loss_metric="rmse", loss_metric_selector="less")
        DeployTask("Deploy", image_build=build("deploy"), endpoint_type="REST")
    return axon


def clean_axon() -> Axon:
    axon = base()
    with axon:
        Parameter("epochs", value="3")
        Sensor("TrainOnStart", tasks=[axon.task("Prep"), axon.task("Train")])
        Sensor(
            "DeployOnTrained",
            triggers=[Lifecycle("Train", "Succeeded")],
            conditions=[Metric("{{train_rmse}} < 0.95")],
            tasks=[deployer()],
        )
        Sensor(
            "Retrain", triggers=[Alert("{{accuracy}} < 0.9", name="low-accuracy")], tasks=[axon.task("Train")]
        )
    return axon


def load(text: str) -> Axon:
    return Axon.from_yaml(textwrap.dedent(text))


def only(diags: list[Diagnostic], severity: str = "error") -> Diagnostic:
    """The single diagnostic, asserting there is exactly one and of ``severity``."""
    assert len(diags) == 1, "\n".join(f"{d.severity} {d.path}: {d.message}" for d in diags)
    assert diags[0].severity == severity
    return diags[0]


def has_words(message: str, *words: str) -> bool:
    return all(w in message for w in words)


# --- clean axons -------------------------------------------------------------------------------------------


def test_clean_axon_has_no_diagnostics() -> None:
    assert lint_axon(clean_axon()) == []


def test_axon_lint_method_is_lint_axon() -> None:
    axon = clean_axon()
    axon.sensors[0].tasks[1].trainer.task = "Trian"  # type: ignore[union-attr]
    assert axon.lint() == lint_axon(axon) != []


def test_metric_names_are_free() -> None:
    """A Metric condition or Alert may name any metric: no check against what tasks publish."""
    axon = base()
    with axon:
        Sensor(
            "Gate",
            triggers=[Alert("avg_over_time({{never_published}}{job='x'}[5m]) < 0.2")],
            conditions=[Metric("{{also_unknown}} > 1 and {{x}} <= 2")],
            tasks=[axon.task("Prep")],
        )
    assert lint_axon(axon) == []


CLEAN_YAML = """\
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata:
  name: graph
spec:
  volume: {name: store, hostPath: {path: /var/lib/myelin}}
  artifacts:
    - name: src
      git: {repo: "https://github.com/myelinio/myelin-examples.git"}
  tasks:
    - name: Train1
      train: {imageBuild: {repositoryName: t1, artifact: src, dockerfile: {path: Dockerfile}}}
    - name: Deploy1
      deploy: {imageBuild: {repositoryName: d1, artifact: src, dockerfile: {path: Dockerfile}}}
    - name: Train2
      train: {imageBuild: {repositoryName: t2, artifact: src, dockerfile: {path: Dockerfile}}}
    - name: Deploy2
      deploy: {imageBuild: {repositoryName: d2, artifact: src, dockerfile: {path: Dockerfile}}}
  sensors:
    - name: TrainAll
      triggers: [{name: go, type: Rest}]
      tasks: [{trainer: {task: Train1}}, {trainer: {task: Train2}}]
    - name: Deploy
      triggers: [{type: Lifecycle, task: Train2, condition: Succeeded}]
      tasks:
        - deployer:
            rolloutSpec:
              - destinations: [{destinationIndex: 1, weight: 80}, {destinationIndex: 2, weight: 20}]
                shadow: {destinationIndex: 0}
            models:
              - name: M1
                backendModels: [{name: b1, trainer: Train1, deployer: Deploy1}]
              - name: M2
                routingStrategy:
                  - destinations: [{destinationName: b2, weight: 70}, {destinationName: b2x, weight: 30}]
                backendModels:
                  - {name: b2, trainer: Train2, deployer: Deploy2}
                  - {name: b2x, trainer: Train1, deployer: Deploy2}
            routes:
              - path: /predict
                dag:
                  - {model: M2, path: /predict, includeInput: true, dependencies: [M1, Remote]}
                  - {model: M1, path: /predict}
                  - {model: Remote, fullPath: "http://remote:5000/predict", healthPath: "http://remote:5000/health"}
              - path: /send-feedback
                dag: [{task: Deploy1, path: /send-feedback}]
"""


def test_clean_yaml_axon_with_graph_external_model_and_legacy_task_has_no_diagnostics() -> None:
    axon = load(CLEAN_YAML)
    assert axon.sensors[1].tasks[0].deployer.routes[1].dag[0].model == "M1"  # type: ignore[union-attr]
    # its volume is a hostPath: the one warning (tests/test_lint_inputs.py)
    assert [(d.severity, d.path) for d in lint_axon(axon)] == [("warning", "spec.volume.hostPath")]


# --- duplicate names ---------------------------------------------------------------------------------------


def test_duplicate_task_name() -> None:
    axon = base()
    with axon:
        ContainerTask("Prep", image="busybox")
    d = only(lint_axon(axon))
    assert d.path == "spec.tasks[3].name"
    assert has_words(d.message, "duplicate task name 'Prep'", "spec.tasks[0].name", "unique")


def test_duplicate_artifact_name() -> None:
    axon = base()
    with axon:
        Artifact("src", git=Git(repo="https://example.com/other.git"))
    d = only(lint_axon(axon))
    assert d.path == "spec.artifacts[1].name"
    assert has_words(d.message, "duplicate artifact name 'src'", "spec.artifacts[0].name")


def test_duplicate_sensor_name() -> None:
    axon = base()
    with axon:
        Sensor("Run", tasks=[axon.task("Prep")])
        Sensor("Run", tasks=[axon.task("Train")])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[1].name"
    assert has_words(d.message, "duplicate sensor name 'Run'", "spec.sensors[0].name")


def test_duplicate_parameter_name() -> None:
    axon = base()
    with axon:
        Parameter("epochs", value="1")
        Parameter("epochs", value="2")
    d = only(lint_axon(axon))
    assert d.path == "spec.parameters[1].name"
    assert has_words(d.message, "duplicate parameter name 'epochs'")


def test_duplicate_trigger_name_within_a_sensor() -> None:
    axon = base()
    with axon:
        # two unnamed Alerts are both called 'alert'
        Sensor("Retrain", triggers=[Alert("{{a}} < 1"), Alert("{{b}} < 1")], tasks=[axon.task("Train")])
        Sensor("Other", triggers=[Alert("{{a}} < 1")], tasks=[axon.task("Train")])  # another sensor: fine
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].triggers[1].name"
    assert has_words(d.message, "duplicate trigger name 'alert'", "in sensor 'Retrain'")


def test_an_empty_trigger_name_is_an_error_not_a_crash() -> None:
    """Found by tests/test_fuzz.py: ``name: ""`` on an Alert names no Argo Events dependency."""
    axon = base()
    with axon:
        Sensor("Retrain", triggers=[Alert("{{a}} < 1", name="")], tasks=[axon.task("Train")])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].triggers[0].name"
    assert has_words(d.message, "trigger name is empty", "cannot become a Kubernetes name")


def test_duplicate_model_within_a_deployer() -> None:
    axon = base()
    backend = BackendModel("b", trainer="Train", deployer="Deploy")
    with axon:
        dep = Deployer(
            "d", models=[Model("Rec", backend_models=[backend]), Model("Rec", backend_models=[backend])]
        )
        dep.routes = [Route(path="/predict", dag=[DagNode(model="Rec")])]
        Sensor("Serve", tasks=[dep])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks[0].deployer.models[1].name"
    assert has_words(d.message, "duplicate model name 'Rec'", "in this deployer")


def test_duplicate_backend_model_within_a_model() -> None:
    axon = base()
    backend = BackendModel("b", trainer="Train", deployer="Deploy")
    routing = [RoutingStep(destinations=[RouteDestination(destination_name="b", weight=100)])]
    with axon:
        model = Model("Rec", backend_models=[backend, backend], routing_strategy=routing)
        Sensor("Serve", tasks=[Deployer("d", models=[model])])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks[0].deployer.models[0].backendModels[1].name"
    assert has_words(d.message, "duplicate backend model name 'b'", "in model 'Rec'")


def test_duplicate_route_path_within_a_deployer() -> None:
    axon = base()
    routes = [
        Route(path="/predict", dag=[DagNode(model="Rec")]),
        Route(path="/predict", dag=[DagNode(model="Rec")]),
    ]
    with axon:
        Sensor("Serve", tasks=[deployer(routes=routes)])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks[0].deployer.routes[1].path"
    assert has_words(d.message, "duplicate route path '/predict'", "in this deployer")


def test_duplicate_env_var_within_a_task() -> None:
    axon = base()
    with axon:
        ContainerTask("Env", image="busybox", env=[EnvVar(name="A", value="1"), EnvVar(name="A", value="2")])
    d = only(lint_axon(axon))
    assert d.path == "spec.tasks[3].container.env[1].name"
    assert has_words(d.message, "duplicate env var name 'A'", "in task 'Env'")


def test_task_names_mapping_to_the_same_kubernetes_name() -> None:
    axon = base()
    with axon:
        TrainTask("TrainModel", image_build=build("a"))
        TrainTask("train-model", image_build=build("b"))
    d = only(lint_axon(axon))
    assert d.path == "spec.tasks[4].name"
    assert has_words(
        d.message,
        "'train-model'",
        "'TrainModel'",
        "spec.tasks[3].name",
        "Kubernetes name 'train-model'",
        "collide",
    )


def test_sensor_names_mapping_to_the_same_kubernetes_name() -> None:
    axon = base()
    with axon:
        Sensor("OnStart", tasks=[axon.task("Prep")])
        Sensor("on_start", tasks=[axon.task("Prep")])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[1].name"
    assert has_words(d.message, "'on_start'", "'OnStart'", "'on-start'", "WorkflowTemplate")


def test_task_and_sensor_may_share_a_name() -> None:
    axon = base()
    with axon:
        Sensor("Train", tasks=[axon.task("Train")])
    assert lint_axon(axon) == []


# --- invalid names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ML-Rec", "ml_rec", "-ml", "ml-", "x" * 64])
def test_axon_name_must_be_a_dns_label(name: str) -> None:
    d = only(lint_axon(base(name)))
    assert d.path == "metadata.name"
    assert has_words(d.message, f"axon name {name!r}", "DNS-1123 label", "expected", "lowercase")


def test_axon_name_error_suggests_a_valid_name() -> None:
    d = only(lint_axon(base("MlRec")))
    assert "e.g. 'ml-rec'" in d.message


@pytest.mark.parametrize("name", ["_Extra", "-extra", "extra step", "extra.v2", "extrà"])
def test_invalid_task_name(name: str) -> None:
    axon = base()
    with axon:
        ContainerTask(name, image="busybox")
    d = only(lint_axon(axon))
    assert d.path == "spec.tasks[3].name"
    assert has_words(d.message, f"task name {name!r} is invalid", "letters, digits, '-' and '_'", "start")


@pytest.mark.parametrize("name", ["DataPrep2", "0prep", "data-prep", "data_prep"])
def test_valid_task_names(name: str) -> None:
    axon = base()
    with axon:
        ContainerTask(name, image="busybox")
    assert lint_axon(axon) == []


def test_invalid_sensor_name() -> None:
    axon = base()
    with axon:
        Sensor("on start", tasks=[axon.task("Prep")])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].name"
    assert has_words(d.message, "sensor name 'on start' is invalid")


# --- references --------------------------------------------------------------------------------------------


def test_unknown_image_build_artifact() -> None:
    axon = base()
    with axon:
        ContainerTask(
            "Build", image_build=ImageBuild(repository_name="b", artifact="srcc", dockerfile=Dockerfile())
        )
    d = only(lint_axon(axon))
    assert d.path == "spec.tasks[3].container.imageBuild.artifact"
    assert d.message == "no artifact named 'srcc' — did you mean 'src'?"


def test_unknown_lifecycle_task() -> None:
    axon = base()
    with axon:
        Sensor("Deploy", triggers=[Lifecycle("Trian", "Succeeded")], tasks=[deployer()])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].triggers[0].task"
    assert d.message == "no task named 'Trian' — did you mean 'Train'?"


def test_unknown_resource_executor_and_trainer_tasks() -> None:
    axon = base()
    with axon:
        Sensor("Run", tasks=[{"resourceExecutor": {"task": "Perp"}}, {"trainer": {"task": "Trian"}}])
    diags = lint_axon(axon)
    assert [d.path for d in diags] == [
        "spec.sensors[0].tasks[0].resourceExecutor.task",
        "spec.sensors[0].tasks[1].trainer.task",
    ]
    assert diags[0].message == "no task named 'Perp' — did you mean 'Prep'?"
    assert diags[1].message == "no task named 'Trian' — did you mean 'Train'?"


def test_unknown_name_without_close_match_lists_the_choices() -> None:
    axon = base()
    with axon:
        Sensor("Run", tasks=[{"resourceExecutor": {"task": "Zzz"}}])
    d = only(lint_axon(axon))
    assert d.message == "no task named 'Zzz'; expected one of 'Prep', 'Train', 'Deploy'"


def test_unknown_name_when_there_are_none() -> None:
    axon = Axon("t")
    with axon:
        Sensor("Run", tasks=[{"resourceExecutor": {"task": "Prep"}}])
    d = only(lint_axon(axon))
    assert d.message == "no task named 'Prep' (there are none)"


def test_unknown_backend_model_tasks() -> None:
    axon = base()
    with axon:
        Sensor("Serve", tasks=[deployer(trainer="Trainn", server="Deplyo")])
    diags = lint_axon(axon)
    prefix = "spec.sensors[0].tasks[0].deployer.models[0].backendModels[0]"
    assert [d.path for d in diags] == [f"{prefix}.trainer", f"{prefix}.deployer"]
    assert diags[0].message == "no task named 'Trainn' — did you mean 'Train'?"
    assert diags[1].message == "no task named 'Deplyo' — did you mean 'Deploy'?"


def test_unknown_routing_destination() -> None:
    axon = base()
    with axon:
        Sensor("Serve", tasks=[deployer(routing=[RouteDestination(destination_name="Backnd", weight=100)])])
    d = only(lint_axon(axon))
    assert (
        d.path
        == "spec.sensors[0].tasks[0].deployer.models[0].routingStrategy[0].destinations[0].destinationName"
    )
    assert d.message == "no backend model named 'Backnd' in model 'Rec' — did you mean 'Backend'?"


def test_unknown_dag_model_and_dependency() -> None:
    axon = base()
    routes = [
        Route(
            path="/predict",
            dag=[DagNode(model="Rce", path="/predict"), DagNode(model="Rec", dependencies=["Rc"])],
        )
    ]
    with axon:
        Sensor("Serve", tasks=[deployer(routes=routes)])
    diags = lint_axon(axon)
    prefix = "spec.sensors[0].tasks[0].deployer.routes[0]"
    assert [d.path for d in diags] == [f"{prefix}.dag[0].model", f"{prefix}.dag[1].dependencies[0]"]
    assert diags[0].message == "no model named 'Rce' in this deployer — did you mean 'Rec'?"
    assert diags[1].message == "no model named 'Rc' in this deployer — did you mean 'Rec'?"


def test_external_dag_model_is_declared_by_its_full_path() -> None:
    axon = base()
    routes = [
        Route(
            path="/predict",
            dag=[
                DagNode(model="Rec", dependencies=["Remote"]),
                DagNode(model="Remote", full_path="http://remote:5000/predict"),
            ],
        )
    ]
    with axon:
        Sensor("Serve", tasks=[deployer(routes=routes)])
    assert lint_axon(axon) == []


LEGACY_YAML = """\
apiVersion: myelinproj.io/v1alpha1
kind: Axon
metadata: {name: ml-rec}
spec:
  tasks:
    - name: Train
      train: {image: train:1}
    - name: Deploy
      deploy: {image: deploy:1, deploymentType: canary, replicas: 2}
  sensors:
    - name: Serve
      tasks:
        - deployer:
            models: [{name: Rec, trainer: Train, deployer: Deploy}]
            routes:
              - path: /predict
                dag: [{task: Deploy, path: /predict}]
              - path: /send-feedback
                dag: [{task: Deplyo, path: /send-feedback}]
"""


def test_legacy_dag_task_that_no_model_serves() -> None:
    axon = load(LEGACY_YAML)
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks[0].deployer.routes[1].dag[0].task"
    assert has_words(
        d.message,
        "no model of this deployer is served by task 'Deplyo'",
        "expected model:",
        "deploy tasks served here: 'Deploy' (model 'Rec')",
    )
    assert d.message.endswith(" — did you mean 'Deploy'?")


def test_legacy_models_are_linted_as_backend_models() -> None:
    axon = load(LEGACY_YAML.replace("trainer: Train,", "trainer: Trian,").replace("Deplyo", "Deploy"))
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks[0].deployer.models[0].backendModels[0].trainer"
    assert d.message == "no task named 'Trian' — did you mean 'Train'?"


# --- kinds -------------------------------------------------------------------------------------------------


def test_trainer_step_must_name_a_train_task() -> None:
    axon = base()
    with axon:
        Sensor("Run", tasks=[{"trainer": {"task": "Prep"}}])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks[0].trainer.task"
    assert has_words(
        d.message, "'Prep' is a container task", "trainer step must name a train task", "resourceExecutor"
    )


def test_backend_model_trainer_and_deployer_kinds() -> None:
    axon = base()
    with axon:
        Sensor("Serve", tasks=[deployer(trainer="Prep", server="Train")])
    diags = lint_axon(axon)
    prefix = "spec.sensors[0].tasks[0].deployer.models[0].backendModels[0]"
    assert [d.path for d in diags] == [f"{prefix}.trainer", f"{prefix}.deployer"]
    assert has_words(diags[0].message, "'Prep' is a container task", "backendModels[].trainer", "train task")
    assert has_words(diags[1].message, "'Train' is a train task", "backendModels[].deployer", "deploy task")


def test_resource_executor_must_not_run_a_deploy_task() -> None:
    axon = base()
    with axon:
        Sensor("Run", tasks=[axon.task("Deploy")])  # the DSL makes it a resourceExecutor step
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks[0].resourceExecutor.task"
    assert has_words(d.message, "'Deploy' is a deploy task", "run by a deployer", "not by a resourceExecutor")


def test_lifecycle_trigger_on_a_deploy_task_is_a_warning() -> None:
    axon = base()
    with axon:
        Sensor("AfterDeploy", triggers=[Lifecycle("Deploy", "Succeeded")], tasks=[axon.task("Prep")])
    diags = lint_axon(axon)
    d = only(diags, severity="warning")
    assert d.path == "spec.sensors[0].triggers[0].task"
    assert has_words(d.message, "Lifecycle trigger on deploy task 'Deploy'", "may never fire")
    assert errors_only(diags) == []


# --- weights -----------------------------------------------------------------------------------------------


def test_rollout_weights_sum_to_100() -> None:
    axon = base()
    with axon:
        Sensor("Serve", tasks=[deployer(rollout=[Destination(0, 50), Destination(1, 40)])])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks[0].deployer.rolloutSpec[0].destinations"
    assert d.message == "weights sum to 90; expected 100"


def test_routing_weights_sum_to_100() -> None:
    axon = base()
    with axon:
        Sensor("Serve", tasks=[deployer(routing=[RouteDestination(destination_name="Backend", weight=60)])])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks[0].deployer.models[0].routingStrategy[0].destinations"
    assert d.message == "weights sum to 60; expected 100"


def test_duplicate_destination_index_in_a_rollout_step() -> None:
    axon = base()
    with axon:
        Sensor("Serve", tasks=[deployer(rollout=[Destination(0, 50), Destination(0, 50)])])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks[0].deployer.rolloutSpec[0].destinations[1].destinationIndex"
    assert has_words(d.message, "duplicate destinationIndex 0", "destinations[0]")


# --- sensors -----------------------------------------------------------------------------------------------


def test_sensor_without_tasks() -> None:
    axon = base()
    with axon:
        Sensor("Idle", triggers=[Rest("go")])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks"
    assert has_words(d.message, "sensor 'Idle' has no tasks", "expected at least one step")


def test_metric_condition_is_parsed_again() -> None:
    axon = clean_axon()
    axon.sensors[1].conditions[0].condition = "{{train_rmse}} 0.95"  # assignment is not validated
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[1].conditions[0].condition"
    assert has_words(d.message, "invalid metric condition", "expected a comparison operator")


def test_alert_condition_is_parsed_again() -> None:
    axon = clean_axon()
    trigger = axon.sensors[2].triggers[0]
    assert isinstance(trigger, Alert)
    trigger.condition = "{{accuracy}} <"
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[2].triggers[0].condition"
    assert d.message.startswith("invalid alert condition: ")


# --- unsupported parts and images --------------------------------------------------------------------------

UNSUPPORTED_YAML = """\
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata: {name: unsupported}
spec:
  tasks:
    - name: Spark
      spark: {image: spark:1, sparkSpec: {class: Pi}}
    - name: Train
      train:
        image: train:1
        hpTuning: {concurrency: 2}
        tfJobSpec: {cleanPodPolicy: Running}
"""


def test_operator_tasks_are_checked_where_their_operators_would_reject_them() -> None:
    """spark, tfJobSpec and hpTuning compile to operators (issue 15); what the operators would reject is a
    compiler refusal at its field path, which lint reports too (tests/compiler/test_spark.py and siblings)."""
    axon = load(UNSUPPORTED_YAML)
    diags = lint_axon(axon)
    assert [(d.severity, d.path) for d in diags] == [
        ("error", "spec.tasks[0].spark.sparkSpec.applicationFile"),
        ("error", "spec.tasks[1].train.tfJobSpec.tfReplicaSpecs"),
        ("error", "spec.tasks[1].train.hpTuning.params"),
        ("error", "spec.tasks[1].train.lossMetric"),
        ("error", "spec.tasks[1].train.hpTuning"),  # no shared volume for the trials' versions
    ]
    assert not any("not supported" in d.message for d in diags)
    with pytest.raises(MyelinError) as info:
        axon.compile()
    assert info.value.diagnostics == diags


def test_task_without_image_is_refused_as_compile_refuses_it() -> None:
    axon = base()
    with axon:
        ContainerTask("Local", command=["python", "prep.py"])
    d = only(lint_axon(axon))
    assert d.path == "spec.tasks[3].container"
    assert d.message == (
        "task 'Local' has no image or imageBuild: a cluster cannot run it "
        "(`myelin run` can, with its command)"
    )
    with pytest.raises(MyelinError) as info:
        axon.compile()
    assert info.value.diagnostics == [d]


# --- order and filtering -----------------------------------------------------------------------------------


def test_diagnostics_are_ordered_by_position() -> None:
    axon = base("Bad_Name")
    with axon:
        ContainerTask("Local", command=["true"])
        Sensor("Run", tasks=[{"trainer": {"task": "Trian"}}])
        Sensor("Run", triggers=[Lifecycle("Deploy")], tasks=[deployer(rollout=[Destination(0, 10)])])
        Artifact("src", git=Git(repo="https://example.com/r.git"))
    diags = lint_axon(axon)
    # the semantic checks in document order, then what else compiling refuses (a cluster cannot run Local)
    assert [d.path for d in diags] == [
        "metadata.name",
        "spec.artifacts[1].name",
        "spec.sensors[0].tasks[0].trainer.task",
        "spec.sensors[1].name",
        "spec.sensors[1].triggers[0].task",
        "spec.sensors[1].tasks[0].deployer.rolloutSpec[0].destinations",
        "spec.tasks[3].container",
    ]
    assert len(errors_only(diags)) == 6
    assert [d.path for d in diags if d.severity == "warning"] == ["spec.sensors[1].triggers[0].task"]


def test_errors_only_keeps_errors_in_order() -> None:
    diags = [
        Diagnostic("a", "x", "warning"),
        Diagnostic("b", "y"),
        Diagnostic("c", "z", "warning"),
        Diagnostic("d", "w"),
    ]
    assert errors_only(diags) == [diags[1], diags[3]]


def test_lint_does_not_change_the_axon() -> None:
    axon = load(LEGACY_YAML)
    before = axon.to_yaml()
    lint_axon(axon)
    assert axon.to_yaml() == before


# --- the original Myelin axons in ../shared/axons ----------------------------------------------------------


def _shared_files() -> list[Path | None]:
    files = sorted(SHARED_AXONS.rglob("*.yaml")) if SHARED_AXONS.is_dir() else []
    return list(files) or [None]


@pytest.mark.parametrize(
    "path", _shared_files(), ids=lambda p: str(p.relative_to(SHARED_AXONS)) if p else "missing"
)
def test_shared_axons_lint_without_errors_except_unsupported_parts(path: Path | None) -> None:
    if path is None:
        pytest.fail(f"no Axon YAML files found under {SHARED_AXONS} (expected <project>/../shared/axons)")
    if path.name == "recommender-demo.myelin-sa.yaml":  # plain RBAC, documented as not an Axon
        with pytest.raises(MyelinError, match="not an Axon"):
            Axon.from_file(path)
        return
    errors = [
        d
        for d in errors_only(lint_axon(Axon.from_file(path)))
        if not d.message.startswith("not supported yet:")
    ]
    assert errors == [], "\n".join(f"{d.path}: {d.message}" for d in errors)


# --- what a cluster cannot use -----------------------------------------------------------------------------


def test_volume_and_claim_template_together_are_an_error() -> None:
    from myelin_sdk.spec import Volume, VolumeClaimTemplate

    with Axon("v") as axon:
        Volume("store", nfs={"server": "nfs", "path": "/data"})
        VolumeClaimTemplate("store", storage="1Gi")
        ContainerTask("Prep", image="busybox")
    d = only(lint_axon(axon))
    assert d.path == "spec.volume"
    assert has_words(d.message, "either volume or volumeClaimTemplate")


def test_local_artifact_in_an_image_build_is_refused_as_compile_refuses_it() -> None:
    from myelin_sdk.spec import Local

    with Axon("l") as axon:
        Artifact("src", local=Local(path="."))
        ContainerTask("Prep", image_build=build("prep"))
    d = only(lint_axon(axon))
    assert d.path == "spec.tasks[0].container.imageBuild.artifact"
    assert has_words(d.message, "local folder", "cluster", "myelin run")
    with pytest.raises(MyelinError) as info:
        axon.compile()
    assert info.value.diagnostics == [d]


def test_metric_placeholder_in_env_is_an_error_at_the_axon_path() -> None:
    with Axon("e") as axon:
        ContainerTask("Prep", image="busybox", env=[EnvVar(name="T", value="{{rmse}}")])
    d = only(lint_axon(axon))
    assert d.path == "spec.tasks[0].container.env[0].value"
    assert has_words(d.message, "{{rmse}}", "{{workflow.parameters.rmse}}")


def test_a_condition_prometheus_cannot_express_is_an_error() -> None:
    with Axon("n") as axon:
        t = TrainTask("T", image="b")
        Sensor("S", triggers=[Rest()], conditions=[Metric("not {{m}} < 1")], tasks=[t])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].conditions[0].condition"
    assert has_words(d.message, "'not'", "PromQL")


def test_a_sensor_that_reruns_the_task_it_waits_for_warns_of_a_loop() -> None:
    with Axon("loop") as axon:
        t = TrainTask("T", image="b")
        Sensor("Again", triggers=[Lifecycle(t, "Succeeded")], tasks=[t])
    d = only(lint_axon(axon), "warning")
    assert d.path == "spec.sensors[0].triggers[0].task"
    assert has_words(d.message, "every run starts the next one")


def test_several_rest_triggers_share_one_endpoint() -> None:
    with Axon("r") as axon:
        t = TrainTask("T", image="b")
        Sensor("S", triggers=[Rest("a"), Rest("b")], tasks=[t])
    d = only(lint_axon(axon), "warning")
    assert d.path == "spec.sensors[0].triggers[1]"
    assert has_words(d.message, "same call")


def test_alert_for_must_be_a_prometheus_duration() -> None:
    with Axon("f") as axon:
        t = TrainTask("T", image="b")
        Sensor("S", triggers=[Alert("{{acc}} < 1", name="low", for_="1.5m")], tasks=[t])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].triggers[0].for"
    assert has_words(d.message, "'1.5m'", "Prometheus duration")


def test_an_empty_alert_for_is_not_a_duration() -> None:
    with Axon("f") as axon:
        t = TrainTask("T", image="b")
        Sensor("S", triggers=[Alert("{{acc}} < 1", name="low", for_="")], tasks=[t])
    assert only(lint_axon(axon)).path == "spec.sensors[0].triggers[0].for"


def test_two_deployers_with_one_name_collide() -> None:
    with Axon("d") as axon:
        train = TrainTask("Train", image="b")
        serve = DeployTask("Serve", image="s")
        model = Model("M", backend_models=[BackendModel("B", trainer=train, deployer=serve)])
        Sensor("One", triggers=[Lifecycle(train)], tasks=[Deployer(models=[model])])
        Sensor("Two", triggers=[Rest()], tasks=[Deployer(models=[model])])
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[1].tasks[0].deployer.name"
    assert has_words(d.message, "duplicate deployer name 'deployer'")


# --- one rule set: lint reports exactly what compile refuses -----------------------------------------------

LEGACY_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "legacy"


def _axon_files() -> list[Path]:
    shared = sorted(SHARED_AXONS.rglob("*.yaml")) if SHARED_AXONS.is_dir() else []
    return [p for p in shared if p.name != "recommender-demo.myelin-sa.yaml"] + sorted(
        LEGACY_FIXTURES.glob("*.yaml")
    )


@pytest.mark.parametrize("path", _axon_files(), ids=lambda p: p.name)
def test_lint_errors_are_exactly_the_compile_refusals(path: Path) -> None:
    from myelin_sdk.compiler import compile_axon

    axon = Axon.from_file(path)
    lint_errors = [d.format() for d in errors_only(lint_axon(axon))]
    try:
        compile_axon(axon)
        refused: list[str] = []
    except MyelinError as exc:
        refused = [d.format() for d in exc.diagnostics]
    assert lint_errors == refused


def test_what_only_the_compiler_used_to_see_is_a_lint_error_too() -> None:
    """A deployer with no shared volume linted clean, but compiling refused it (the Seldon mapping reads
    the model versions from the volume): now both report it, with the same message."""
    axon = load(
        """\
        apiVersion: myelinproj.io/v1alpha1
        kind: Axon
        metadata: {name: a}
        spec:
          tasks:
            - {name: Train, train: {image: t:1}}
            - {name: Serve, deploy: {image: d:1}}
          sensors:
            - name: Deploy
              tasks:
                - deployer:
                    models: [{name: M, trainer: Train, deployer: Serve}]
        """
    )
    d = only(lint_axon(axon))
    assert d.path == "spec.sensors[0].tasks[0].deployer"
    assert has_words(d.message, "shared volume")
    with pytest.raises(MyelinError) as info:
        axon.compile()
    assert info.value.diagnostics == [d]


@pytest.mark.parametrize("name", ["reference-sensor-env-parameters.yaml"])
def test_cli_lint_and_compile_print_the_same_errors_and_exit_status(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from myelin_sdk.cli import main

    path = str(LEGACY_FIXTURES / name)
    lint_status = main(["lint", path])
    lint_lines = capsys.readouterr().err.splitlines()[:-1]  # the last line is the count
    lint_lines = [line for line in lint_lines if ": warning: " not in line]  # compile prints no warnings
    compile_status = main(["compile", path])
    compile_lines = capsys.readouterr().err.splitlines()
    assert lint_status == compile_status == 2
    assert lint_lines == compile_lines
    assert all("not supported yet" in line for line in lint_lines)


def test_a_graph_seldon_cannot_serve_is_a_lint_error_with_the_field_path_as_in_compile() -> None:
    """The test Axon of every graph feature lints clean; naming a combiner in its feedback route is refused by
    lint and compile alike (Seldon sends no feedback to a COMBINER), at the entry's field path."""
    from pathlib import Path

    from myelin_sdk.compiler import compile_axon
    from myelin_sdk.errors import UnsupportedError

    path = Path(__file__).resolve().parent / "fixtures" / "graphs" / "every-graph-feature.yaml"
    text = path.read_text()
    assert lint_axon(load(text)) == []
    feedback_to_scaler = "- model: Scaler\n                    path: /send-feedback"
    broken = load(text.replace(feedback_to_scaler, "- model: Blender"))
    where = "spec.sensors[1].tasks[0].deployer.routes[3].dag[0].model"
    (diagnostic,) = lint_axon(broken)
    assert (diagnostic.path, diagnostic.severity) == (where, "error")
    assert "Seldon sends no feedback to a COMBINER node" in diagnostic.message
    with pytest.raises(UnsupportedError) as err:
        compile_axon(broken)
    assert [(d.path, d.message) for d in err.value.diagnostics] == [(where, diagnostic.message)]
