"""A spark task under ``myelin run`` (:mod:`myelin_sdk.local.spark`): ``spark-submit --master local[*]`` of
its sparkSpec when PySpark and Java are there, else one error before anything starts, saying what to
install."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from myelin_sdk.errors import MyelinError
from myelin_sdk.local import RunOptions, run_local, spark
from myelin_sdk.local.checks import check_axon
from myelin_sdk.spec import Axon

PI = """
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata: {name: pi-spark}
spec:
  tasks:
    - name: SparkTask
      spark:
        image: docker.io/myelinio/spark-client:v2.3.0
        sparkSpec:
          properties: |
            spark.kubernetes.container.image docker.io/myelinio/spark-client:v2.3.0-k8s-1.14-1
            spark.driver.cores 0.1
            spark.executor.instances 4
            spark.executor.memory 512m
          class: spark.pi.SparkPi
          jars:
            - https://repo1.maven.org/maven2/com/databricks/spark-avro_2.11/4.0.0/spark-avro_2.11-4.0.0.jar
          applicationFile: local:///opt/app/pi.jar
          args: ["100"]
  sensors:
    - name: Start
      tasks:
        - resourceExecutor: {task: SparkTask}
"""


def _on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *names: str) -> None:
    """Only ``names`` are found: a PATH of a folder with those programs, no JAVA_HOME, no runner's bin."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in names:
        program = bin_dir / name
        program.write_text("#!/bin/sh\nexit 0\n")
        program.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark.sys, "executable", str(tmp_path / "venv" / "bin" / "python"))


def test_without_pyspark_and_java_the_run_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on_path(monkeypatch, tmp_path)
    with pytest.raises(MyelinError) as err:
        check_axon(Axon.from_yaml(PI), {})
    [problem] = err.value.diagnostics  # one error, at the step, not "not supported yet"
    assert problem.path == "spec.sensors[0].tasks[0]"
    assert "spark-submit --master local[*]" in problem.message
    assert "pip install 'myelin-sdk[spark]'" in problem.message and "Java runtime" in problem.message
    assert "not supported yet" not in str(err.value)


def test_with_java_only_the_error_names_pyspark_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on_path(monkeypatch, tmp_path, "java")
    with pytest.raises(MyelinError) as err:
        check_axon(Axon.from_yaml(PI), {})
    assert "pip install 'myelin-sdk[spark]'" in str(err.value) and "Java" not in str(err.value)


def test_with_both_the_task_runs_spark_submit_locally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on_path(monkeypatch, tmp_path, "java", "spark-submit")
    axon = Axon.from_yaml(PI)
    check_axon(axon, {})  # no error
    app = tmp_path / "code" / "opt" / "app"
    app.mkdir(parents=True)
    (app / "pi.jar").write_bytes(b"")
    command = spark.spark_command(axon.tasks[0], tmp_path / "code", "spec.tasks[0].spark")
    assert command == [
        str(tmp_path / "bin" / "spark-submit"),
        "--master",
        "local[*]",
        "--name",
        "SparkTask",
        "--class",
        "spark.pi.SparkPi",
        "--jars",
        "https://repo1.maven.org/maven2/com/databricks/spark-avro_2.11/4.0.0/spark-avro_2.11-4.0.0.jar",
        "--conf",
        "spark.executor.memory=512m",  # the cluster's own properties are left out
        str(app / "pi.jar"),
        "100",
    ]


SPARK = Path(__file__).parent / "fixtures" / "spark"


_NO_SPARK = spark.spark_submit() is None or shutil.which("java") is None


@pytest.mark.slow
@pytest.mark.skipif(
    _NO_SPARK and os.environ.get("MYELIN_REQUIRE_SPARK") != "1",
    reason="needs PySpark's spark-submit and Java (pip install 'myelin-sdk[spark]'; a JRE)",
)
def test_a_pyspark_application_runs_with_spark_submit(tmp_path: Path) -> None:
    """A real ``spark-submit --master local[*]`` run. CI installs the ``spark`` extra and sets
    ``MYELIN_REQUIRE_SPARK=1``, so there a missing PySpark or Java fails instead of skipping."""
    assert not _NO_SPARK, "MYELIN_REQUIRE_SPARK=1 but spark-submit or java is missing"
    axon = Axon.from_yaml((SPARK / "axon.yaml").read_text())
    run = run_local(axon, RunOptions(workdir=tmp_path, artifacts={"code": SPARK}))
    try:
        assert run.wait("idle", timeout=240), "\n".join(run.lines[-20:])
        [task] = [t for t in run.status()["tasks"] if t["task"] == "CountEvens"]
        assert task["status"] == "succeeded", "\n".join(run.lines[-20:])
    finally:
        run.stop()
    [result] = (tmp_path / ".myelin" / "runs").glob("*/store/data/spark.json")
    assert json.loads(result.read_text()) == {"count": 50, "master": "local[*]", "memory": "512m"}
