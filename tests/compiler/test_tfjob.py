"""Train tasks with ``tfJobSpec`` -> a TFJob (Kubeflow Training Operator v1) created and awaited by ``run``.

No Training Operator runs here: the TFJob is validated strictly against the operator's CRD schema
(``../shared/schemas/kubeflow-training``) and read replica by replica.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from myelin_sdk import Axon, CompileOptions, MyelinError
from myelin_sdk.compiler import compile_axon, refusals
from myelin_sdk.lint import lint_axon

from support.axons import compiled_file, created_object, one_task_axon
from support.resources import resource_template
from support.schemas import SchemaValidator, assert_valid

PROJECT = Path(__file__).resolve().parents[2]
DIST_MNIST = PROJECT.parent / "shared" / "axons" / "examples" / "dist-mnist_tf-dist-mnist.yaml"
TFJOB_KIND = PROJECT / "tests" / "fixtures" / "legacy" / "tfjob-kind.yaml"
VERSION = "/axon-store/models/tf-job-train/{{workflow.creationTimestamp.Y}}"


def tf_axon(tf_job_spec: dict[str, Any], **train: Any) -> Axon:
    return one_task_axon(
        "tf", {"name": "TfJobTrain", "train": {"image": "tf:2", "tfJobSpec": tf_job_spec, **train}}
    )


def tfjob(axon: Axon, options: CompileOptions | None = None) -> dict[str, Any]:
    return created_object(axon, "TFJob", options)


@pytest.mark.parametrize("path", [DIST_MNIST, TFJOB_KIND], ids=lambda p: p.name)
def test_tfjob_axons_compile_to_valid_documents(path: Path, schema_validator: SchemaValidator) -> None:
    bundle, jobs = compiled_file(path)
    assert [j["kind"] for j in jobs] == ["TFJob"]
    assert_valid([*bundle.manifests, *jobs], schema_validator)
    assert "not supported" not in bundle.to_yaml()


def test_every_replica_runs_the_built_image_with_the_runtime_environment_and_the_store() -> None:
    job = tfjob(Axon.from_file(DIST_MNIST), CompileOptions(registry="reg.example/ml", tag="v2"))
    replicas = job["spec"]["tfReplicaSpecs"]
    assert {k: r["replicas"] for k, r in replicas.items()} == {"PS": 2, "Worker": 4}
    for kind, replica in replicas.items():
        pod = replica["template"]["spec"]
        (container,) = pod["containers"]
        assert container["name"] == "tensorflow", kind
        assert container["image"] == "reg.example/ml/tf-dist-mnist-train:v2"
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["MODEL_PATH"].startswith(VERSION) and env["MODEL_PATH"].endswith("-{{workflow.uid}}/")
        assert env["TASK_ID"] == "mnist-tfjob-tf-job-train" and env["DATA_PATH"] == "/axon-store/data/"
        assert container["volumeMounts"] == [{"name": "axon-store", "mountPath": "/axon-store"}]
        assert pod["volumes"] == [
            {"name": "axon-store", "persistentVolumeClaim": {"claimName": "mnist-tfjob-axon-store"}}
        ]
        (init,) = pod["initContainers"]  # creates the run's version folder, as the run step's init does
        assert (
            init["name"] == "model-path" and "mkdir -p '/axon-store/models/tf-job-train/" in init["args"][0]
        )
        assert pod["serviceAccountName"] == "myelin-app-myelin"
        assert replica["restartPolicy"] == "Never"
    assert job["spec"]["runPolicy"] == {"cleanPodPolicy": "Running"}  # v1 keeps it under runPolicy


def test_the_run_step_waits_for_the_workers_then_registers_the_version() -> None:
    bundle = compile_axon(Axon.from_file(DIST_MNIST))
    (template,) = [
        m for m in bundle.find("WorkflowTemplate") if m["metadata"]["name"] == "mnist-tfjob-tf-job-train"
    ]
    run = resource_template(template)["resource"]
    assert run["successCondition"] == "status.replicaStatuses.Worker.succeeded > 0"
    assert run["failureCondition"] == "status.replicaStatuses.Worker.failed > 0"
    (steps,) = [t["steps"] for t in template["spec"]["templates"] if t["name"] == "task"]
    assert [s[0]["name"] for s in steps] == ["build", "run", "register"]


def test_a_chief_decides_and_the_task_fields_fill_the_container(schema_validator: SchemaValidator) -> None:
    axon = tf_axon(
        {
            "tfReplicaSpecs": {
                "Chief": {
                    "replicas": 1,
                    "template": {"spec": {"containers": [{"name": "tensorflow", "args": ["--chief"]}]}},
                },
                "Worker": {"replicas": 2, "restartPolicy": "OnFailure"},
                "PS": {"replicas": 1},
            },
            "ttlSecondsAfterFinished": 600,
        },
        command=["python", "dist.py"],
        env=[{"name": "EPOCHS", "value": "3"}],
        resources={"limits": {"nvidia.com/gpu": 1}},
        nodeSelector={"gpu": "true"},
    )
    bundle = compile_axon(axon)
    job = tfjob(axon)
    assert_valid(job, schema_validator)
    chief = job["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]
    (container,) = chief["containers"]
    assert container["command"] == ["python", "dist.py"] and container["args"] == ["--chief"]
    assert {"name": "EPOCHS", "value": "3"} in container["env"]
    assert container["resources"] == {"limits": {"nvidia.com/gpu": "1"}}
    assert chief["nodeSelector"] == {"gpu": "true"}
    assert job["spec"]["tfReplicaSpecs"]["Worker"]["restartPolicy"] == "OnFailure"
    assert job["spec"]["runPolicy"] == {"ttlSecondsAfterFinished": 600}
    run = resource_template(bundle.find("WorkflowTemplate")[0])["resource"]
    assert run["successCondition"] == "status.replicaStatuses.Chief.succeeded > 0"


def test_the_validator_is_strict_for_tfjobs(schema_validator: SchemaValidator) -> None:
    job = tfjob(Axon.from_file(DIST_MNIST))
    job["spec"]["tfReplicaSpecs"]["PS"]["replica"] = 3
    assert any("replica" in e for e in schema_validator.validate(job))


def test_rbac_grows_by_tfjobs() -> None:
    (role,) = compile_axon(tf_axon({"tfReplicaSpecs": {"Worker": {"replicas": 2}}})).find("Role")
    assert {
        "apiGroups": ["kubeflow.org"],
        "resources": ["tfjobs"],
        "verbs": ["create", "get", "list", "watch"],
    } in role["rules"]
    assert not [r for r in role["rules"] if "experiments" in r["resources"]]


@pytest.mark.parametrize(
    ("spec", "path", "words"),
    [
        ({"tfReplicaSpecs": {"Wroker": {"replicas": 2}}}, "tfReplicaSpecs.Wroker", "did you mean 'Worker'"),
        ({"tfReplicaSpecs": {"Chief": {"replicas": 2}}}, "tfReplicaSpecs.Chief.replicas", "at most one"),
        ({"tfReplicaSpecs": {"Worker": {"replicas": -1}}}, "tfReplicaSpecs.Worker.replicas", ">= 0"),
        (
            {"tfReplicaSpecs": {"Worker": {"restartPolicy": "Sometimes"}}},
            "tfReplicaSpecs.Worker.restartPolicy",
            "Never",
        ),
        ({"tfReplicaSpecs": {"Chief": {}, "Master": {}}}, "tfReplicaSpecs", "not both"),
        (
            {"tfReplicaSpecs": {"Worker": {"template": {"spec": {"containers": [{"name": "tf"}]}}}}},
            "tfReplicaSpecs.Worker.template.spec.containers",
            "'tensorflow'",
        ),
        ({"tfReplicaSpecs": None}, "tfReplicaSpecs", "at least one replica type"),
        ({"tfReplicaSpecs": {"Worker": {}}, "cleanPodPolicies": "All"}, "cleanPodPolicies", "unknown"),
    ],
)
def test_what_the_operator_rejects_is_refused_by_lint_and_compile(
    spec: dict[str, Any], path: str, words: str
) -> None:
    axon = tf_axon(spec)
    (problem,) = refusals(axon)
    assert (problem.path, words in problem.message) == (f"spec.tasks[0].train.tfJobSpec.{path}", True), (
        problem
    )
    assert [d for d in lint_axon(axon) if d.severity == "error"] == [problem]
    with pytest.raises(MyelinError) as info:
        compile_axon(axon)
    assert info.value.diagnostics == [problem]
