"""The task compiler: every Axon -> one Argo ``WorkflowTemplate`` per task (+ the shared volume's claim).

No Argo controller can run here, so compiled documents are validated against the upstream schemas
(``support.schemas``, with ``additionalProperties: false`` injected) and checked for structure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from myelin_sdk import (
    S2I,
    Artifact,
    Axon,
    CompileOptions,
    ContainerTask,
    DeployTask,
    Dockerfile,
    EnvVar,
    Git,
    ImageBuild,
    Local,
    MyelinError,
    Parameter,
    Resources,
    SecretKeySelector,
    TrainTask,
    Volume,
    VolumeClaimTemplate,
)
from myelin_sdk.compiler import Bundle, compile_axon
from myelin_sdk.loader import load_path
from myelin_sdk.names import is_dns_label
from myelin_sdk.spec.expressions import placeholders

from support.manifests import strings
from support.schemas import SchemaValidator, assert_valid

PROJECT = Path(__file__).resolve().parents[2]


def task_templates(bundle: Bundle) -> list[dict[str, Any]]:
    """The WorkflowTemplates of tasks (sensors have their own, labelled with the sensor instead)."""
    return [m for m in bundle.find("WorkflowTemplate") if TASK_LABEL in m["metadata"]["labels"]]


SHARED_AXONS = PROJECT.parent / "shared" / "axons"
DEMO_DIR = PROJECT / "examples" / "recommender_demo"
DEMO_YAML = DEMO_DIR / "recommender-demo.yaml"
DEMO_PY = DEMO_DIR / "pipeline.py"

#: Not an Axon: the RBAC objects the original demo ran under.
RBAC_FILE = "recommender-demo.myelin-sa.yaml"

PART_OF = "app.kubernetes.io/part-of"
AXON_LABEL = "myelin.io/axon"
TASK_LABEL = "myelin.io/task"

#: The template types Argo accepts; a template must have exactly one (Argo's ``validateTemplateType``).
ARGO_TEMPLATE_TYPES = ("container", "containerSet", "steps", "script", "resource", "dag", "suspend")
ARGO_TEMPLATE_TYPES += ("data", "http", "plugin")


# --- the shared Axon files ---------------------------------------------------------------------------------


def _axon_files() -> list[Path]:
    files = sorted(SHARED_AXONS.glob("*.yaml")) + sorted(SHARED_AXONS.glob("examples/*.yaml"))
    return [f for f in files if f.name != RBAC_FILE]


def _operator_paths(path: Path) -> list[str]:
    """The field paths of spark / tfJobSpec / hpTuning in an Axon file, read from the raw YAML."""
    document = yaml.safe_load(path.read_text())
    found = []
    for i, task in enumerate(document["spec"].get("tasks", [])):
        if "spark" in task:
            found.append(f"spec.tasks[{i}].spark")
        for key in ("hpTuning", "tfJobSpec"):
            if key in (task.get("train") or {}):
                found.append(f"spec.tasks[{i}].train.{key}")
    return found


AXON_FILES = _axon_files()
#: Every shared Axon compiles; these run (some of) their tasks on operators (tests/compiler/test_spark.py,
#: test_tfjob.py, test_katib.py cover them in depth).
SUPPORTED = AXON_FILES
OPERATOR_AXONS = [f for f in AXON_FILES if _operator_paths(f)]


def _file_id(path: Path) -> str:
    return str(path.relative_to(SHARED_AXONS))


# --- helpers -----------------------------------------------------------------------------------------------


def compile_valid(axon: Axon, validator: SchemaValidator, options: CompileOptions | None = None) -> Bundle:
    """Compile ``axon`` and assert every document validates against the upstream schemas."""
    bundle = compile_axon(axon, options)
    assert_valid(list(bundle), validator)
    return bundle


def task_template(bundle: Bundle, task: str) -> dict[str, Any]:
    """The WorkflowTemplate compiled from the task named ``task`` (as written in the Axon)."""
    (found,) = [
        m
        for m in task_templates(bundle)
        if m["metadata"].get("annotations", {}).get("myelin.io/name") == task
    ]
    return found


def templates(workflow_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The templates of a WorkflowTemplate by name."""
    return {t["name"]: t for t in workflow_template["spec"]["templates"]}


def steps(workflow_template: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of the entrypoint, in order (each group here holds one step)."""
    spec = workflow_template["spec"]
    entry = templates(workflow_template)[spec["entrypoint"]]
    return [step for group in entry.get("steps") or [] for step in group]


def step_names(workflow_template: dict[str, Any]) -> list[str]:
    return [s["name"] for s in steps(workflow_template)]


def step_template(workflow_template: dict[str, Any], step: str) -> dict[str, Any]:
    """The template the step named ``step`` runs."""
    (found,) = [s for s in steps(workflow_template) if s["name"] == step]
    return templates(workflow_template)[found["template"]]


def git_source(**git: Any) -> Artifact:
    return Artifact(
        "src", path="/src", git=Git(repo="https://github.com/example/ml.git", revision="main", **git)
    )


def dockerfile_build(src: Artifact | str = "src", **extra: Any) -> ImageBuild:
    return ImageBuild(
        repository_name="train-repo",
        artifact=src,
        build_location="/src/app",
        dockerfile=Dockerfile("Dockerfile.train"),
        **extra,
    )


# --- the shared Axon files: load, compile, validate --------------------------------------------------------


def test_the_shared_axons_cover_both_cases() -> None:
    assert len(AXON_FILES) == 18
    assert {f.name for f in OPERATOR_AXONS} == {
        "dist-mnist_tf-dist-mnist-hpo.yaml",
        "dist-mnist_tf-dist-mnist.yaml",
        "github-insights-spark_axon.yaml",
        "mnist-with-summaries_axon.yaml",
        "pi-spark_axon.yaml",
        "tests_test-demo-hp_axon.yaml",
        "xgboost-hpo-mnist_axon.yaml",
    }


@pytest.mark.parametrize("path", AXON_FILES, ids=_file_id)
def test_every_axon_file_loads(path: Path) -> None:
    axon = Axon.from_file(path)
    assert axon.tasks


def test_the_rbac_file_is_not_an_axon() -> None:
    with pytest.raises(MyelinError, match="not an Axon"):
        Axon.from_file(SHARED_AXONS / RBAC_FILE)


@pytest.mark.parametrize("path", SUPPORTED, ids=_file_id)
def test_supported_axon_compiles_to_valid_documents(path: Path, schema_validator: SchemaValidator) -> None:
    """No Argo controller can run here, so this validates against the upstream schema."""
    axon = Axon.from_file(path)
    bundle = compile_valid(axon, schema_validator)
    trials = [t for t in axon.tasks if t.train is not None and t.train.hp_tuning is not None]
    assert len(task_templates(bundle)) == len(axon.tasks) + len(trials)  # + one trial template per hpTuning


@pytest.mark.parametrize("path", [*SUPPORTED, DEMO_YAML], ids=lambda p: p.name)
def test_every_template_has_exactly_one_argo_type(path: Path) -> None:
    """Argo rejects a template with no type ("template type unspecified") or with two."""
    for manifest in task_templates(compile_axon(Axon.from_file(path))):
        for template in manifest["spec"]["templates"]:
            kinds = [k for k in ARGO_TEMPLATE_TYPES if template.get(k)]
            assert len(kinds) == 1, f"{manifest['metadata']['name']}: template {template['name']}: {kinds}"


# --- the demo: Python and YAML front ends ------------------------------------------------------------------


def test_demo_python_and_yaml_compile_to_the_same_bytes() -> None:
    from_python = load_path(DEMO_PY)
    from_yaml = load_path(DEMO_YAML)
    assert from_python == from_yaml
    assert compile_axon(from_python).to_yaml() == compile_axon(from_yaml).to_yaml()


def test_key_order_of_free_form_fields_does_not_change_the_bytes() -> None:
    """Equal axons give equal bytes, whatever order their claim spec, volume or nodeSelector keys were in."""

    def declare(reverse: bool) -> Axon:
        def order(d: dict[str, Any]) -> dict[str, Any]:
            return dict(reversed(d.items())) if reverse else d

        with Axon("demo") as axon:
            VolumeClaimTemplate(
                metadata={"name": "store"},
                spec=order({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
            )
            TrainTask("Train", image="busybox", node_selector=order({"zone": "a", "accelerator": "t4"}))
        return axon

    assert declare(False) == declare(True)
    assert compile_axon(declare(False)).to_yaml() == compile_axon(declare(True)).to_yaml()


def test_demo_bundle_kinds_and_names(schema_validator: SchemaValidator) -> None:
    bundle = compile_valid(load_path(DEMO_YAML), schema_validator)
    assert [(m["kind"], m["metadata"]["name"]) for m in bundle] == [
        ("ServiceAccount", "ml-rec-myelin"),
        ("Role", "ml-rec-myelin"),
        ("RoleBinding", "ml-rec-myelin"),
        ("PersistentVolumeClaim", "ml-rec-axon-store"),
        ("WorkflowTemplate", "ml-rec-data-prep-myelin-recommender"),
        ("WorkflowTemplate", "ml-rec-train-myelin-recommender"),
        ("WorkflowTemplate", "ml-rec-deploy-myelin-recommender"),
        ("WorkflowTemplate", "ml-rec-sensor-train-on-start"),
        ("WorkflowTemplate", "ml-rec-sensor-deployment-decision-maker"),
        ("WorkflowTemplate", "ml-rec-sensor-post-deployment-decision-maker"),
        ("WorkflowTemplate", "ml-rec-recommenderdeployer-promote"),
        ("WorkflowTemplate", "ml-rec-recommenderdeployer-rollback"),
        ("EventSource", "ml-rec-events"),
        ("NetworkPolicy", "ml-rec-webhook"),
        ("Sensor", "ml-rec-deployment-decision-maker"),
        ("Sensor", "ml-rec-post-deployment-decision-maker"),
        ("PrometheusRule", "ml-rec-alerts"),
        ("AlertmanagerConfig", "ml-rec-alerts"),
        ("Workflow", "ml-rec-train-on-start-start"),
    ]


# --- image builds ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", [True, False], ids=["checkImageExists", "always-build"])
def test_dockerfile_build_steps(check: bool, schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        TrainTask("Train", image_build=dockerfile_build(git_source(), check_image_exists=check))
    wt = task_template(compile_valid(axon, schema_validator), "Train")
    if check:
        assert step_names(wt) == ["check-image", "build", "run"]
        (build,) = [s for s in steps(wt) if s["name"] == "build"]
        assert "{{steps.check-image.outputs.result}}" in build["when"]
        assert "missing" in build["when"]
    else:
        assert step_names(wt) == ["build", "run"]
        assert all("when" not in s for s in steps(wt))


def test_kaniko_args_come_from_the_build_and_compile_options(schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        TrainTask("Train", image_build=dockerfile_build(git_source()))
    options = CompileOptions(registry="registry.example.com/ml", tag="v7")
    wt = task_template(compile_valid(axon, schema_validator, options), "Train")
    build = step_template(wt, "build")["container"]
    assert build["image"] == options.kaniko_image
    assert "--context=dir:///src/app" in build["args"]
    assert "--dockerfile=/src/app/Dockerfile.train" in build["args"]
    assert "--destination=registry.example.com/ml/train-repo:v7" in build["args"]
    # ... and the run step runs the image the build pushed
    assert step_template(wt, "run")["container"]["image"] == "registry.example.com/ml/train-repo:v7"


def test_build_location_defaults_to_the_artifact_path(schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        src = git_source()
        TrainTask("Train", image_build=ImageBuild(repository_name="r", artifact=src, dockerfile=Dockerfile()))
    wt = task_template(compile_valid(axon, schema_validator), "Train")
    args = step_template(wt, "build")["container"]["args"]
    assert "--context=dir:///src" in args
    assert "--dockerfile=/src/Dockerfile" in args


def test_git_artifact_is_an_input_of_the_build_step(schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        src = git_source(ssh_private_key_secret=SecretKeySelector(name="github-creds", key="ssh-private-key"))
        TrainTask("Train", image_build=dockerfile_build(src))
    wt = task_template(compile_valid(axon, schema_validator), "Train")
    (artifact,) = step_template(wt, "build")["inputs"]["artifacts"]
    assert artifact == {
        "name": "src",
        "path": "/src",
        "git": {
            "repo": "https://github.com/example/ml.git",
            "revision": "main",
            "sshPrivateKeySecret": {"name": "github-creds", "key": "ssh-private-key"},
        },
    }
    assert "inputs" not in step_template(wt, "run")


def test_s2i_build_then_kaniko_through_the_shared_volume(schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        src = git_source()
        VolumeClaimTemplate("store", storage="1Gi")
        DeployTask(
            "Serve",
            image_build=ImageBuild(
                repository_name="serve",
                artifact=src,
                build_location="/src/",
                s2i=S2I(
                    context_dir="model", builder_image="docker.io/seldonio/seldon-core-s2i-python3:1.17.1"
                ),
            ),
        )
    wt = task_template(compile_valid(axon, schema_validator), "Serve")
    assert step_names(wt) == ["s2i", "build"]
    s2i = step_template(wt, "s2i")
    kaniko = step_template(wt, "build")["container"]
    store_mount = {"name": "axon-store", "mountPath": "/axon-store"}
    assert store_mount in s2i["container"]["volumeMounts"]
    assert store_mount in kaniko["volumeMounts"]
    # s2i reads the checked-out source and writes a Dockerfile that kaniko builds
    assert s2i["inputs"]["artifacts"][0]["git"]["repo"] == "https://github.com/example/ml.git"
    command = s2i["container"]["command"] + s2i["container"]["args"]
    assert command[:4] == ["s2i", "build", "/src/model", "docker.io/seldonio/seldon-core-s2i-python3:1.17.1"]
    assert "--as-dockerfile" in command
    dockerfile = command[command.index("--as-dockerfile") + 1]
    assert dockerfile.startswith("/axon-store/")
    assert f"--dockerfile={dockerfile}" in kaniko["args"]
    assert f"--context=dir://{dockerfile.removesuffix('/Dockerfile')}" in kaniko["args"]
    assert "--destination=localhost:5000/myelin/serve:latest" in kaniko["args"]


def test_deploy_task_has_no_run_step(schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        DeployTask("Serve", image_build=dockerfile_build(git_source()))
    wt = task_template(compile_valid(axon, schema_validator), "Serve")
    assert step_names(wt) == ["build"]
    assert "run" not in templates(wt)


@pytest.mark.parametrize("factory", [ContainerTask, TrainTask], ids=["container", "train"])
def test_prebuilt_image_task_has_only_the_run_step(factory: Any, schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        factory("Prep", image="python:3.11-slim", command=["python", "prep.py"], args=["--rows", "10"])
    wt = task_template(compile_valid(axon, schema_validator), "Prep")
    assert step_names(wt) == ["run"]
    run = step_template(wt, "run")["container"]
    assert run["image"] == "python:3.11-slim"
    assert run["command"] == ["python", "prep.py"]
    assert run["args"] == ["--rows", "10"]


def test_prebuilt_image_deploy_task_has_no_template() -> None:
    """Nothing to build and nothing to run (the deployer serves the image): no WorkflowTemplate at all,
    rather than one whose entrypoint has no steps, which Argo rejects ("template type unspecified")."""
    with Axon("demo") as axon:
        DeployTask("Serve", image="seldonio/mock_classifier:1.17.1")
        ContainerTask("Prep", image="busybox")
    bundle = compile_axon(axon)
    assert [m["metadata"]["name"] for m in task_templates(bundle)] == ["demo-prep"]


# --- the run step ------------------------------------------------------------------------------------------


def test_runtime_env_then_user_env(schema_validator: SchemaValidator) -> None:
    with Axon("ml-rec") as axon:
        TrainTask(
            "TrainMyelinRecommender",
            image="python:3.11-slim",
            loss_metric="recommender_train_rmse",
            env=[EnvVar(name="EPOCHS", value="3"), EnvVar(name="LOG_LEVEL", value="debug")],
        )
        ContainerTask("Prep", image="busybox")
    options = CompileOptions(pushgateway_url="http://pushgateway.test:9091")
    bundle = compile_valid(axon, schema_validator, options)
    namespace = {"valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
    assert step_template(task_template(bundle, "TrainMyelinRecommender"), "run")["container"]["env"] == [
        {"name": "AXON_NAME", "value": "ml-rec"},
        {"name": "TASK_NAME", "value": "TrainMyelinRecommender"},
        {"name": "TASK_ID", "value": "ml-rec-train-myelin-recommender"},
        {"name": "NAMESPACE", **namespace},
        # what the original myelin client reads at import, as `myelin run` sets it (contract.py)
        {"name": "MYELIN_NAMESPACE", **namespace},
        {"name": "PUSHGATEWAY_NAMESPACE", **namespace},
        {"name": "LOSS_METRIC", "value": "recommender_train_rmse"},
        {"name": "DATA_PATH", "value": "/axon-store/data/"},
        # no shared volume: nothing outlives the pod, so no version folder per run either
        {"name": "MODEL_PATH", "value": "/axon-store/models/train-myelin-recommender/"},
        {"name": "MYELIN_MODEL_ROOT", "value": "/axon-store/models/train-myelin-recommender/"},
        {"name": "PUSHGATEWAY_URL", "value": "http://pushgateway.test:9091"},
        {"name": "EPOCHS", "value": "3"},
        {"name": "LOG_LEVEL", "value": "debug"},
    ]
    prep = {e["name"] for e in step_template(task_template(bundle, "Prep"), "run")["container"]["env"]}
    assert {"MYELIN_NAMESPACE", "PUSHGATEWAY_NAMESPACE"} <= prep and "LOSS_METRIC" not in prep  # train only


def test_a_tasks_own_env_replaces_a_runtime_variable_of_the_same_name(
    schema_validator: SchemaValidator,
) -> None:
    """A Pushgateway in another namespace: the task's own PUSHGATEWAY_NAMESPACE wins, and each name is there
    once (Kubernetes warns about duplicates and keeps the last)."""
    with Axon("ml-rec") as axon:
        ContainerTask("Prep", image="busybox", env=[EnvVar(name="PUSHGATEWAY_NAMESPACE", value="monitoring")])
    env = step_template(task_template(compile_valid(axon, schema_validator), "Prep"), "run")["container"][
        "env"
    ]
    names = [e["name"] for e in env]
    assert len(names) == len(set(names))
    assert {"name": "PUSHGATEWAY_NAMESPACE", "value": "monitoring"} in env


#: The version folder of one workflow run: Argo's workflow creation time, to the second, and uid.
EXECUTION = (
    "{{workflow.creationTimestamp.Y}}{{workflow.creationTimestamp.m}}{{workflow.creationTimestamp.d}}T"
    "{{workflow.creationTimestamp.H}}{{workflow.creationTimestamp.M}}{{workflow.creationTimestamp.S}}Z-"
    "{{workflow.uid}}"
)


def test_each_workflow_run_of_a_train_task_gets_its_own_version_folder(
    schema_validator: SchemaValidator,
) -> None:
    """DESIGN §4: a train run's MODEL_PATH is its own folder, made by an init container before the task runs;
    a register step after ``run`` makes it a version; the Lifecycle notification names that folder."""
    bundle = compile_valid(load_path(DEMO_YAML), schema_validator)
    wt = task_template(bundle, "TrainMyelinRecommender")
    folder = f"/axon-store/models/train-myelin-recommender/{EXECUTION}/"
    run = templates(wt)["run"]
    env = {e["name"]: e.get("value") for e in run["container"]["env"]}
    assert env["MODEL_PATH"] == folder
    assert env["MYELIN_MODEL_ROOT"] == "/axon-store/models/train-myelin-recommender/"
    assert env["DATA_PATH"] == "/axon-store/data/"
    (init,) = run["initContainers"]
    assert init["mirrorVolumeMounts"] is True and f"mkdir -p '{folder}'" in init["args"][0]
    inner = templates(wt)["task"]  # the demo's train is watched: main wraps the task's steps
    assert [s["name"] for (s,) in inner["steps"]] == ["build", "run", "register"]
    register = templates(wt)["register"]["script"]
    assert register["volumeMounts"] == [  # and an emptyDir /tmp: its root is read-only (compiler.security)
        {"name": "axon-store", "mountPath": "/axon-store"},
        {"mountPath": "/tmp", "name": "myelin-tmp"},
    ]
    assert register["source"].endswith(
        f"sys.exit(main(['--folder', '{folder}', '--pushgateway', "
        "'http://prometheus-pushgateway.monitoring.svc:9091', '--job', 'ml-rec-train-myelin-recommender', "
        "'--axon', 'ml-rec', '--since', '{{workflow.creationTimestamp}}']))\n"
    )
    assert json.loads(templates(wt)["notify"]["http"]["body"])["modelPath"] == folder
    # a container task keeps the registry root as MODEL_PATH and registers nothing
    prep = task_template(bundle, "DataPrepMyelinRecommender")
    prep_env = {e["name"]: e.get("value") for e in templates(prep)["run"]["container"]["env"]}
    assert prep_env["MODEL_PATH"] == "/axon-store/models/data-prep-myelin-recommender/"
    assert "register" not in templates(prep) and "initContainers" not in templates(prep)["run"]


def test_parameters_become_arguments_and_pass_through(schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        Parameter("learning-rate", value="0.01")
        Parameter("epochs", value="3")
        TrainTask(
            "Train",
            image="python:3.11-slim",
            env=[EnvVar(name="LR", value="{{workflow.parameters.learning-rate}}")],
        )
    wt = task_template(compile_valid(axon, schema_validator), "Train")
    assert wt["spec"]["arguments"]["parameters"] == [
        {"name": "learning-rate", "value": "0.01"},
        {"name": "epochs", "value": "3"},
    ]
    env = step_template(wt, "run")["container"]["env"]
    assert {"name": "LR", "value": "{{workflow.parameters.learning-rate}}"} in env


def test_no_parameters_no_arguments(schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        ContainerTask("Prep", image="busybox")
    assert "arguments" not in task_template(compile_valid(axon, schema_validator), "Prep")["spec"]


def test_resources_are_quantity_strings_and_node_selector_passes(schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        TrainTask(
            "Train",
            image="tensorflow/tensorflow:2.16.1-gpu",
            resources=Resources(limits={"nvidia.com/gpu": 1, "cpu": 0.5}, requests={"memory": "4Gi"}),
            node_selector={"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"},
        )
    wt = task_template(compile_valid(axon, schema_validator), "Train")
    run = step_template(wt, "run")
    assert run["container"]["resources"] == {
        "limits": {"nvidia.com/gpu": "1", "cpu": "0.5"},
        "requests": {"memory": "4Gi"},
    }
    assert run["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert 'nvidia.com/gpu: "1"' in compile_axon(axon).to_yaml().replace("'", '"')


# --- the shared volume -------------------------------------------------------------------------------------


def test_volume_claim_template_gives_one_claim_mounted_everywhere(schema_validator: SchemaValidator) -> None:
    with Axon("ml-rec") as axon:
        VolumeClaimTemplate(
            "axon-store", storage="2Gi", access_modes=["ReadWriteMany"], storage_class_name="nfs"
        )
        ContainerTask("Prep", image="busybox")
        TrainTask("Train", image="busybox")
    bundle = compile_valid(axon, schema_validator)
    (claim,) = bundle.find("PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "ml-rec-axon-store"
    assert claim["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "storageClassName": "nfs",
        "resources": {"requests": {"storage": "2Gi"}},
    }
    for task in ("Prep", "Train"):
        wt = task_template(bundle, task)
        assert wt["spec"]["volumes"][0] == {
            "name": "axon-store",
            "persistentVolumeClaim": {"claimName": "ml-rec-axon-store"},
        }
        mounts = step_template(wt, "run")["container"]["volumeMounts"]
        assert mounts == [{"name": "axon-store", "mountPath": "/axon-store"}]
        if task == "Train":  # its register script's /tmp: an emptyDir (read-only root: compiler.security)
            assert wt["spec"]["volumes"][1:] == [{"emptyDir": {}, "name": "myelin-tmp"}]


@pytest.mark.parametrize(
    "source",
    [
        {"flexVolume": {"driver": "ceph.rook.io/rook", "fsType": "ceph", "options": {"fsName": "myfs"}}},
        {"hostPath": {"path": "/var/lib/myelin", "type": "DirectoryOrCreate"}},
    ],
    ids=["flexVolume", "hostPath"],
)
def test_raw_volume_is_used_as_is(source: dict[str, Any], schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        Volume("axon-store", **source)
        ContainerTask("Prep", image="busybox")
    bundle = compile_valid(axon, schema_validator)
    assert bundle.find("PersistentVolumeClaim") == []
    wt = task_template(bundle, "Prep")
    assert wt["spec"]["volumes"] == [{"name": "axon-store", **source}]
    assert step_template(wt, "run")["container"]["volumeMounts"] == [
        {"name": "axon-store", "mountPath": "/axon-store"}
    ]


# --- service account, registry secret, labels --------------------------------------------------------------


def test_service_account_name_is_set(schema_validator: SchemaValidator) -> None:
    with Axon("demo", service_account_name="myelin-minimal") as axon:
        ContainerTask("Prep", image="busybox")
    wt = task_template(compile_valid(axon, schema_validator), "Prep")
    assert wt["spec"]["serviceAccountName"] == "myelin-minimal"


def test_registry_secret_is_mounted_on_the_build_steps_only(schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        TrainTask("Train", image_build=dockerfile_build(git_source(), check_image_exists=True))
        ContainerTask("Prep", image="busybox")
    options = CompileOptions(registry_secret="registry-push")
    bundle = compile_valid(axon, schema_validator, options)
    wt = task_template(bundle, "Train")
    secret_volumes = [v for v in wt["spec"]["volumes"] if "secret" in v]
    assert secret_volumes == [
        {
            "name": "docker-config",
            "secret": {
                "secretName": "registry-push",
                "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
            },
        }
    ]
    docker_config = {"name": "docker-config", "mountPath": "/kaniko/.docker"}
    for step in ("check-image", "build"):
        assert docker_config in step_template(wt, step)["container"]["volumeMounts"], step
    assert docker_config not in step_template(wt, "run")["container"].get("volumeMounts", [])
    # a task without a build needs no credentials
    assert "volumes" not in task_template(bundle, "Prep")["spec"]


def test_no_registry_secret_no_docker_config(schema_validator: SchemaValidator) -> None:
    with Axon("demo") as axon:
        TrainTask("Train", image_build=dockerfile_build(git_source()))
    wt = task_template(compile_valid(axon, schema_validator), "Train")
    assert "docker-config" not in str(wt)


def test_namespace_option_is_written_into_every_object(schema_validator: SchemaValidator) -> None:
    bundle = compile_valid(load_path(DEMO_YAML), schema_validator, CompileOptions(namespace="ml"))
    assert {m["metadata"].get("namespace") for m in bundle} == {"ml"}
    assert all("namespace" not in m["metadata"] for m in compile_axon(load_path(DEMO_YAML)))


def test_every_object_carries_the_labels() -> None:
    bundle = compile_axon(load_path(DEMO_YAML))
    for manifest in bundle:
        labels = manifest["metadata"]["labels"]
        assert labels[PART_OF] == "myelin"
        assert labels[AXON_LABEL] == "ml-rec"
    tasks = {
        m["metadata"]["labels"][TASK_LABEL]: m["spec"]["podMetadata"]["labels"]
        for m in task_templates(bundle)
    }
    assert sorted(tasks) == [
        "data-prep-myelin-recommender",
        "deploy-myelin-recommender",
        "train-myelin-recommender",
    ]
    for task, pod_labels in tasks.items():
        assert pod_labels[TASK_LABEL] == task
        assert pod_labels[AXON_LABEL] == "ml-rec"
        assert pod_labels[PART_OF] == "myelin"


# --- names -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*SUPPORTED, DEMO_YAML], ids=lambda p: p.name)
def test_every_name_is_a_dns_label(path: Path) -> None:
    for manifest in compile_axon(Axon.from_file(path)):
        name = manifest["metadata"]["name"]
        assert is_dns_label(name), name
        assert len(name) <= 63


LONG_AXON = "recommender-system-with-a-rather-long-descriptive-name"  # 54 characters
LONG_TASK = "TrainTheCollaborativeFilteringModelOnTheFullMovieLensDataset"


def test_long_names_are_cut_to_63_with_a_hash_suffix(schema_validator: SchemaValidator) -> None:
    with Axon(LONG_AXON) as axon:
        TrainTask(LONG_TASK + "Daily", image="busybox")
        TrainTask(LONG_TASK + "Weekly", image="busybox")
    bundle = compile_valid(axon, schema_validator)
    daily = task_template(bundle, LONG_TASK + "Daily")["metadata"]["name"]
    weekly = task_template(bundle, LONG_TASK + "Weekly")["metadata"]["name"]
    for name in (daily, weekly):
        assert len(name) == 63
        assert is_dns_label(name)
        assert name.startswith("recommender-system-with-a-rather-long")
        prefix, _, suffix = name.rpartition("-")
        assert len(suffix) == 5 and all(c in "0123456789abcdef" for c in suffix), name
        assert prefix
    assert daily != weekly
    # the pods' task label and TASK_ID are DNS-safe too
    for task in (LONG_TASK + "Daily", LONG_TASK + "Weekly"):
        wt = task_template(bundle, task)
        assert is_dns_label(wt["metadata"]["labels"][TASK_LABEL])
        env = {e["name"]: e.get("value") for e in step_template(wt, "run")["container"]["env"]}
        assert env["TASK_ID"] == wt["metadata"]["name"]
        assert env["TASK_NAME"] == task


# --- determinism -------------------------------------------------------------------------------------------


def test_compiling_twice_gives_the_same_bytes() -> None:
    first = compile_axon(load_path(DEMO_YAML)).to_yaml()
    second = compile_axon(load_path(DEMO_YAML)).to_yaml()
    assert first == second


_COMPILE_SCRIPT = """\
import sys
from myelin_sdk.compiler import compile_axon
from myelin_sdk.loader import load_path
sys.stdout.write(compile_axon(load_path(sys.argv[1])).to_yaml())
"""


@pytest.mark.parametrize("path", [DEMO_YAML, DEMO_PY], ids=["yaml", "python"])
def test_a_fresh_interpreter_gives_the_same_bytes(path: Path) -> None:
    expected = compile_axon(load_path(path)).to_yaml()
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", _COMPILE_SCRIPT, str(path)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        assert result.stdout == expected, f"PYTHONHASHSEED={seed}"


# --- {{metric}} placeholders -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*SUPPORTED, DEMO_YAML], ids=lambda p: p.name)
def test_no_axon_placeholder_reaches_a_manifest(path: Path) -> None:
    for manifest in compile_axon(Axon.from_file(path)):
        leaked = [s for s in strings(manifest) if placeholders(s)]
        assert leaked == [], manifest["metadata"]["name"]


def test_argo_expressions_are_not_mistaken_for_axon_placeholders() -> None:
    """The compiler's own ``{{steps...}}`` / ``{{workflow...}}`` are Argo's and must stay."""
    text = compile_axon(load_path(DEMO_YAML)).to_yaml()
    assert "{{workflow.uid}}" in text


def test_axon_placeholder_in_task_env_is_refused() -> None:
    with Axon("demo") as axon:
        ContainerTask("Prep", image="busybox", env=[EnvVar(name="THRESHOLD", value="{{some_metric}}")])
    with pytest.raises(MyelinError) as info:
        compile_axon(axon)
    message = str(info.value)
    assert "{{some_metric}}" in message
    assert "spec.tasks[0].container.env[0].value" in message  # lint names the Axon field


# --- what a cluster cannot run -----------------------------------------------------------------------------


def test_local_artifact_in_an_image_build_is_refused() -> None:
    with Axon("demo") as axon:
        src = Artifact("local-src", local=Local(path="./src"))
        TrainTask("Train", image_build=ImageBuild(repository_name="r", artifact=src, dockerfile=Dockerfile()))
    with pytest.raises(MyelinError) as info:
        compile_axon(axon)
    message = str(info.value)
    assert "local-src" in message
    assert "local" in message


@pytest.mark.parametrize(
    ("factory", "kind"),
    [(ContainerTask, "container"), (TrainTask, "train"), (DeployTask, "deploy")],
    ids=["container", "train", "deploy"],
)
def test_task_without_image_or_build_is_refused(factory: Any, kind: str) -> None:
    with Axon("demo") as axon:
        ContainerTask("Prep", image="busybox")
        factory("Local", command=["python", "run.py"])
    with pytest.raises(MyelinError) as info:
        compile_axon(axon)
    message = str(info.value)
    assert f"spec.tasks[1].{kind}" in message
    assert "'Local'" in message
    assert "no image or imageBuild" in message


def test_s2i_build_without_a_shared_volume_is_refused() -> None:
    """The s2i step hands its Dockerfile to kaniko through the shared volume, so one is required."""
    with Axon("novol") as axon:
        src = Artifact("src", git=Git(repo="https://example.org/r.git"))
        DeployTask(
            "Serve", image_build=ImageBuild(repository_name="s", artifact=src, s2i=S2I(builder_image="b:1"))
        )
    with pytest.raises(MyelinError, match=r"spec\.tasks\[0\]\.deploy\.imageBuild\.s2i: an s2i build needs"):
        compile_axon(axon)


def test_empty_environment_variable_counts_as_unset() -> None:
    assert CompileOptions.from_env({"MYELIN_TAG": "", "MYELIN_REGISTRY": "r.example/x"}).image_for("a") == (
        "r.example/x/a:latest"
    )
