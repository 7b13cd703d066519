"""Tasks -> Argo ``WorkflowTemplate``s, one per task, built with hera.

A task's template runs, in order:

1. ``check-image`` (only with ``imageBuild.checkImageExists``): ``crane manifest`` prints ``exists`` or
   ``missing``; the build steps run only when the image is missing;
2. the image build, when the task has ``imageBuild``: ``dockerfile`` -> one kaniko step with the git/s3
   artifact as its context; ``s2i`` -> ``s2i build --as-dockerfile`` writes a Dockerfile and context onto the
   shared volume, then kaniko builds it (the pattern of Tekton's s2i task);
3. ``run``: the task's image with the shared volume at ``/axon-store``, its ``env``, ``resources`` and
   ``nodeSelector``, and the runtime environment (``MODEL_PATH``, ``DATA_PATH``, ``TASK_ID``, ...).
   A ``deploy`` task has no run step: its image is what the deployer serves. A ``spark`` task, or a train
   task with ``tfJobSpec`` or ``hpTuning``, runs on an operator instead: ``run`` is a ``resource`` step that
   creates its SparkApplication, TFJob or Katib Experiment and waits for it (:mod:`.operators`).
4. ``register`` (train tasks with a shared volume): each workflow run of a train task gets its own version
   folder as ``MODEL_PATH``, ``/axon-store/models/<task>/<version>/`` with the version named after the
   workflow (:data:`EXECUTION_VERSION`: its UTC creation time, then its uid), created by an init container of
   ``run``; once ``run`` succeeded, this ``script`` step (the stdlib :mod:`myelin_sdk.runtime.register`,
   inlined) reads the metrics the task pushed under job ``TASK_ID`` since the workflow was created from the
   Pushgateway's ``/api/v1/metrics`` and writes the folder's ``metrics.json``, or removes the folder when the
   task left it empty. A failed ``run`` skips it: the folder is never registered.

The axon's ``parameters`` are the template's arguments, so ``{{workflow.parameters.x}}`` in ``env`` works.
"""

from __future__ import annotations

import functools
import json
import posixpath
from typing import Any

from hera.workflows import HTTP, Container, Env, Step, Steps, WorkflowsService, WorkflowTemplate
from hera.workflows import models as m

from .. import contract
from ..config import CompileOptions
from ..errors import Diagnostic, UnsupportedError
from ..names import dns_label
from ..runtime import register_script
from ..spec import Artifact, Axon, ImageBuild, Task
from .meta import canonical, labels, metadata, task_template_name
from .security import container_security
from .storage import VOLUME_NAME, store_volume
from .webhook_auth import authorization_header
from .wiring import LIFECYCLE_EVENT, service_account_name, watched_tasks, webhook_service_url

ENTRYPOINT = "main"
#: The task's own steps, when ``main`` wraps them to send an exit notification.
TASK_STEPS = "task"
DOCKER_CONFIG_VOLUME = "docker-config"
#: The version folder of one workflow run of a train task: its UTC creation time (the registry's basic
#: format, to the second) and its uid, so names sort by time and never collide. Argo substitutes it.
EXECUTION_VERSION = (
    "".join(f"{{{{workflow.creationTimestamp.{c}}}}}" for c in "Ymd")
    + "T"
    + "".join(f"{{{{workflow.creationTimestamp.{c}}}}}" for c in "HMS")
    + "Z-{{workflow.uid}}"
)
#: When the workflow was created (RFC 3339): metrics pushed before it belong to earlier executions.
EXECUTION_START = "{{workflow.creationTimestamp}}"


def task_image(task: Task, options: CompileOptions) -> str:
    """The image a task runs (or serves): its ``image``, or the one its ``imageBuild`` pushes."""
    body = task.body
    if body.image is not None:
        return body.image
    if body.image_build is not None:
        return options.image_for(body.image_build.repository_name)
    raise UnsupportedError(
        [Diagnostic(f"task {task.name}", "has no image or imageBuild: it can only run locally (myelin run)")]
    )


def versions_executions(axon: Axon, task: Task) -> bool:
    """Whether each run of ``task`` gets its own version folder and a register step: a train task, on an axon
    with a shared volume (without one nothing a task writes outlives its pod)."""
    return task.kind == "train" and store_volume(axon) is not None


def execution_model_path(task: Task) -> str:
    """The ``MODEL_PATH`` of a workflow run of a train task (Argo variables in it), ending in ``/``."""
    return contract.version_path(contract.STORE_MOUNT, task.name, EXECUTION_VERSION)


def runtime_env(axon: Axon, task: Task, options: CompileOptions) -> list[dict[str, Any]]:
    """The environment contract of DESIGN §4 for ``task`` on a cluster."""
    env: list[dict[str, Any]] = [
        {"name": contract.AXON_NAME, "value": axon.name},
        {"name": contract.TASK_NAME, "value": task.name},
        {"name": contract.TASK_ID, "value": contract.task_id(axon.name, task.name)},
    ]
    # the namespace, and what the original ``myelin`` client reads at import (as the local runner sets them)
    env += [
        {"name": name, "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}  # each its own dict
        for name in (contract.NAMESPACE, contract.MYELIN_NAMESPACE, contract.PUSHGATEWAY_NAMESPACE)
    ]
    if task.train is not None and task.train.loss_metric:
        env.append({"name": contract.LOSS_METRIC, "value": task.train.loss_metric})
    paths = contract.task_paths(contract.STORE_MOUNT, task.name)
    if versions_executions(axon, task):
        paths[contract.MODEL_PATH] = execution_model_path(task)
    env += [{"name": k, "value": v} for k, v in paths.items()]
    env.append({"name": contract.PUSHGATEWAY_URL, "value": options.pushgateway_url})
    return env


def merge_env(base: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``base`` then ``extra``, an ``extra`` entry replacing the ``base`` entry of the same name in place (a
    task's own ``env`` may set ``PUSHGATEWAY_NAMESPACE``): each name once, as Kubernetes expects.

    >>> merge_env([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], [{"name": "A", "value": "x"}])
    [{'name': 'A', 'value': 'x'}, {'name': 'B', 'value': '2'}]
    """
    own = {e["name"]: e for e in extra}
    return [own.pop(e["name"], e) for e in base] + [e for e in extra if e["name"] in own]


def _env(items: list[dict[str, Any]]) -> list[m.EnvVar]:
    return [m.EnvVar.model_validate(e) for e in items]


def _artifact(artifact: Artifact) -> m.Artifact:
    """An Argo input artifact for the build step."""
    source: dict[str, Any] = {"name": dns_label(artifact.name), "path": artifact.path}
    if artifact.git is not None:
        source["git"] = artifact.git.to_dict()
    elif artifact.s3 is not None:
        source["s3"] = artifact.s3.to_dict()
    else:
        raise UnsupportedError(
            f"artifact {artifact.name!r} is a local folder: only `myelin run` can use it, a cluster cannot"
        )
    return m.Artifact.model_validate(source)


def _build_location(build: ImageBuild, axon: Axon) -> str:
    if build.build_location:
        return build.build_location
    if build.artifact is not None:
        return axon.artifact(build.artifact).path
    return "/workspace"


def _kaniko(context: str, dockerfile: str, image: str) -> list[str]:
    return [
        f"--context=dir://{context}",
        f"--dockerfile={dockerfile}",
        f"--destination={image}",
        "--cache=true",
        "--snapshot-mode=redo",
    ]


def _docker_config_mounts(options: CompileOptions) -> list[m.VolumeMount]:
    if options.registry_secret is None:
        return []
    return [m.VolumeMount(name=DOCKER_CONFIG_VOLUME, mount_path="/kaniko/.docker")]


def _build_templates(axon: Axon, task: Task, options: CompileOptions) -> list[tuple[str, Container]]:
    """The build steps of a task with ``imageBuild``, as (step name, template) pairs in order."""
    build = task.body.image_build
    assert build is not None
    image = task_image(task, options)
    inputs = [_artifact(axon.artifact(build.artifact))] if build.artifact is not None else []
    location = _build_location(build, axon)
    extra_mounts = [m.VolumeMount.model_validate(v) for v in build.volume_mounts]
    steps: list[tuple[str, Container]] = []
    if build.dockerfile is not None:
        dockerfile = posixpath.join(location, build.dockerfile.path)
        steps.append(
            (
                "build",
                Container(
                    name="build-image",
                    image=options.kaniko_image,
                    args=_kaniko(location, dockerfile, image),
                    inputs=inputs,
                    volume_mounts=[*_docker_config_mounts(options), *extra_mounts] or None,
                ),
            )
        )
        return steps
    assert build.s2i is not None
    # s2i writes the Dockerfile and the prepared context onto the shared volume, unique per workflow run
    workspace = f"{contract.STORE_MOUNT}/.build/{{{{workflow.uid}}}}/{dns_label(task.name)}"
    source = posixpath.normpath(posixpath.join(location, build.s2i.context_dir))
    steps.append(
        (
            "s2i",
            Container(
                name="s2i-generate",
                image=options.s2i_image,
                command=["s2i"],
                args=["build", source, build.s2i.builder_image, "--as-dockerfile", f"{workspace}/Dockerfile"],
                inputs=inputs,
                volume_mounts=[
                    m.VolumeMount(name=VOLUME_NAME, mount_path=contract.STORE_MOUNT),
                    *extra_mounts,
                ],
            ),
        )
    )
    steps.append(
        (
            "build",
            Container(
                name="build-image",
                image=options.kaniko_image,
                args=_kaniko(workspace, f"{workspace}/Dockerfile", image),
                volume_mounts=[
                    *_docker_config_mounts(options),
                    m.VolumeMount(name=VOLUME_NAME, mount_path=contract.STORE_MOUNT),
                ],
            ),
        )
    )
    return steps


def _check_image(task: Task, options: CompileOptions) -> Container:
    image = task_image(task, options)
    return Container(
        name="check-image",
        image=options.crane_image,
        command=["sh", "-c"],
        args=[f"if crane manifest '{image}' >/dev/null 2>&1; then echo exists; else echo missing; fi"],
        security_context=_step_security(),
        volume_mounts=_docker_config_mounts(options) or None,
        env=[Env(name="DOCKER_CONFIG", value="/kaniko/.docker")] if options.registry_secret else None,
    )


def _run_template(axon: Axon, task: Task, options: CompileOptions) -> Container:
    body = task.body
    resources = body.resources.to_dict() if body.resources is not None else None
    if resources:
        resources = {k: {r: str(q) for r, q in v.items()} for k, v in resources.items()}
    mounts = [m.VolumeMount(name=VOLUME_NAME, mount_path=contract.STORE_MOUNT)] if store_volume(axon) else []
    return Container(
        name="run",
        image=task_image(task, options),
        command=body.command,
        args=body.args,
        env=_env(merge_env(runtime_env(axon, task, options), [e.to_dict() for e in body.env])),
        resources=m.ResourceRequirements.model_validate(resources) if resources else None,
        node_selector=canonical(body.node_selector) or None,
        volume_mounts=mounts or None,
        init_containers=[_model_path_init(task, options)] if versions_executions(axon, task) else None,
    )


def _step_security() -> m.SecurityContext:
    """One of the SDK's own small steps: restricted, read-only root (:mod:`.security`; every other container
    gets its context from :func:`.security.lock_down`)."""
    return m.SecurityContext.model_validate(container_security("step"))


def _model_path_init(task: Task, options: CompileOptions) -> m.UserContainer:
    """An init container that creates the run's version folder, writable by the task whatever its user."""
    root = contract.model_root(contract.STORE_MOUNT, task.name)
    folder = execution_model_path(task)
    return m.UserContainer(
        name="model-path",
        image=options.shell_image,
        command=["sh", "-c"],
        args=[f"mkdir -p '{folder}' && chmod a+rwx '{root}' '{folder}'"],
        mirror_volume_mounts=True,
        security_context=_step_security(),
    )


def _register_template(axon: Axon, task: Task, options: CompileOptions) -> m.Template:
    """The ``register`` script step: the run's version folder becomes a model version (module docstring)."""
    argv = [
        "--folder",
        execution_model_path(task),
        "--pushgateway",
        options.pushgateway_url,
        "--job",
        contract.task_id(axon.name, task.name),
        "--axon",
        axon.name,
        "--since",
        EXECUTION_START,
    ]
    mount = m.VolumeMount(name=VOLUME_NAME, mount_path=contract.STORE_MOUNT)
    return m.Template(
        name="register",
        script=m.ScriptTemplate(
            image=options.python_image,
            command=["python"],
            source=register_script(argv),
            volume_mounts=[mount],
        ),
    )


def needs_template(task: Task) -> bool:
    """Whether a task has anything to run on a cluster: a deploy task with a prebuilt image has not (its image
    is only served, by the deployer)."""
    return not (task.kind == "deploy" and task.body.image_build is None)


def task_volumes(axon: Axon, task: Task, options: CompileOptions) -> list[dict[str, Any]]:
    """The pod volumes a task's templates mount: the shared store, push credentials, the build's own."""
    volumes: list[dict[str, Any]] = []
    store = store_volume(axon)
    if store is not None:
        volumes.append(store)
    build = task.body.image_build
    if build is not None:
        credentials = docker_config_volume(options)
        if credentials is not None:
            volumes.append(credentials)
        volumes += build.volumes
    return volumes


def docker_config_volume(options: CompileOptions) -> dict[str, Any] | None:
    """The volume of the registry credentials kaniko pushes with (None without ``registry_secret``)."""
    if not options.registry_secret:
        return None
    return {
        "name": DOCKER_CONFIG_VOLUME,
        "secret": {
            "secretName": options.registry_secret,
            "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
        },
    }


def _notify_template(axon: Axon, task: Task, options: CompileOptions) -> HTTP:
    """An ``http`` template posting the task's exit phase to the axon's webhook EventSource."""
    model_path = (
        execution_model_path(task)
        if _registers(axon, task)
        else contract.task_paths(contract.STORE_MOUNT, task.name)[contract.MODEL_PATH]
    )
    body = {
        "axon": axon.name,
        "task": task.name,
        "phase": "{{inputs.parameters.phase}}",
        "workflow": "{{workflow.name}}",
        "modelPath": model_path,
    }
    return HTTP(
        name="notify",
        inputs=[m.Parameter(name="phase")],
        url=webhook_service_url(axon, options, LIFECYCLE_EVENT),
        method="POST",
        headers=[
            m.V1alpha1HTTPHeader(name="Content-Type", value="application/json"),
            m.V1alpha1HTTPHeader.model_validate(authorization_header(axon, options)),  # the webhook's token
        ],
        body=json.dumps(body, sort_keys=True),
        success_condition="response.statusCode < 300",
        timeout_seconds=30,
        retry_strategy=m.RetryStrategy(limit="3", retry_policy="Always"),
    )


def axon_workflow_template(
    axon: Axon,
    name: str,
    options: CompileOptions,
    *,
    original: str,
    volumes: list[dict[str, Any]],
    **extra_labels: str,
) -> WorkflowTemplate:
    """A hera ``WorkflowTemplate`` (use it as a context manager) with what every template of the axon has:
    metadata and labels (also on its pods), the service account, the axon's parameters, and ``volumes``."""
    md = metadata(axon, name, options, original=original, **extra_labels)
    return WorkflowTemplate(
        name=name,
        namespace=md.get("namespace"),
        labels=md["labels"],
        annotations=md.get("annotations"),
        entrypoint=ENTRYPOINT,
        service_account_name=service_account_name(axon),
        arguments=[m.Parameter(name=p.name, value=p.value) for p in axon.parameters] or None,
        volumes=[m.Volume.model_validate(v) for v in volumes] or None,
        pod_metadata=m.Metadata(labels=labels(axon, **extra_labels)),
        workflows_service=_no_service(),
    )


@functools.cache
def _no_service() -> WorkflowsService:
    """One idle hera ``WorkflowsService`` for every template: the compiler never talks to an Argo server, and
    hera would otherwise make a service (with its ``requests.Session``) per template."""
    return WorkflowsService()


def _operator_run(axon: Axon, task: Task, options: CompileOptions) -> m.Template | None:
    """The ``run`` resource step of a spark, tfJobSpec or hpTuning task (None for any other task)."""
    from .operators import operator_kind, operator_run_template

    return operator_run_template(axon, task, options) if operator_kind(task) is not None else None


def _registers(axon: Axon, task: Task) -> bool:
    """Whether the template ends with ``register`` (not for hpTuning: each trial registers its own run)."""
    from .operators import registers_run

    return versions_executions(axon, task) and registers_run(task)


def task_workflow_template(axon: Axon, task: Task, options: CompileOptions) -> dict[str, Any]:
    """The ``WorkflowTemplate`` of one task, as a manifest dict (see :func:`needs_template`).

    When a Lifecycle trigger listens to the task, ``main`` wraps the task's steps: it runs them with
    ``continueOn`` failure, posts ``{axon, task, phase, workflow, modelPath}`` to the webhook EventSource
    (``Succeeded``, ``Failed`` or ``Error``), then fails if the task did — so the notification is sent
    whichever way the task ends, also when the template runs inside a sensor's workflow.
    """
    notify = task.name in watched_tasks(axon)
    build = task.body.image_build
    check = _check_image(task, options) if build is not None and build.check_image_exists else None
    builds = _build_templates(axon, task, options) if build is not None else []
    # spark, tfJobSpec, hpTuning: `run` creates the operator's object (compiler.operators)
    operator = _operator_run(axon, task, options)
    run = _run_template(axon, task, options) if task.kind != "deploy" and operator is None else None
    registers = (run is not None or operator is not None) and _registers(axon, task)
    # Built without hera's `with` blocks (the templates and steps listed as the blocks would add them, as
    # `template(name=...)` would call them): the same manifest, without the context's checks per object,
    # which cost a quarter of hera's time for a template this small (a compile makes one per task).
    own: list[Any] = []  # hera types sub_steps as a list of a union (invariant): these are Steps
    if check is not None:
        own.append(Step(template=check, name="check-image", arguments=[]))
    for step_name, template in builds:
        when = "{{steps.check-image.outputs.result}} == missing" if check is not None else None
        own.append(Step(template=template, name=step_name, when=when, arguments=[]))
    if run is not None:
        own.append(Step(template=run, name="run", arguments=[]))
    elif operator is not None:
        own.append(Step(name="run", template=operator.name))
    if registers:
        own.append(Step(name="register", template="register"))
    steps = Steps(name=TASK_STEPS if notify else ENTRYPOINT, sub_steps=own)
    templates: list[Any] = [
        *([check] if check is not None else []),
        *(t for _, t in builds),
        *([run] if run is not None else []),
        steps,
    ]
    if notify:
        sender = _notify_template(axon, task, options)
        fail = Container(
            name="fail",
            image=options.shell_image,
            command=["sh", "-c"],
            args=["echo 'task {{inputs.parameters.phase}}' >&2; exit 1"],
            inputs=[m.Parameter(name="phase")],
            security_context=_step_security(),
        )
        status = "{{steps.task.status}}"
        main: list[Any] = [
            Step(
                template=steps, name="task", continue_on=m.ContinueOn(error=True, failed=True), arguments=[]
            ),
            Step(template=sender, name="notify", arguments=[{"phase": status}]),
            Step(template=fail, name="fail", arguments=[{"phase": status}], when=f"{status} != Succeeded"),
        ]
        templates += [sender, fail, Steps(name=ENTRYPOINT, sub_steps=main)]
    if operator is not None:
        templates.append(operator)
    if registers:
        templates.append(_register_template(axon, task, options))
    wt = axon_workflow_template(
        axon,
        task_template_name(axon, task.name),
        options,
        original=task.name,
        volumes=task_volumes(axon, task, options),
        task=dns_label(task.name),
    )
    wt.templates = templates
    manifest: dict[str, Any] = wt.to_dict()
    return manifest
