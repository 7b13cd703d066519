"""A ``spark`` task -> a ``SparkApplication`` (Spark Operator, ``sparkoperator.k8s.io/v1beta2``), created and
awaited by the ``run`` step of the task's WorkflowTemplate (an Argo ``resource`` step).

>>> template = spark_template(axon, axon.task("SparkTask"), CompileOptions())    # doctest: +SKIP
>>> template.resource.failure_condition                                          # doctest: +SKIP
'status.applicationState.state in (FAILED,SUBMISSION_FAILED)'

``sparkSpec`` maps field by field:

=============================================  ===============================================================
Axon (``sparkSpec``)                           SparkApplication ``spec``
=============================================  ===============================================================
``properties`` (``key value`` lines)           ``sparkConf`` (``spark.kubernetes.authenticate.driver.
                                               serviceAccountName`` becomes ``driver.serviceAccount``)
``propertiesConfigMap``                        ``sparkConfigMap`` (mounted as ``SPARK_CONF_DIR``: its key must
                                               be ``spark-defaults.conf``)
``class`` / ``mainClass``                      ``mainClass``
``applicationFile`` / ``mainApplicationFile``  ``mainApplicationFile`` (none: the first of ``jars``); ``type``
                                               from its extension (``.py`` Python, ``.R`` R, else Java) unless
                                               ``type`` is given
``jars``, ``files``, ``pyFiles``, ``packages`` ``deps``
``args``                                       ``arguments``
``deployMode`` / ``mode``                      ``mode`` (default ``cluster``)
``conf``/``sparkConf``, ``hadoopConf``,        as named; ``driver``/``executor`` dicts are merged into what
``sparkVersion``, ``pythonVersion``,           the compiler sets
``driver``, ``executor``
=============================================  ===============================================================

The task's image (given, or built by ``imageBuild``) is ``spec.image``; ``nodeSelector`` is
``spec.nodeSelector``. Driver and executors get the runtime environment of DESIGN §4 and the shared volume at
``/axon-store`` (the operator's mutating webhook applies ``env``, ``volumes`` and ``volumeMounts`` to the
pods: install the operator with its webhook enabled). The driver runs as the axon's service account unless
``properties`` name another; that account may then create the executor pods (see :mod:`.rbac`).

The step succeeds when ``status.applicationState.state`` is ``COMPLETED`` and fails on ``FAILED`` or
``SUBMISSION_FAILED``; ``restartPolicy`` is ``Never``, so either is final.
"""

from __future__ import annotations

import copy
from typing import Any

from hera.workflows import models as m

from .. import contract
from ..config import CompileOptions
from ..errors import Diagnostic
from ..spec import Axon, Task
from .operators import awaited_resource, operator_object, task_labels
from .storage import VOLUME_NAME, store_volume
from .wiring import service_account_name
from .workflows import merge_env, runtime_env, task_image

__all__ = ["DEFAULT_SPARK_VERSION", "driver_account", "spark_errors", "spark_manifest", "spark_template"]

API_VERSION = "sparkoperator.k8s.io/v1beta2"
KIND = "SparkApplication"
#: ``spec.sparkVersion`` when ``sparkSpec`` gives none (the operator requires the field).
DEFAULT_SPARK_VERSION = "3.5.5"
DRIVER_ACCOUNT_PROPERTY = "spark.kubernetes.authenticate.driver.serviceAccountName"
TYPES = ("Java", "Python", "Scala", "R")
MODES = ("cluster", "client")
#: ``sparkSpec`` keys this module reads.
KNOWN = (
    "properties",
    "propertiesConfigMap",
    "propertiesConfigMapKey",
    "class",
    "mainClass",
    "applicationFile",
    "mainApplicationFile",
    "jars",
    "files",
    "pyFiles",
    "packages",
    "args",
    "arguments",
    "deployMode",
    "mode",
    "type",
    "conf",
    "sparkConf",
    "hadoopConf",
    "sparkVersion",
    "pythonVersion",
    "driver",
    "executor",
)


def parse_properties(text: str, path: str) -> tuple[dict[str, str], list[Diagnostic]]:
    """``spark-defaults.conf`` lines (``key value``, whitespace between, ``#`` comments) as a dict.

    >>> parse_properties("spark.executor.cores 1\\nspark.driver.memory\\t1024m\\n# note", "p")
    ({'spark.executor.cores': '1', 'spark.driver.memory': '1024m'}, [])
    """
    out: dict[str, str] = {}
    problems: list[Diagnostic] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) < 2:
            problems.append(Diagnostic(path, f"line {number} ({line!r}): expected 'key value'"))
            continue
        out[parts[0]] = parts[1].strip()
    return out, problems


def _spec(task: Task) -> dict[str, Any]:
    assert task.spark is not None
    return dict(task.spark.spark_spec or {})


def spark_errors(task: Task, path: str) -> list[Diagnostic]:
    """What the Spark Operator would reject in the task's ``sparkSpec`` at ``path``."""
    spec = _spec(task)
    out: list[Diagnostic] = []
    for key in spec:
        if key not in KNOWN:
            out.append(Diagnostic(f"{path}.{key}", f"unknown sparkSpec field {key!r}"))
    if not (spec.get("applicationFile") or spec.get("mainApplicationFile") or spec.get("jars")):
        out.append(
            Diagnostic(f"{path}.applicationFile", "expected the application to run (a jar, .py or .R)")
        )
    properties = spec.get("properties")
    if properties is not None:
        if isinstance(properties, str):
            out += parse_properties(properties, f"{path}.properties")[1]
        elif not isinstance(properties, dict):
            out.append(Diagnostic(f"{path}.properties", "expected 'key value' lines or a mapping"))
    map_key = spec.get("propertiesConfigMapKey")
    if map_key is not None and map_key != "spark-defaults.conf":
        out.append(
            Diagnostic(
                f"{path}.propertiesConfigMapKey",
                f"{map_key!r}: the Spark Operator mounts the "
                f"ConfigMap as SPARK_CONF_DIR, so the key must be 'spark-defaults.conf'",
            )
        )
    kind = spec.get("type")
    if kind is not None and kind not in TYPES:
        out.append(Diagnostic(f"{path}.type", f"unknown type {kind!r}: expected one of {', '.join(TYPES)}"))
    mode = spec.get("deployMode", spec.get("mode"))
    if mode is not None and mode not in MODES:
        field = "deployMode" if "deployMode" in spec else "mode"
        out.append(
            Diagnostic(f"{path}.{field}", f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
        )
    for name in ("driver", "executor", "conf", "sparkConf", "hadoopConf"):
        if name in spec and not isinstance(spec[name], dict):
            out.append(Diagnostic(f"{path}.{name}", "expected a mapping"))
    for name in ("jars", "files", "pyFiles", "packages", "args", "arguments"):
        if name in spec and not isinstance(spec[name], list):
            out.append(Diagnostic(f"{path}.{name}", "expected a list"))
    return out


def _conf(spec: dict[str, Any]) -> dict[str, str]:
    properties = spec.get("properties")
    conf = parse_properties(properties, "")[0] if isinstance(properties, str) else dict(properties or {})
    for name in ("conf", "sparkConf"):
        conf.update(spec.get(name) or {})
    return {str(k): str(v) for k, v in conf.items()}


def _application(spec: dict[str, Any]) -> tuple[str, list[str]]:
    """The application file and the other jars: without ``applicationFile`` the first jar is the application
    (the flat 2019-07 form listed it under ``jars``, beside ``class``)."""
    jars = [str(j) for j in spec.get("jars") or []]
    application = spec.get("mainApplicationFile") or spec.get("applicationFile")
    if application:
        return str(application), jars
    return jars[0], jars[1:]


def driver_account(axon: Axon, task: Task) -> str:
    """The service account the driver runs as (and creates executors as): ``properties``' or the axon's."""
    return _conf(_spec(task)).get(DRIVER_ACCOUNT_PROPERTY) or service_account_name(axon)


def spark_manifest(axon: Axon, task: Task, options: CompileOptions) -> dict[str, Any]:
    """The SparkApplication of ``task`` (see the module docstring)."""
    spec = copy.deepcopy(_spec(task))
    application, jars = _application(spec)
    kind = spec.get("type") or (
        "Python" if application.endswith(".py") else "R" if application.lower().endswith(".r") else "Java"
    )
    conf = _conf(spec)
    conf.pop(DRIVER_ACCOUNT_PROPERTY, None)
    env = merge_env(runtime_env(axon, task, options), [e.to_dict() for e in task.body.env])
    pod_labels = task_labels(axon, task)
    store = store_volume(axon)
    mounts = [{"name": VOLUME_NAME, "mountPath": contract.STORE_MOUNT}] if store is not None else []
    driver: dict[str, Any] = {"serviceAccount": driver_account(axon, task), "labels": pod_labels, "env": env}
    executor: dict[str, Any] = {"labels": pod_labels, "env": env}
    if mounts:
        driver["volumeMounts"] = executor["volumeMounts"] = mounts
    out: dict[str, Any] = {
        "type": kind,
        "mode": spec.get("deployMode", spec.get("mode", "cluster")),
        "image": task_image(task, options),
        "mainApplicationFile": application,
    }
    if spec.get("class") or spec.get("mainClass"):
        out["mainClass"] = spec.get("mainClass") or spec["class"]
    arguments = spec.get("arguments", spec.get("args"))
    if arguments:
        out["arguments"] = [str(a) for a in arguments]
    deps = {k: [str(x) for x in spec[k]] for k in ("files", "pyFiles", "packages") if spec.get(k)}
    if jars:
        deps = {"jars": jars, **deps}
    if deps:
        out["deps"] = deps
    out["sparkVersion"] = str(spec.get("sparkVersion", DEFAULT_SPARK_VERSION))
    if spec.get("pythonVersion"):
        out["pythonVersion"] = str(spec["pythonVersion"])
    if conf:
        out["sparkConf"] = conf
    if spec.get("propertiesConfigMap"):
        out["sparkConfigMap"] = spec["propertiesConfigMap"]
    if spec.get("hadoopConf"):
        out["hadoopConf"] = {str(k): str(v) for k, v in spec["hadoopConf"].items()}
    if task.body.node_selector:
        out["nodeSelector"] = dict(sorted(task.body.node_selector.items()))
    out["restartPolicy"] = {"type": "Never"}
    if store is not None:
        out["volumes"] = [store]
    out["driver"] = {**driver, **(spec.get("driver") or {})}
    out["executor"] = {**executor, **(spec.get("executor") or {})}
    return operator_object(API_VERSION, KIND, axon, task, out)


def spark_template(axon: Axon, task: Task, options: CompileOptions) -> m.Template:
    """The ``run`` template: create the SparkApplication, wait for its final state."""
    return awaited_resource(
        spark_manifest(axon, task, options),
        success="status.applicationState.state == COMPLETED",
        failure="status.applicationState.state in (FAILED,SUBMISSION_FAILED)",
    )
