"""Model -> Kubernetes manifests. Pure functions: no files, no network.

>>> bundle = compile_axon(axon, CompileOptions(registry="localhost:5000/ml"))   # doctest: +SKIP
>>> [m["kind"] for m in bundle]                                              # doctest: +SKIP
['PersistentVolumeClaim', 'WorkflowTemplate', 'WorkflowTemplate', 'WorkflowTemplate']

One module a target: :mod:`.workflows` (task WorkflowTemplates), :mod:`.storage` (the shared volume).
``compile_axon`` lints first and refuses an axon with errors, with the same messages as ``myelin lint``.
"""

from __future__ import annotations

from typing import Any

from ..config import CompileOptions
from ..errors import Diagnostic, MyelinError
from ..spec import Axon
from . import events
from .bundle import Bundle, Manifest
from .events import calendar_event_source, webhook_event_source
from .monitoring import alertmanager_config, prometheus_rule
from .rbac import rbac_manifests
from .sensors import plan, sensor_workflow_template, start_workflow
from .storage import persistent_volume_claim, store_volume
from .workflows import needs_template, task_workflow_template

__all__ = ["Bundle", "CompileOptions", "Manifest", "compile_axon"]


def compile_axon(axon: Axon, options: CompileOptions | None = None) -> Bundle:
    """Compile ``axon`` to its bundle, in apply order. Raises :class:`MyelinError` on lint errors and on what
    a cluster cannot run; what is not compiled yet is left out with a warning in ``bundle.warnings``."""
    from ..lint import lint_axon

    options = options or CompileOptions()
    errors = [d for d in lint_axon(axon) if d.severity == "error"] or cluster_errors(axon)
    if errors:
        raise MyelinError(errors)
    bundle = Bundle(axon.name)
    for manifest in rbac_manifests(axon, options):
        bundle.add(manifest)
    pvc = persistent_volume_claim(axon, options)
    if pvc is not None:
        bundle.add(pvc)
    for task in axon.tasks:
        if needs_template(task):
            bundle.add(task_workflow_template(axon, task, options))
    compiled = []
    for i, sensor in enumerate(axon.sensors):
        steps = plan(axon, i, sensor)
        bundle.warnings += steps.warnings
        if steps.steps:
            bundle.add(sensor_workflow_template(axon, sensor, steps.steps, options))
            compiled.append(sensor)
    for source in (webhook_event_source(axon, options), calendar_event_source(axon, options)):
        if source is not None:
            bundle.add(source)
    for argo_sensor in (events.sensor(axon, sensor, options) for sensor in compiled):
        if argo_sensor is not None:  # None: the sensor has no triggers
            bundle.add(argo_sensor)
    for alerting in (prometheus_rule(axon, options), alertmanager_config(axon, options)):
        if alerting is not None:
            bundle.add(alerting)
    for sensor in compiled:
        if not sensor.triggers:
            bundle.add(start_workflow(axon, sensor, options))
    leaks = [
        leak
        for m in bundle.manifests
        for leak in _axon_placeholders(m, f"{m['kind']}/{m['metadata']['name']}:")
    ]
    if leaks:
        raise MyelinError(leaks)
    return bundle


def cluster_errors(axon: Axon) -> list[Diagnostic]:
    """What lint lets pass (it can run locally) but a cluster cannot run."""
    out = [
        Diagnostic(
            f"spec.tasks[{i}].{task.kind}",
            f"task {task.name!r} has no image or imageBuild: a cluster cannot run it",
        )
        for i, task in enumerate(axon.tasks)
        if task.body.image is None and task.body.image_build is None
    ]
    if store_volume(axon) is None:
        out += [
            Diagnostic(
                f"spec.tasks[{i}].{task.kind}.imageBuild.s2i",
                "an s2i build needs the axon's shared volume "
                "(volume or volumeClaimTemplate): the generated Dockerfile is handed to kaniko through it",
            )
            for i, task in enumerate(axon.tasks)
            if task.body.image_build is not None and task.body.image_build.s2i is not None
        ]
    return out


def _axon_placeholders(value: Any, path: str = "") -> Any:
    """Yield a diagnostic for every Axon ``{{metric}}`` placeholder left in a manifest (Argo's own pass)."""
    from ..spec.expressions import placeholders

    if isinstance(value, dict):
        for k, v in value.items():
            yield from _axon_placeholders(v, f"{path}.{k}" if not path.endswith(":") else f"{path} {k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _axon_placeholders(v, f"{path}[{i}]")
    elif isinstance(value, str):
        for name in placeholders(value):
            yield Diagnostic(path, f"the Axon placeholder {{{{{name}}}}} is only allowed in conditions")
