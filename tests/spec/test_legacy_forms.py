"""The forms the original Myelin accepted: every one loads, normalises into the one model, round-trips, and
lints/compiles (or fails with "not supported yet" and the field path). Fixtures: tests/fixtures/legacy/."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from myelin_sdk import CompileOptions
from myelin_sdk.compiler import compile_axon, refusals
from myelin_sdk.errors import MyelinError
from myelin_sdk.lint import errors_only, lint_axon
from myelin_sdk.spec import Axon

from support.schemas import SchemaValidator, assert_valid

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"
FIXTURES = sorted(LEGACY.glob("*.yaml"))
#: fixture -> the field paths that fail with "not supported yet" (every other fixture compiles)
#: (spark, tfJob and hpTuning compile to operators since issue 15: tests/compiler/test_spark.py and siblings)
UNSUPPORTED = {
    "reference-sensor-env-parameters.yaml": ["spec.sensors[0].parameters", "spec.sensors[0].tasks[0].env"],
}


def test_the_fixture_set_is_there() -> None:
    assert len(FIXTURES) >= 9
    for path in FIXTURES:
        first = path.read_text().splitlines()[0]
        assert first.startswith("#"), f"{path.name}: the first line names the original source"


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_loads_round_trips_and_lints_like_it_compiles(
    path: Path, schema_validator: SchemaValidator
) -> None:
    axon = Axon.from_file(path)
    again = Axon.from_yaml(axon.to_yaml())
    assert again == axon
    assert again.to_yaml() == axon.to_yaml()
    errors = errors_only(lint_axon(axon))
    expected = UNSUPPORTED.get(path.name, [])
    assert [d.path for d in errors] == expected, "\n".join(d.format() for d in errors)
    for d in errors:
        assert d.message.startswith("not supported yet:")
    if expected:
        with pytest.raises(MyelinError) as info:
            compile_axon(axon)
        assert info.value.diagnostics == errors
        return
    bundle = compile_axon(axon, CompileOptions(namespace="ml"))
    assert_valid(bundle.manifests, schema_validator)
    assert schema_validator.strict


def load(text: str) -> Axon:
    return Axon.from_yaml(textwrap.dedent(text))


HEAD = """\
apiVersion: myelinproj.io/v1alpha1
kind: Axon
metadata: {name: a}
spec:
  volume: {name: store, hostPath: {path: /var/lib/myelin}}
  tasks:
    - name: Train
      train: {image: t:1}
    - name: Serve
      deploy: {image: d:1}
"""


def with_sensor(sensor: str) -> Axon:
    return load(HEAD + "  sensors:\n" + textwrap.indent(textwrap.dedent(sensor), "    "))


def test_both_api_versions_load() -> None:
    for api in ("myelinproj.io/v1alpha1", "myelin.io/v1alpha1"):
        axon = load(HEAD.replace("myelinproj.io/v1alpha1", api))
        assert axon.api_version == api
        assert f"apiVersion: {api}" in axon.to_yaml()


def test_blog_metric_condition_keeps_name_and_task() -> None:
    axon = Axon.from_file(LEGACY / "blog-movie-recommender.yaml")
    condition = axon.sensors[1].conditions[0]
    assert (condition.name, condition.task) == ("mnistTrainAccuracy", "TrainMyelinRecommender")
    assert condition.condition == "{{mnist_train_accuracy}} > 0.95"
    # the deployer model without a name is named after its deploy task, stable across loads
    model = axon.sensors[1].tasks[0].deployer.models[0]  # type: ignore[union-attr]
    assert model.name == "DeployMyelinRecommender"
    assert [(b.trainer, b.deployer) for b in model.backend_models] == [
        ("TrainMyelinRecommender", "DeployMyelinRecommender")
    ]


def test_metric_condition_task_scopes_the_gate_query_to_that_tasks_job() -> None:
    bundle = compile_axon(Axon.from_file(LEGACY / "blog-movie-recommender.yaml"))
    template = next(
        m
        for m in bundle.manifests
        if m["kind"] == "WorkflowTemplate" and "deployment-decision" in m["metadata"]["name"]
    )
    gates = [t for t in template["spec"]["templates"] if t["name"].startswith("gate-")]
    assert [t["name"] for t in gates] == ["gate-mnist-train-accuracy"]
    source = gates[0]["script"]["source"]
    assert 'mnist_train_accuracy_ml__rec{job="ml-rec-train-myelin-recommender"} > 0.95' in source


def test_metric_condition_task_must_exist_with_did_you_mean() -> None:
    axon = with_sensor(
        """\
        - name: Gate
          conditions:
            - {name: acc, type: Metric, condition: "{{acc}} > 0.9", task: Trian}
          tasks: [{trainer: {task: Train}}]
        """
    )
    errors = errors_only(lint_axon(axon))
    assert [(d.path, d.message) for d in errors] == [
        ("spec.sensors[0].conditions[0].task", "no task named 'Trian' — did you mean 'Train'?")
    ]


def test_dag_entry_name_destination_and_unnamed_model() -> None:
    axon = with_sensor(
        """\
        - name: Deploy
          tasks:
            - deployer:
                rolloutSpec: [{destinations: [{destination: 0, weight: 100}]}]
                models: [{trainer: Train, deployer: Serve}]
                routes:
                  - {path: /predict, dag: [{name: Serve, path: /predict}]}
                  - {path: /send-feedback, dag: [{name: Serve, path: /send-feedback}]}
        """
    )
    deployer = axon.sensors[0].tasks[0].deployer
    assert deployer is not None
    assert deployer.rollout_spec[0].destinations[0].destination_index == 0
    assert deployer.models[0].name == "Serve"
    assert [(n.model, n.task) for r in deployer.routes for n in r.dag] == [("Serve", None), ("Serve", None)]
    assert errors_only(lint_axon(axon)) == []


def test_destinations_under_match_are_the_steps_destinations() -> None:
    axon = with_sensor(
        """\
        - name: Deploy
          tasks:
            - deployer:
                rolloutSpec: [{match: {destinations: [{destination: 0, weight: 100}]}}]
                models: [{name: M, trainer: Train, deployer: Serve}]
        """
    )
    step = axon.sensors[0].tasks[0].deployer.rollout_spec[0]  # type: ignore[union-attr]
    assert step.match is None
    assert [(d.destination_index, d.weight) for d in step.destinations] == [(0, 100)]


def test_tf_job_task_kind_is_a_train_task_with_a_tf_job_spec() -> None:
    axon = Axon.from_file(LEGACY / "tfjob-kind.yaml")
    task = axon.tasks[0]
    assert task.kind == "train"
    assert task.train is not None and task.train.tf_job_spec is not None
    assert task.train.tf_job_spec["cleanPodPolicy"] == "Running"
    assert task.train.tf_job_spec["tfReplicaSpecs"]["Worker"]["replicas"] == 4
    assert [m.name for m in task.train.metrics] == ["test_cross_entropy"]


def test_flat_spark_fields_move_into_spark_spec() -> None:
    axon = Axon.from_file(LEGACY / "spark-flat-2019-07.yaml")
    spark = axon.tasks[0].spark
    assert spark is not None and spark.spark_spec is not None
    assert spark.spark_spec["class"] == "spark.pi.SparkPi"
    assert spark.spark_spec["args"] == ["1000"]
    assert spark.args is None
    assert spark.image_build is not None
    assert refusals(axon) == []  # the first jar is the application (tests/compiler/test_spark.py)


def test_sensor_tasks_as_a_list_of_lists_run_in_order() -> None:
    nested = Axon.from_file(LEGACY / "reference-sensor-task-groups.yaml")
    assert [s.task for s in nested.sensors[0].tasks] == ["DataPrepTest", "RecommenderTrainRF"]
    assert [s.kind for s in nested.sensors[0].tasks] == ["resourceExecutor", "trainer"]


def test_sensor_step_env_and_sensor_parameters_load_and_are_refused_with_their_path() -> None:
    axon = Axon.from_file(LEGACY / "reference-sensor-env-parameters.yaml")
    sensor = axon.sensors[0]
    assert [(p.name, p.value) for p in sensor.parameters] == [("learningRate", None)]
    assert [(e.name, e.value) for e in sensor.tasks[0].env] == [("LEARNING_RATE", "0.01")]
    messages = {d.path: d.message for d in refusals(axon)}
    assert messages["spec.sensors[0].parameters"].startswith("not supported yet: sensor parameters")
    assert messages["spec.sensors[0].tasks[0].env"].startswith("not supported yet: env on a sensor step")


def test_a_scoped_condition_renders_the_job_selector_wherever_it_is_measured() -> None:
    from myelin_sdk.local.metrics_prometheus import PrometheusMetrics
    from myelin_sdk.spec.expressions import ExpressionError, MetricCondition, parse_metric_condition

    parsed = parse_metric_condition("{{acc}} > 0.9 and {{loss}} < 1")
    assert parsed.to_promql("ml-rec", ignore_labels=True) == "acc_ml__rec > 0.9 and on() loss_ml__rec < 1"
    scoped = MetricCondition(parsed.text, parsed.tree, job="ml-rec-train")
    expected = 'acc_ml__rec{job="ml-rec-train"} > 0.9 and on() loss_ml__rec{job="ml-rec-train"} < 1'
    assert scoped.to_promql("ml-rec", ignore_labels=True) == expected
    # the local runner's Prometheus backend (myelin run --prometheus) asks the same query as the cluster gate
    backend = PrometheusMetrics("ml-rec", "http://127.0.0.1:1", "http://127.0.0.1:2")
    assert backend.query_for(scoped) == expected
    with pytest.raises(ExpressionError, match="invalid job name"):
        parsed.to_promql("ml-rec", job='x"} or vector(1) #')
