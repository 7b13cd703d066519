"""Tasks that run on an upstream operator rather than in one pod: which, with what, and what they need.

=====================  ===============================  =================================================
task                   ``run`` step creates and awaits   module
=====================  ===============================  =================================================
``spark``              SparkApplication (Spark Operator) :mod:`.spark`
train + ``tfJobSpec``  TFJob (Kubeflow Training Op. v1)  :mod:`.tfjob`
train + ``hpTuning``   Katib Experiment (trials: Argo)   :mod:`.katib` (+ its trial WorkflowTemplate)
=====================  ===============================  =================================================

>>> operator_kind(axon.task("TrainGBT"))                       # doctest: +SKIP
'hpo'

The task's WorkflowTemplate keeps its build steps and exit notification; only ``run`` changes (and the
``register`` step, which an ``hpTuning`` task leaves to its trials). :func:`operator_errors` is what the
operators would reject, reported by ``compile`` and ``lint`` alike (they share the compiler's refusals).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from hera.workflows import models as m

from ..config import CompileOptions
from ..errors import Diagnostic
from ..names import dns_label
from ..spec import Axon, Task
from ..yamlio import dump
from .meta import labels
from .rbac import PolicyRule
from .storage import store_volume
from .wiring import service_account_name

__all__ = [
    "awaited_resource",
    "operator_errors",
    "operator_kind",
    "operator_manifests",
    "operator_object",
    "operator_rules",
    "operator_run_template",
    "operator_warnings",
    "plain",
    "registers_run",
    "task_labels",
]

OperatorKind = Literal["spark", "tfjob", "hpo"]

#: ``resource`` steps create the object, then ``kubectl get -w`` it until a condition holds.
_AWAIT = ("create", "get", "list", "watch")
SPARK_RULES: tuple[PolicyRule, ...] = (("sparkoperator.k8s.io", ("sparkapplications",), _AWAIT),)
#: What a Spark driver running as the axon's account does: executor pods, their Service, conf ConfigMaps
#: and on-demand claims (the Spark Operator chart's ``spark`` Role, without wildcards).
SPARK_DRIVER_RULES: tuple[PolicyRule, ...] = (
    (
        "",
        ("pods", "services", "configmaps", "persistentvolumeclaims"),
        ("create", "get", "list", "watch", "update", "patch", "delete", "deletecollection"),
    ),
)
TFJOB_RULES: tuple[PolicyRule, ...] = (("kubeflow.org", ("tfjobs",), _AWAIT),)
KATIB_RULES: tuple[PolicyRule, ...] = (("kubeflow.org", ("experiments",), _AWAIT),)


def plain(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without shared sub-objects (YAML would write them as anchors and aliases)."""
    out: dict[str, Any] = json.loads(json.dumps(document))
    return out


def task_labels(axon: Axon, task: Task) -> dict[str, str]:
    """The labels of an operator task's object and of its pods (``myelin.io/task`` = the task's DNS name)."""
    return labels(axon, task=dns_label(task.name))


def operator_object(
    api_version: str, kind: str, axon: Axon, task: Task, spec: dict[str, Any], *, name_length: int = 40
) -> dict[str, Any]:
    """The object an operator task's ``run`` step creates: ``generateName`` ``<axon>-<task>-`` (the
    prefix cut to ``name_length``, leaving room for the generated suffix and the operator's pod names), the
    task's labels, and ``spec``."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "generateName": f"{dns_label(axon.name, task.name, max_length=name_length)}-",
            "labels": task_labels(axon, task),
        },
        "spec": spec,
    }


def awaited_resource(
    manifest: dict[str, Any], success: str, failure: str, *, name: str = "run", inputs: tuple[str, ...] = ()
) -> m.Template:
    """A ``resource`` template that creates ``manifest`` and waits until ``success`` (or ``failure``) holds
    on its status — how a SparkApplication, a TFJob and a Katib Experiment run as a step of a Workflow."""
    return m.Template(
        name=name,
        inputs=m.Inputs(parameters=[m.Parameter(name=p) for p in inputs]) if inputs else None,
        resource=m.ResourceTemplate(
            action="create",
            manifest=dump(plain(manifest)),
            success_condition=success,
            failure_condition=failure,
        ),
    )


def operator_kind(task: Task) -> OperatorKind | None:
    """``spark``, ``hpo`` (a train task with ``hpTuning``, also with ``tfJobSpec``), ``tfjob``, or None."""
    if task.spark is not None:
        return "spark"
    if task.train is not None and task.train.hp_tuning is not None:
        return "hpo"
    if task.train is not None and task.train.tf_job_spec is not None:
        return "tfjob"
    return None


def registers_run(task: Task) -> bool:
    """Whether the task's workflow registers its run's version (not with ``hpTuning``: each trial does)."""
    return operator_kind(task) != "hpo"


def operator_run_template(axon: Axon, task: Task, options: CompileOptions) -> m.Template:
    """The ``run`` template of an operator task (a ``resource`` step)."""
    kind = operator_kind(task)
    if kind == "spark":
        from .spark import spark_template

        return spark_template(axon, task, options)
    if kind == "tfjob":
        from .tfjob import tfjob_template

        return tfjob_template(axon, task, options)
    from .katib import experiment_template

    return experiment_template(axon, task, options)


def operator_manifests(axon: Axon, task: Task, options: CompileOptions) -> list[dict[str, Any]]:
    """Objects an operator task adds to the bundle: the trial WorkflowTemplate of an ``hpTuning`` task."""
    if operator_kind(task) != "hpo":
        return []
    from .katib import trial_workflow_template

    return [trial_workflow_template(axon, task, options)]


def operator_errors(axon: Axon) -> list[Diagnostic]:
    """What the operators would reject in the axon's spark, tfJobSpec and hpTuning tasks, with field paths."""
    from .katib import hpo_errors
    from .spark import spark_errors
    from .tfjob import tfjob_errors

    out: list[Diagnostic] = []
    for i, task in enumerate(axon.tasks):
        path = f"spec.tasks[{i}]"
        if task.spark is not None:
            out += spark_errors(task, f"{path}.spark.sparkSpec")
        if task.train is not None and task.train.tf_job_spec is not None:
            out += tfjob_errors(task, f"{path}.train.tfJobSpec")
        if task.train is not None and task.train.hp_tuning is not None:
            out += hpo_errors(task, f"{path}.train.hpTuning")
            if store_volume(axon) is None:
                out.append(
                    Diagnostic(
                        f"{path}.train.hpTuning",
                        "hpTuning needs the axon's shared volume (volume or volumeClaimTemplate): each trial "
                        "registers its model version there and reports its loss from it",
                    )
                )
    return out


def operator_warnings(axon: Axon) -> list[Diagnostic]:
    """What compiles but differs from what the Axon asked for (Katib's hyperband parallelism)."""
    from .katib import hpo_warnings

    return [
        w
        for i, task in enumerate(axon.tasks)
        if operator_kind(task) == "hpo"
        for w in hpo_warnings(task, f"spec.tasks[{i}].train.hpTuning")
    ]


def operator_rules(axon: Axon) -> tuple[PolicyRule, ...]:
    """The Role rules the axon's operator tasks add: create and await their objects, and a Spark driver's
    rights when it runs as the axon's account."""
    from .spark import driver_account

    kinds = {operator_kind(t) for t in axon.tasks}
    tfjobs = any(t.train is not None and t.train.tf_job_spec is not None for t in axon.tasks)
    rules: tuple[PolicyRule, ...] = ()
    if "spark" in kinds:
        rules += SPARK_RULES
        own = service_account_name(axon)
        if any(driver_account(axon, t) == own for t in axon.tasks if t.spark is not None):
            rules += SPARK_DRIVER_RULES
    if tfjobs:
        rules += TFJOB_RULES
    if "hpo" in kinds:
        rules += KATIB_RULES
    return rules
