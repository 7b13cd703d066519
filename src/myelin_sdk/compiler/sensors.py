"""Sensors -> Argo ``WorkflowTemplate``s, one per sensor, that run its tasks in order.

Each task step refers to the task's own template (``templateRef: {name: <axon>-<task>, template: main}``), so
no step is copied. The axon's parameters are the template's arguments, and the volumes of the referenced
templates are declared here (a ``templateRef`` brings templates, not volumes).

``Metric`` conditions become gate steps in front: a ``script`` step per condition running the stdlib-only
gate of :mod:`myelin_sdk.runtime.gate` (its source inlined), which measures the condition rendered to PromQL
``count`` times ``interval`` apart like an Argo Rollouts analysis and prints ``passed`` or ``failed``. The
gates run side by side, and every later step runs only ``when`` all of them passed, so a failed gate leaves
the run Succeeded with its steps Skipped — not an error. Prometheus unreachable after the retries is an error.

A ``deployer`` step becomes the select, apply and commit steps of :mod:`.deploys`. A deployer whose graph
cannot map to Seldon Core is refused (the same errors as ``myelin lint``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hera.workflows import Parallel, Step, Steps
from hera.workflows import models as m

from .. import contract
from ..config import CompileOptions
from ..errors import Diagnostic, MyelinError
from ..names import dns_label
from ..runtime import gate_script
from ..spec import Axon, Metric, Sensor
from ..spec.expressions import parse_metric_condition
from ..yamlio import dump
from .deploys import DeployStep, deploy_config, deploy_steps, deploy_templates
from .meta import labels, metadata, task_template_name
from .storage import store_volume
from .wiring import sensor_template_name
from .workflows import ENTRYPOINT, axon_workflow_template, docker_config_volume, needs_template, task_volumes

#: Where a gate step mounts ``CompileOptions.prometheus_secret`` (keys ``token`` and optionally ``ca.crt``).
PROMETHEUS_AUTH_DIR = "/var/run/secrets/myelin/prometheus"

#: Annotation on a start Workflow: ``myelin submit`` creates it on first install only, not on re-apply.
CREATE_ONCE = "myelin.io/create-once"


@dataclass
class SensorPlan:
    """What of a sensor compiles: its steps in order — (index, task name) for a task, a :class:`DeployStep`
    for a deployer — and warnings for what does not."""

    steps: list[tuple[int, str] | DeployStep] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)


def plan(axon: Axon, index: int, sensor: Sensor, options: CompileOptions) -> SensorPlan:
    """The steps of ``sensor`` that compile. A deployer whose graph cannot map to Seldon Core raises its
    :class:`~myelin_sdk.errors.UnsupportedError` (with the field paths), like any other deployer error."""
    out = SensorPlan()
    for i, step in enumerate(sensor.tasks):
        where = f"spec.sensors[{index}].tasks[{i}]"
        if step.deployer is not None:
            deploy = DeployStep(i, step.deployer, f"{where}.deployer")
            out.steps.append(deploy.with_plan(deploy_config(axon, deploy, options)))
        elif step.task is not None and needs_template(axon.task(step.task)):
            out.steps.append((i, step.task))
    if not out.steps and sensor.tasks:
        out.warnings.append(
            Diagnostic(
                f"spec.sensors[{index}]",
                f"sensor {sensor.name!r} has no step that compiles: it is left out of the bundle, "
                "with its triggers",
                severity="warning",
            )
        )
    return out


def gate_query(axon: Axon, condition: Metric) -> str:
    """The PromQL filter a gate measures: the condition with published metric names, labels ignored between
    its comparisons (``and on()``), so metrics pushed by different jobs combine like plain booleans. A
    condition naming its ``task`` reads only that task's series (``job="<TASK_ID>"``)."""
    job = contract.task_id(axon.name, condition.task) if condition.task else None
    return parse_metric_condition(condition.condition).to_promql(axon.name, ignore_labels=True, job=job)


def gate_names(sensor: Sensor) -> list[str]:
    """The step name of each Metric condition: ``gate-<name>`` for a named one, else ``gate-<index>``."""
    names: list[str] = []
    for i, condition in enumerate(sensor.conditions):
        base = f"gate-{dns_label(condition.name)}" if condition.name else f"gate-{i}"
        names.append(base if base not in names else f"{base}-{i}")
    return names


def _gate_template(name: str, axon: Axon, condition: Metric, options: CompileOptions) -> m.Template:
    argv = [
        "--prometheus", options.prometheus_url,
        "--query", gate_query(axon, condition),
        "--interval", condition.interval,
        "--count", str(condition.count),
        "--failure-limit", str(condition.failure_limit),
        "--step-output",
    ]  # fmt: skip
    if options.prometheus_insecure:
        argv.append("--insecure")
    mounts, volumes = None, None
    if options.prometheus_secret:
        # the token and CA are files of the mounted Secret: the script names them, never holds them
        argv += [
            "--token-file", f"{PROMETHEUS_AUTH_DIR}/token",
            "--ca-file", f"{PROMETHEUS_AUTH_DIR}/ca.crt", "--ca-optional",
        ]  # fmt: skip
        mounts = [m.VolumeMount(name="prometheus-auth", mount_path=PROMETHEUS_AUTH_DIR, read_only=True)]
        secret = m.SecretVolumeSource(secret_name=options.prometheus_secret, default_mode=0o440)
        volumes = [m.Volume(name="prometheus-auth", secret=secret)]
    return m.Template(
        name=name,
        script=m.ScriptTemplate(
            image=options.python_image, command=["python"], source=gate_script(argv), volume_mounts=mounts
        ),
        volumes=volumes,
    )


def _analysis_gate_template(
    name: str, axon: Axon, sensor: Sensor, condition: Metric, options: CompileOptions
) -> m.Template:
    """A ``resource`` step creating an Argo Rollouts AnalysisRun that measures the condition; the step fails
    when the analysis does, and the sensor's steps then run only if every gate step Succeeded."""
    if options.prometheus_secret or options.prometheus_insecure:
        raise MyelinError(
            "prometheus_secret and prometheus_insecure apply to the script gate; with gate=analysis-run set "
            "TLS and auth of Prometheus in Argo Rollouts"
        )
    prometheus = {"address": options.prometheus_url, "query": gate_query(axon, condition)}
    run = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "generateName": f"{sensor_template_name(axon, sensor.name)}-{name}-",
            "labels": labels(axon, sensor=dns_label(sensor.name)),
        },
        "spec": {
            "metrics": [
                {
                    "name": dns_label(condition.name) if condition.name else "condition",
                    "interval": condition.interval,
                    "count": condition.count,
                    "failureLimit": condition.failure_limit,
                    # the query is a PromQL filter: a result means the condition holds
                    "successCondition": "len(result) > 0",
                    "provider": {"prometheus": prometheus},
                }
            ]
        },
    }
    return m.Template(
        name=name,
        resource=m.ResourceTemplate(
            action="create",
            manifest=dump(run),
            success_condition="status.phase == Successful",
            failure_condition="status.phase in (Failed,Error,Inconclusive)",
        ),
    )


def _unique(names: list[str], base: str) -> str:
    """``base``, or ``base-<position>`` when a step already has that name (and so on, until none has)."""
    name, suffix = base, len(names)
    while name in names:
        name, suffix = f"{base}-{suffix}", suffix + 1
    names.append(name)
    return name


def sensor_workflow_template(
    axon: Axon, sensor: Sensor, steps: list[tuple[int, str] | DeployStep], options: CompileOptions
) -> dict[str, Any]:
    """The WorkflowTemplate of one sensor: its gates, then ``steps`` (see :func:`plan`) by ``templateRef``."""
    name = sensor_template_name(axon, sensor.name)
    kebab = dns_label(sensor.name)
    volumes: dict[str, dict[str, Any]] = {}
    for step in steps:
        if isinstance(step, DeployStep):
            store = store_volume(axon)
            if store is not None:
                volumes.setdefault(store["name"], store)
            credentials = docker_config_volume(options)
            if step.graph_node and credentials is not None:  # the graph node's build pushes its image
                volumes.setdefault(credentials["name"], credentials)
            continue
        for volume in task_volumes(axon, axon.task(step[1]), options):
            volumes.setdefault(volume["name"], volume)
    gates = gate_names(sensor)
    analysis = options.gate == "analysis-run"
    # a failed analysis fails its step: continue, so that the later steps are Skipped, not the run Failed
    on_fail = m.ContinueOn(failed=True) if analysis else None
    verdict = (
        "{{{{steps.{}.status}}}} == Succeeded" if analysis else "{{{{steps.{}.outputs.result}}}} == passed"
    )
    # built without hera's `with` blocks (the steps listed as the blocks would add them): the same manifest,
    # without the context's checks per step (a sensor may run hundreds of tasks)
    main: list[Any] = []
    if gates:
        # all gates run, side by side: a skipped gate would leave its result unresolved in `when`
        main.append(
            Parallel(sub_steps=[Step(name=gate, template=gate, continue_on=on_fail) for gate in gates])
        )
    when = " && ".join(verdict.format(gate) for gate in gates) or None
    names: list[str] = []
    for step in steps:
        if isinstance(step, DeployStep):
            for template, arguments in deploy_steps(step):
                main.append(
                    Step(
                        name=_unique(names, template),
                        template=template,
                        when=when,
                        arguments=arguments or None,
                    )
                )
            continue
        ref = m.TemplateRef(name=task_template_name(axon, step[1]), template=ENTRYPOINT)
        main.append(Step(name=_unique(names, dns_label(step[1])), template_ref=ref, when=when))
    wt = axon_workflow_template(
        axon, name, options, original=sensor.name, volumes=list(volumes.values()), sensor=kebab
    )
    wt.templates = [Steps(name=ENTRYPOINT, sub_steps=main)]
    for gate, condition in zip(gates, sensor.conditions, strict=True):
        if analysis:
            wt.templates.append(_analysis_gate_template(gate, axon, sensor, condition, options))
        else:
            wt.templates.append(_gate_template(gate, axon, condition, options))
    for step in steps:
        if isinstance(step, DeployStep):
            wt.templates.extend(deploy_templates(axon, step, options))
    manifest: dict[str, Any] = wt.to_dict()
    return manifest


def start_workflow(axon: Axon, sensor: Sensor, options: CompileOptions) -> dict[str, Any]:
    """The Workflow that runs a sensor without triggers once, when the axon is first installed."""
    name = dns_label(axon.name, sensor.name, "start")
    md = metadata(axon, name, options, original=sensor.name, sensor=dns_label(sensor.name))
    md.setdefault("annotations", {})[CREATE_ONCE] = "true"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": md,
        "spec": {"workflowTemplateRef": {"name": sensor_template_name(axon, sensor.name)}},
    }
