"""A ``spark`` task under ``myelin run``: ``spark-submit --master local[*]`` of its application.

Needs ``spark-submit`` (PySpark: ``pip install 'myelin-sdk[spark]'``) and a Java runtime;
:func:`spark_problems` says what to install before the run starts anything. The command comes from the
task's ``sparkSpec``::

    spark_command(task, context, "spec.tasks[0].spark")
    # ['spark-submit', '--master', 'local[*]', '--name', 'SparkTask', '--class', 'spark.pi.SparkPi',
    #  '--jars', 'https://.../spark-avro.jar', '--conf', 'spark.executor.memory=512m', ..., 'pi.jar', ...args]

``properties`` (``key value`` lines, or a mapping) and ``sparkConf`` become ``--conf``, except the cluster's
own (``spark.kubernetes.*``, ``spark.master``, ``spark.submit.deployMode``, executor instances and driver
or executor cores); ``class``/``mainClass``, ``jars``, ``files``, ``pyFiles`` and ``packages`` their flags;
``applicationFile``/``mainApplicationFile`` is the application (``local://`` and paths of the build context
become local paths); ``args`` follow it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import Diagnostic, MyelinError
from ..spec import Task

__all__ = ["spark_command", "spark_problems", "spark_submit"]

#: Spark properties that describe the cluster, not the application: not passed to a local[*] run.
_CLUSTER_ONLY = ("spark.kubernetes.", "spark.master", "spark.submit.deployMode", "spark.executor.instances")
_CORES = ("spark.driver.cores", "spark.executor.cores")


def spark_submit() -> str | None:
    """The ``spark-submit`` to run: on ``PATH`` or beside the runner's Python (a virtualenv's PySpark)."""
    beside = Path(sys.executable).parent / "spark-submit"
    return shutil.which("spark-submit") or (str(beside) if beside.is_file() else None)


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def spark_problems(task: Task, where: str) -> list[Diagnostic]:
    """One diagnostic saying what to install when ``spark-submit`` or Java is missing; else none."""
    missing = [
        what
        for what, found in (
            ("spark-submit (pip install 'myelin-sdk[spark]')", spark_submit()),
            (
                "a Java runtime (java on PATH or JAVA_HOME; e.g. apt-get install default-jre-headless)",
                _java(),
            ),
        )
        if not found
    ]
    if not missing:
        return []
    return [
        Diagnostic(
            where,
            f"spark task {task.name!r} runs locally with `spark-submit --master local[*]`, which needs "
            + " and ".join(missing)
            + " — install "
            + ("them" if len(missing) > 1 else "it")
            + ", or run it on a cluster (myelin submit)",
        )
    ]


def _raw(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, exclude_none=True)
    return value


def _properties(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    for line in str(value or "").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, val = line.replace("=", " ", 1).partition(" ")
            out[key] = val.strip()
    return out


def _listed(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return [str(v) for v in value or []]


def _local(path: str, context: Path | None) -> str:
    if path.startswith("local://"):
        path = path[len("local://") :]
    if "://" in path:
        return path  # http(s), gs, s3a...: spark-submit fetches what it can
    if context is not None:
        inside = context / path.lstrip("/")
        if inside.exists():
            return str(inside)
        by_name = context / Path(path).name
        if by_name.exists():
            return str(by_name)
    return path


def spark_command(task: Task, context: Path | None, where: str) -> list[str]:
    """The ``spark-submit`` command of a spark task (see the module docstring). Raises MyelinError."""
    assert task.spark is not None
    spec = _raw(task.spark.spark_spec) or {}
    app = spec.get("applicationFile") or spec.get("mainApplicationFile")
    if not app:
        raise MyelinError(
            [Diagnostic(f"{where}.sparkSpec.applicationFile", "expected the application (a jar or .py file)")]
        )
    command = [spark_submit() or "spark-submit", "--master", "local[*]", "--name", task.name]
    main = spec.get("class") or spec.get("mainClass")
    if main:
        command += ["--class", str(main)]
    for key, flag in (
        ("jars", "--jars"),
        ("files", "--files"),
        ("pyFiles", "--py-files"),
        ("packages", "--packages"),
    ):
        items = [_local(i, context) for i in _listed(spec.get(key))]
        if items:
            command += [flag, ",".join(items)]
    conf = {**_properties(spec.get("properties")), **_properties(spec.get("sparkConf"))}
    for key, value in conf.items():
        if not key.startswith(_CLUSTER_ONLY) and key not in _CORES:
            command += ["--conf", f"{key}={value}"]
    command.append(_local(str(app), context))
    command += [str(a) for a in spec.get("args") or task.spark.args or []]
    return command
