"""The Axon model and its Python DSL: construction, validation, references by object, equality."""

from __future__ import annotations

import pytest

from myelin_sdk import (
    S2I,
    Alert,
    Artifact,
    Axon,
    BackendModel,
    Calendar,
    ContainerTask,
    Deployer,
    DeployTask,
    Destination,
    Dockerfile,
    Git,
    ImageBuild,
    Lifecycle,
    Metric,
    Model,
    Parameter,
    RolloutStep,
    Sensor,
    Task,
    TrainTask,
    Volume,
    VolumeClaimTemplate,
)
from myelin_sdk.errors import MyelinError
from myelin_sdk.spec import TrainSpec


def small_axon() -> Axon:
    with Axon("demo") as axon:
        src = Artifact("src", git=Git(repo="https://example.org/repo.git", revision="main"))
        VolumeClaimTemplate("store", storage="1Gi")
        Parameter("epochs", value="3")
        prep = ContainerTask("Prep", image="python:3.11-slim", command=["python", "prep.py"])
        train = TrainTask(
            "Train",
            image_build=ImageBuild(
                repository_name="train", artifact=src, dockerfile=Dockerfile("Dockerfile")
            ),
            loss_metric="rmse",
        )
        deploy = DeployTask(
            "Serve",
            image_build=ImageBuild(repository_name="serve", artifact=src, s2i=S2I(builder_image="b:1")),
        )
        Sensor("OnStart", tasks=[prep, train])
        Sensor(
            "Deploy",
            triggers=[Lifecycle(train, "Succeeded")],
            conditions=[Metric("{{rmse}} < 0.95")],
            tasks=[
                Deployer(
                    "d",
                    models=[Model("M", backend_models=[BackendModel("B", trainer=train, deployer=deploy)])],
                )
            ],
        )
    return axon


def test_with_block_collects_declared_objects() -> None:
    axon = small_axon()
    assert [a.name for a in axon.artifacts] == ["src"]
    assert [t.name for t in axon.tasks] == ["Prep", "Train", "Serve"]
    assert [s.name for s in axon.sensors] == ["OnStart", "Deploy"]
    assert [p.name for p in axon.parameters] == ["epochs"]
    assert axon.volume_claim_template is not None
    assert axon.volume_claim_template.spec["resources"] == {"requests": {"storage": "1Gi"}}


def test_objects_outside_a_with_block_join_nothing() -> None:
    with Axon("a") as axon:
        pass
    ContainerTask("Late", image="busybox")
    assert axon.tasks == []


def test_references_take_objects_and_store_names() -> None:
    axon = small_axon()
    steps = axon.sensors[0].tasks
    assert [(s.kind, s.task) for s in steps] == [("resourceExecutor", "Prep"), ("trainer", "Train")]
    trigger = axon.sensors[1].triggers[0]
    assert isinstance(trigger, Lifecycle)
    assert trigger.task == "Train"
    assert trigger.name == "Train-Succeeded"
    deployer = axon.sensors[1].tasks[0].deployer
    assert deployer is not None
    backend = deployer.models[0].backend_models[0]
    assert (backend.trainer, backend.deployer) == ("Train", "Serve")
    assert axon.tasks[1].body.image_build is not None
    assert axon.tasks[1].body.image_build.artifact == "src"


def test_flat_dsl_task_equals_nested_task() -> None:
    flat = TrainTask("T", image="x", loss_metric="acc", loss_metric_selector="greater")
    nested = Task(name="T", train=TrainSpec(image="x", loss_metric="acc", loss_metric_selector="greater"))
    assert flat == nested
    assert flat.kind == "train"
    assert flat != ContainerTask("T", image="x")


def test_deployer_defaults_routes_and_routing_for_a_single_model() -> None:
    d = Deployer("d", models=[Model("M", backend_models=[BackendModel("B", trainer="T", deployer="S")])])
    assert [r.path for r in d.routes] == ["/predict", "/send-feedback"]
    assert d.models[0].routing_strategy[0].destinations[0].destination_name == "B"
    assert d.models[0].routing_strategy[0].destinations[0].weight == 100


def test_rollout_destinations_positional() -> None:
    step = RolloutStep(destinations=[Destination(0, 80), Destination(1, 20)])
    assert [(d.destination_index, d.weight) for d in step.destinations] == [(0, 80), (1, 20)]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Task(name="T"), "exactly one of container, train, deploy or spark (found: none)"),
        (
            lambda: ContainerTask(
                "T", image="a", image_build=ImageBuild(repository_name="r", dockerfile=Dockerfile())
            ),
            "either image or imageBuild",
        ),
        (lambda: ImageBuild(repository_name="r"), "exactly one of dockerfile or s2i"),
        (lambda: Artifact("a"), "an artifact needs exactly one of git, s3 or local (found: none)"),
        (lambda: Volume("v"), "a volume needs a source"),
        (lambda: Calendar(name="c"), "exactly one of schedule or interval"),
        (lambda: Calendar(name="c", schedule="every day"), "not a 5-field cron expression"),
        (lambda: Metric("{{m}} <> 1"), "column"),
        (lambda: Alert("{{m}} <"), "PromQL"),
        (lambda: Lifecycle("T", "Finished"), "'Succeeded' or 'Failed'"),
        (lambda: Destination(0, 150), "less than or equal to 100"),
        (lambda: Model("M"), "at least one backend model"),
    ],
)
def test_invalid_objects_fail_on_construction(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MyelinError) as info:
        build()
    assert message in str(info.value)
    assert "pydantic" not in str(info.value)


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(
        MyelinError, match=r"^TrainTask\.loss_metrik: unknown field — did you mean 'loss_metric'\?$"
    ):
        TrainTask("T", image="x", loss_metrik="rmse")


def test_legacy_model_form_is_normalised() -> None:
    m = Model.model_validate({"name": "M", "trainer": "Train", "deployer": "Serve"})
    assert m.trainer is None and m.deployer is None
    assert [(b.name, b.trainer, b.deployer) for b in m.backend_models] == [("M", "Train", "Serve")]


def test_legacy_dag_task_becomes_model() -> None:
    d = Deployer.model_validate(
        {
            "models": [{"name": "M", "trainer": "Train", "deployer": "Serve"}],
            "routes": [{"path": "/predict", "dag": [{"task": "Serve", "path": "/predict"}]}],
        }
    )
    node = d.routes[0].dag[0]
    assert (node.model, node.task) == ("M", None)


def test_legacy_s2i_builder_key() -> None:
    assert S2I.model_validate({"buiderImage": "b:1"}).builder_image == "b:1"


def test_python_and_yaml_names_both_work() -> None:
    a = ImageBuild(repository_name="r", dockerfile=Dockerfile())
    b = ImageBuild.model_validate({"repositoryName": "r", "dockerfile": {}})
    assert a == b
    assert a.to_dict() == {
        "repositoryName": "r",
        "checkImageExists": False,
        "dockerfile": {"path": "Dockerfile"},
    }


def test_axon_lookups() -> None:
    axon = small_axon()
    assert axon.task("Train").kind == "train"
    assert axon.artifact("src").kind == "git"
    with pytest.raises(KeyError):
        axon.task("Nope")


def test_legacy_and_current_model_forms_do_not_mix() -> None:
    with pytest.raises(MyelinError, match="not both"):
        Model("M", trainer="T", deployer="S", backend_models=[BackendModel("B", trainer="T", deployer="S")])
