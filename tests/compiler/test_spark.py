"""``spark`` tasks -> a SparkApplication (Spark Operator v1beta2) created and awaited by a ``resource`` step.

No Spark Operator runs here: the SparkApplication is validated strictly against the operator's CRD schema
(``../shared/schemas/spark-operator``) and read field by field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from myelin_sdk import Axon, CompileOptions, MyelinError
from myelin_sdk.compiler import compile_axon, refusals
from myelin_sdk.compiler.rbac import service_account_name
from myelin_sdk.compiler.spark import DEFAULT_SPARK_VERSION, parse_properties
from myelin_sdk.lint import lint_axon

from support.axons import compiled_file, created_object, one_task_axon
from support.resources import created_objects, resource_template
from support.schemas import SchemaValidator, assert_valid

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT.parent / "shared" / "axons" / "examples"
PI = EXAMPLES / "pi-spark_axon.yaml"
GITHUB = EXAMPLES / "github-insights-spark_axon.yaml"
FLAT = PROJECT / "tests" / "fixtures" / "legacy" / "spark-flat-2019-07.yaml"


def spark_axon(spark_spec: dict[str, Any], **spec: Any) -> Axon:
    """A one-task axon with the generated service account (so it gets RBAC) and a claim-template volume."""
    return one_task_axon(
        "sp", {"name": "Pi", "spark": {"image": "spark:3.5.5", "sparkSpec": spark_spec}}, **spec
    )


def application(axon: Axon, options: CompileOptions | None = None) -> dict[str, Any]:
    return created_object(axon, "SparkApplication", options)


@pytest.mark.parametrize("path", [PI, GITHUB, FLAT], ids=lambda p: p.name)
def test_spark_axons_compile_to_valid_documents(path: Path, schema_validator: SchemaValidator) -> None:
    bundle, apps = compiled_file(path)
    assert [a["kind"] for a in apps] == ["SparkApplication"]
    assert_valid([*bundle.manifests, *apps], schema_validator)
    assert "not supported" not in bundle.to_yaml()


def test_the_pi_example_maps_class_jars_file_and_properties() -> None:
    app = application(Axon.from_file(PI))
    spec = app["spec"]
    assert app["apiVersion"] == "sparkoperator.k8s.io/v1beta2"
    assert app["metadata"]["generateName"] == "pi-spark-spark-task-"  # one object per run, never a clash
    assert spec["type"] == "Java" and spec["mode"] == "cluster"
    assert spec["image"] == "docker.io/myelinio/spark-client:v2.3.0"
    assert spec["mainClass"] == "spark.pi.SparkPi"
    assert spec["mainApplicationFile"].endswith("pi-example-1.0-SNAPSHOT-jar-with-dependencies.jar")
    assert spec["deps"] == {
        "jars": [
            "https://repo1.maven.org/maven2/com/databricks/spark-avro_2.11/4.0.0/spark-avro_2.11-4.0.0.jar"
        ]
    }
    assert spec["sparkConf"] == {
        "spark.kubernetes.container.image": "docker.io/myelinio/spark-client:v2.3.0-k8s-1.14-1",
        "spark.driver.cores": "0.1",
        "spark.executor.instances": "4",
        "spark.executor.cores": "1",
        "spark.executor.memory": "512m",
        "spark.driver.memory": "1024m",
    }
    assert spec["sparkVersion"] == DEFAULT_SPARK_VERSION
    assert spec["restartPolicy"] == {"type": "Never"}


def test_driver_and_executors_mount_the_shared_volume_and_get_the_runtime_environment() -> None:
    spec = application(Axon.from_file(PI))["spec"]
    assert spec["volumes"] == [{"name": "axon-store", "hostPath": {"path": "/var/lib/myelin"}}]
    for role in ("driver", "executor"):
        assert spec[role]["volumeMounts"] == [{"name": "axon-store", "mountPath": "/axon-store"}]
        env = {e["name"]: e.get("value") for e in spec[role]["env"]}
        assert env["AXON_NAME"] == "pi-spark" and env["TASK_NAME"] == "SparkTask"
        assert env["TASK_ID"] == "pi-spark-spark-task"
        assert env["DATA_PATH"] == "/axon-store/data/"
        assert "PUSHGATEWAY_URL" in env
    assert spec["driver"]["serviceAccount"] == "myelin-app-myelin"  # the axon's account


def test_the_run_step_awaits_the_application_state() -> None:
    bundle = compile_axon(Axon.from_file(PI))
    (template,) = [
        m for m in bundle.find("WorkflowTemplate") if m["metadata"]["name"] == "pi-spark-spark-task"
    ]
    run = resource_template(template)["resource"]
    assert run["action"] == "create"
    assert run["successCondition"] == "status.applicationState.state == COMPLETED"
    assert run["failureCondition"] == "status.applicationState.state in (FAILED,SUBMISSION_FAILED)"
    steps = [s[0]["name"] for t in template["spec"]["templates"] if t["name"] == "main" for s in t["steps"]]
    assert steps == ["run"]  # a prebuilt image: no build; spark tasks register no model version


def test_github_insights_builds_its_image_and_names_the_driver_account() -> None:
    bundle = compile_axon(Axon.from_file(GITHUB), CompileOptions(registry="reg.example/ml", tag="v1"))
    (app,) = created_objects(bundle)
    spec = app["spec"]
    assert spec["image"] == "reg.example/ml/github-insights-spark:v1"
    assert spec["arguments"] == [
        "myelin-development",
        "spark_on_k8s",
        "myelin-development-spark-on-k8s2",
        "--usesample",
    ]
    # the property is the operator's driver.serviceAccount (a tab separated it from its value)
    assert spec["driver"]["serviceAccount"] == "spark"
    assert "spark.kubernetes.authenticate.driver.serviceAccountName" not in spec["sparkConf"]
    assert spec["sparkConf"]["spark.kubernetes.driver.secrets.spark-sa"] == "/mnt/secrets"


def test_the_flat_2019_form_runs_its_first_jar() -> None:
    spec = application(Axon.from_file(FLAT))["spec"]
    assert spec["mainApplicationFile"].endswith("pi-example-1.0-SNAPSHOT-jar-with-dependencies.jar")
    assert "deps" not in spec
    assert spec["arguments"] == ["1000"]
    assert spec["sparkConf"] == {"spark.executor.instances": "2", "spark.executor.memory": "512m"}


def test_python_applications_and_spark_fields_pass_through(schema_validator: SchemaValidator) -> None:
    axon = spark_axon(
        {
            "applicationFile": "local:///app/job.py",
            "pyFiles": ["local:///app/lib.zip"],
            "sparkVersion": "3.5.1",
            "sparkConf": {"spark.sql.shuffle.partitions": 8},
            "executor": {"instances": 3, "cores": 1},
            "propertiesConfigMap": "spark-defaults",
        }
    )
    app = application(axon)
    assert_valid(app, schema_validator)
    spec = app["spec"]
    assert spec["type"] == "Python" and spec["sparkVersion"] == "3.5.1"
    assert spec["deps"] == {"pyFiles": ["local:///app/lib.zip"]}
    assert spec["sparkConf"] == {"spark.sql.shuffle.partitions": "8"}
    assert spec["sparkConfigMap"] == "spark-defaults"
    assert spec["executor"]["instances"] == 3 and spec["executor"]["volumeMounts"]


def test_the_validator_is_strict_for_spark_applications(schema_validator: SchemaValidator) -> None:
    app = application(Axon.from_file(PI))
    app["spec"]["driver"]["memroy"] = "1g"
    assert any("memroy" in e for e in schema_validator.validate(app))


def test_rbac_grows_by_the_application_and_the_drivers_rights() -> None:
    axon = spark_axon({"applicationFile": "local:///app/pi.jar", "class": "Pi"})
    (role,) = compile_axon(axon).find("Role")
    rules = {(r["apiGroups"][0], tuple(r["resources"])): r["verbs"] for r in role["rules"]}
    assert rules[("sparkoperator.k8s.io", ("sparkapplications",))] == ["create", "get", "list", "watch"]
    driver = rules[("", ("pods", "services", "configmaps", "persistentvolumeclaims"))]
    assert "create" in driver and "delete" in driver and "*" not in driver
    assert application(axon)["spec"]["driver"]["serviceAccount"] == service_account_name(axon)
    # a driver with its own account needs nothing from the axon's
    named = spark_axon(
        {
            "applicationFile": "local:///app/pi.jar",
            "properties": "spark.kubernetes.authenticate.driver.serviceAccountName spark",
        }
    )
    (role,) = compile_axon(named).find("Role")
    assert [r["resources"] for r in role["rules"] if r["apiGroups"] == [""]] == [["pods"], ["pods/log"]]


@pytest.mark.parametrize(
    ("spark_spec", "path", "words"),
    [
        ({"class": "Pi"}, "spec.tasks[0].spark.sparkSpec.applicationFile", "application to run"),
        (
            {"applicationFile": "a.jar", "propertiesConfigMapKey": "props"},
            "spec.tasks[0].spark.sparkSpec.propertiesConfigMapKey",
            "spark-defaults.conf",
        ),
        (
            {"applicationFile": "a.jar", "deployMode": "yarn"},
            "spec.tasks[0].spark.sparkSpec.deployMode",
            "cluster",
        ),
        ({"applicationFile": "a.jar", "type": "Go"}, "spec.tasks[0].spark.sparkSpec.type", "Java"),
        (
            {"applicationFile": "a.jar", "properties": "spark.a 1\nlonely"},
            "spec.tasks[0].spark.sparkSpec.properties",
            "line 2",
        ),
        ({"applicationFile": "a.jar", "jarz": ["b.jar"]}, "spec.tasks[0].spark.sparkSpec.jarz", "unknown"),
    ],
)
def test_what_the_operator_rejects_is_refused_by_lint_and_compile(
    spark_spec: dict[str, Any], path: str, words: str
) -> None:
    axon = spark_axon(spark_spec)
    (problem,) = refusals(axon)
    assert (problem.path, words in problem.message) == (path, True), problem
    assert [d for d in lint_axon(axon) if d.severity == "error"] == [problem]
    with pytest.raises(MyelinError) as info:
        compile_axon(axon)
    assert info.value.diagnostics == [problem]


def test_properties_are_key_value_lines() -> None:
    conf, problems = parse_properties("a.b 1\n\n# comment\nc.d\t two words \n", "p")
    assert conf == {"a.b": "1", "c.d": "two words"}
    assert problems == []
