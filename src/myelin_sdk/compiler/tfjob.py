"""A train task with ``tfJobSpec`` -> a Kubeflow ``TFJob`` (Training Operator v1), created and awaited by the
``run`` step of the task's WorkflowTemplate (an Argo ``resource`` step).

>>> template = tfjob_template(axon, axon.task("TfJobTrain"), CompileOptions())   # doctest: +SKIP
>>> template.resource.success_condition                                           # doctest: +SKIP
'status.replicaStatuses.Worker.succeeded > 0'

Every replica (``PS``, ``Worker``, ``Chief``, ``Master``, ``Evaluator``) runs the image the task names or
builds in its ``tensorflow`` container (added when the template lists none), with the task's ``command``,
``args``, ``resources`` and ``nodeSelector`` where the replica gives none, the runtime environment of DESIGN
§4 (``MODEL_PATH`` is the run's version folder, created by an init container in each replica pod) and the
shared volume at ``/axon-store``; the pods run as the axon's service account. The 2019 top-level fields
``cleanPodPolicy``, ``ttlSecondsAfterFinished``, ``activeDeadlineSeconds`` and ``backoffLimit`` move into
``runPolicy``, where v1 keeps them.

The step succeeds when the chief (``Chief``, else ``Master``, else the workers: worker 0 decides under the
default success policy) has a succeeded pod, and fails when it has a failed one. The register step then
records the version folder, as for any train task.
"""

from __future__ import annotations

import copy
from typing import Any

from hera.workflows import models as m

from .. import contract
from ..config import CompileOptions
from ..errors import Diagnostic, did_you_mean
from ..spec import Axon, Task
from .operators import awaited_resource, operator_object, task_labels
from .storage import VOLUME_NAME, store_volume
from .wiring import service_account_name
from .workflows import execution_model_path, merge_env, runtime_env, task_image, versions_executions

__all__ = ["REPLICA_TYPES", "tfjob_errors", "tfjob_manifest", "tfjob_template"]

API_VERSION = "kubeflow.org/v1"
KIND = "TFJob"
#: The replica types the Training Operator accepts (its webhook rejects any other).
REPLICA_TYPES = ("Chief", "Master", "PS", "Worker", "Evaluator")
RESTART_POLICIES = ("Always", "OnFailure", "Never", "ExitCode")
#: The container the operator treats as the TensorFlow process (its default container name).
CONTAINER = "tensorflow"
#: 2019 fields of the TFJobSpec that TFJob v1 keeps under ``runPolicy``.
RUN_POLICY_FIELDS = ("cleanPodPolicy", "ttlSecondsAfterFinished", "activeDeadlineSeconds", "backoffLimit")
_SPEC_FIELDS = ("tfReplicaSpecs", "runPolicy", "successPolicy", "enableDynamicWorker", *RUN_POLICY_FIELDS)


def tfjob_errors(task: Task, path: str) -> list[Diagnostic]:
    """What the Training Operator would reject in the task's ``tfJobSpec`` at ``path``."""
    assert task.train is not None and task.train.tf_job_spec is not None
    spec = task.train.tf_job_spec
    out: list[Diagnostic] = []
    for key in spec:
        if key not in _SPEC_FIELDS:
            out.append(
                Diagnostic(
                    f"{path}.{key}", f"unknown TFJob field {key!r}: expected one of {', '.join(_SPEC_FIELDS)}"
                )
            )
    replicas = spec.get("tfReplicaSpecs")
    if not isinstance(replicas, dict) or not replicas:
        return [
            *out,
            Diagnostic(
                f"{path}.tfReplicaSpecs", "expected at least one replica type (Worker, PS, Chief, ...)"
            ),
        ]
    for kind, replica in replicas.items():
        rpath = f"{path}.tfReplicaSpecs.{kind}"
        if kind not in REPLICA_TYPES:
            out.append(
                Diagnostic(
                    rpath,
                    f"unknown replica type {kind!r}: expected one of {', '.join(REPLICA_TYPES)}"
                    f"{did_you_mean(str(kind), list(REPLICA_TYPES))}",
                )
            )
            continue
        if not isinstance(replica, dict):
            out.append(Diagnostic(rpath, "expected a mapping (replicas, restartPolicy, template)"))
            continue
        count = replica.get("replicas", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            out.append(Diagnostic(f"{rpath}.replicas", f"expected a count >= 0, got {count!r}"))
        elif kind in ("Chief", "Master", "Evaluator") and count > 1:
            out.append(Diagnostic(f"{rpath}.replicas", f"a TFJob has at most one {kind}, got {count}"))
        policy = replica.get("restartPolicy")
        if policy is not None and policy not in RESTART_POLICIES:
            out.append(
                Diagnostic(
                    f"{rpath}.restartPolicy",
                    f"unknown restartPolicy {policy!r}: expected one of {', '.join(RESTART_POLICIES)}",
                )
            )
        # any of these may be a non-mapping in a hostile file (#17 fuzz): refused here, before tfjob_manifest
        template, pod, containers = replica.get("template"), None, None
        if template is not None and not isinstance(template, dict):
            out.append(Diagnostic(f"{rpath}.template", "expected a mapping (a Kubernetes PodTemplateSpec)"))
        elif isinstance(template, dict):
            pod = template.get("spec")
            if pod is not None and not isinstance(pod, dict):
                out.append(Diagnostic(f"{rpath}.template.spec", "expected a mapping (a Kubernetes PodSpec)"))
            elif isinstance(pod, dict):
                containers = pod.get("containers")
                if containers is not None and not isinstance(containers, list):
                    where = f"{rpath}.template.spec.containers"
                    out.append(Diagnostic(where, "expected a list of containers"))
        containers = containers if isinstance(containers, list) else []
        if containers and not any(isinstance(c, dict) and c.get("name") == CONTAINER for c in containers):
            out.append(
                Diagnostic(
                    f"{rpath}.template.spec.containers",
                    f"no container named {CONTAINER!r}: the Training Operator runs TensorFlow in it",
                )
            )
    if "Chief" in replicas and "Master" in replicas:
        out.append(
            Diagnostic(f"{path}.tfReplicaSpecs", "give Chief or Master, not both: a TFJob has one chief")
        )
    return out


def primary_replica(spec: dict[str, Any]) -> str:
    """The replica whose outcome is the job's: ``Chief``, else ``Master``, else ``Worker``, else the first."""
    replicas = spec["tfReplicaSpecs"]
    return next((k for k in ("Chief", "Master", "Worker") if k in replicas), next(iter(replicas)))


def _container(
    raw: dict[str, Any],
    task: Task,
    options: CompileOptions,
    runtime: list[dict[str, Any]],
    env: list[dict[str, Any]],
    store: bool,
) -> dict[str, Any]:
    """The ``tensorflow`` container of a replica: the user's fields first, the task's where it gives none
    (``runtime``: the task's runtime environment; ``store``: whether the axon's volume is mounted)."""
    body = task.body
    container = {"name": CONTAINER, **copy.deepcopy(raw)}
    container.setdefault("image", task_image(task, options))
    if body.command and "command" not in container:
        container["command"] = list(body.command)
    if body.args and "args" not in container:
        container["args"] = list(body.args)
    own = [e.to_dict() for e in body.env] + list(container.get("env") or [])
    container["env"] = merge_env(merge_env(runtime, own), env)
    if body.resources is not None and "resources" not in container:
        resources = {k: {r: str(q) for r, q in v.items()} for k, v in body.resources.to_dict().items() if v}
        if resources:
            container["resources"] = resources
    if store:
        mounts = list(container.get("volumeMounts") or [])
        if not any(mount.get("name") == VOLUME_NAME for mount in mounts):
            mounts.append({"name": VOLUME_NAME, "mountPath": contract.STORE_MOUNT})
        container["volumeMounts"] = mounts
    return container


def _model_path_init(task: Task, options: CompileOptions) -> dict[str, Any]:
    root = contract.model_root(contract.STORE_MOUNT, task.name)
    folder = execution_model_path(task)
    return {
        "name": "model-path",
        "image": options.shell_image,
        "command": ["sh", "-c"],
        "args": [f"mkdir -p '{folder}' && chmod a+rwx '{root}' '{folder}'"],
        "volumeMounts": [{"name": VOLUME_NAME, "mountPath": contract.STORE_MOUNT}],
    }


def tfjob_manifest(
    axon: Axon, task: Task, options: CompileOptions, env: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The TFJob of ``task`` (``env`` is added to, or replaces, the runtime environment of every replica)."""
    assert task.train is not None and task.train.tf_job_spec is not None
    raw = copy.deepcopy(task.train.tf_job_spec)
    spec: dict[str, Any] = {}
    run_policy = dict(raw.get("runPolicy") or {})
    run_policy.update({k: raw[k] for k in RUN_POLICY_FIELDS if k in raw})
    if run_policy:
        spec["runPolicy"] = run_policy
    for key in ("successPolicy", "enableDynamicWorker"):
        if key in raw:
            spec[key] = raw[key]
    store = store_volume(axon)
    pod_labels = task_labels(axon, task)
    runtime = runtime_env(axon, task, options)
    replicas: dict[str, Any] = {}
    for kind, replica in raw["tfReplicaSpecs"].items():
        template = dict(replica.get("template") or {})
        pod = dict(template.get("spec") or {})
        containers = [c for c in pod.get("containers") or [] if isinstance(c, dict)] or [{"name": CONTAINER}]
        pod["containers"] = [
            _container(c, task, options, runtime, env or [], store is not None)
            if c.get("name") == CONTAINER
            else c
            for c in containers
        ]
        pod.setdefault("serviceAccountName", service_account_name(axon))
        if task.body.node_selector and "nodeSelector" not in pod:
            pod["nodeSelector"] = dict(sorted(task.body.node_selector.items()))
        if store is not None:
            volumes = list(pod.get("volumes") or [])
            if not any(v.get("name") == VOLUME_NAME for v in volumes):
                volumes.append(store)
            pod["volumes"] = volumes
        if versions_executions(axon, task):
            pod["initContainers"] = [_model_path_init(task, options), *(pod.get("initContainers") or [])]
        metadata = dict(template.get("metadata") or {})
        metadata["labels"] = {**(metadata.get("labels") or {}), **pod_labels}
        out = {k: v for k, v in replica.items() if k != "template"}
        out.setdefault("replicas", 1)
        out.setdefault("restartPolicy", "Never")
        out["template"] = {"metadata": metadata, "spec": pod}
        replicas[kind] = out
    spec["tfReplicaSpecs"] = replicas
    return operator_object(API_VERSION, KIND, axon, task, spec)


def tfjob_template(
    axon: Axon,
    task: Task,
    options: CompileOptions,
    *,
    name: str = "run",
    env: list[dict[str, Any]] | None = None,
    inputs: tuple[str, ...] = (),
) -> m.Template:
    """The ``resource`` template creating the TFJob and waiting for its chief (see the module docstring)."""
    assert task.train is not None and task.train.tf_job_spec is not None
    primary = primary_replica(task.train.tf_job_spec)
    return awaited_resource(
        tfjob_manifest(axon, task, options, env),
        success=f"status.replicaStatuses.{primary}.succeeded > 0",
        failure=f"status.replicaStatuses.{primary}.failed > 0",
        name=name,
        inputs=inputs,
    )
