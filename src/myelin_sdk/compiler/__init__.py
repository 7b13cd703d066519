"""Model -> Kubernetes manifests. Pure functions: no files, no network.

>>> bundle = compile_axon(axon, CompileOptions(registry="localhost:5000/ml"))   # doctest: +SKIP
>>> sorted({m["kind"] for m in bundle})                                     # doctest: +SKIP
['EventSource', 'PersistentVolumeClaim', 'Role', 'RoleBinding', 'Sensor', 'ServiceAccount', ...]

One module a target: :mod:`.rbac`, :mod:`.storage` (the shared volume), :mod:`.workflows` (task
WorkflowTemplates), :mod:`.sensors` (sensor WorkflowTemplates, gates, start Workflows), :mod:`.events` (Argo
Events), :mod:`.monitoring` (PrometheusRule, AlertmanagerConfig), :mod:`.seldon` (SeldonDeployments;
:mod:`.serving` re-exports it),
:mod:`.deploys` (the deploy, promote and rollback steps), :mod:`.operators` (``spark``, ``tfJobSpec`` and
``hpTuning`` tasks: :mod:`.spark`, :mod:`.tfjob`, :mod:`.katib`); :mod:`.wiring` holds the names they share.
``compile_axon`` checks first and refuses an axon with errors; :func:`refusals` gives those errors without
raising, and ``myelin lint`` reports them: one rule set, the same messages and exit status.
"""

from __future__ import annotations

from typing import Any

from ..config import CompileOptions
from ..errors import Diagnostic, MyelinError
from ..spec import Axon
from . import events
from .bundle import Bundle, Manifest, ordered
from .deploys import OPERATIONS, DeployStep, operation_template, reviews
from .events import calendar_event_source, webhook_event_source
from .monitoring import alertmanager_config, prometheus_rule
from .network import webhook_network_policy
from .operators import operator_errors, operator_manifests, operator_warnings
from .rbac import rbac_manifests
from .security import lock_down
from .sensors import plan, sensor_workflow_template, start_workflow
from .storage import persistent_volume_claim, store_volume
from .workflows import needs_template, task_workflow_template

__all__ = ["Bundle", "CompileOptions", "Manifest", "compile_axon", "refusals"]


def refusals(
    axon: Axon, options: CompileOptions | None = None, *, semantic: list[Diagnostic] | None = None
) -> list[Diagnostic]:
    """Why :func:`compile_axon` refuses ``axon`` (empty: it compiles), without raising. ``lint_axon`` reports
    exactly these, so ``myelin lint`` and ``myelin compile`` agree; it passes the ``semantic`` diagnostics it
    has already computed (:func:`myelin_sdk.lint.semantic_diagnostics`), so they are not computed twice.

    >>> refusals(Axon.from_file("axon.yaml"))       # doctest: +SKIP
    [Diagnostic(path='spec.tasks[0].spark.sparkSpec.applicationFile', message='expected the application ...')]
    """
    try:
        _compile(axon, options, semantic)
    except MyelinError as exc:
        return list(exc.diagnostics)
    return []


def compile_axon(axon: Axon, options: CompileOptions | None = None) -> Bundle:
    """Compile ``axon`` to its bundle, in apply order. Raises :class:`MyelinError` on lint errors and on what
    a cluster cannot run; what is not compiled yet is left out with a warning in ``bundle.warnings``."""
    return _compile(axon, options, None)


def _compile(axon: Axon, options: CompileOptions | None, semantic: list[Diagnostic] | None) -> Bundle:
    """:func:`compile_axon`, with the semantic diagnostics given when the caller has them already."""
    from ..lint import errors_only, semantic_diagnostics

    options = options or CompileOptions()
    if semantic is None:
        semantic = semantic_diagnostics(axon)
    errors = errors_only(semantic) + cluster_errors(axon)
    if errors:
        raise MyelinError(errors)
    bundle = Bundle(axon.name)
    plans = [plan(axon, i, sensor, options) for i, sensor in enumerate(axon.sensors)]
    for steps in plans:
        bundle.warnings += steps.warnings
    # what the cluster sees: only the sensors that compile, so a left-out sensor brings no triggers either
    # (no exit notifications, EventSource entries or alert rules without a Sensor listening)
    active = axon.model_copy(
        update={"sensors": [s for s, p in zip(axon.sensors, plans, strict=True) if p.steps]}
    )
    for manifest in rbac_manifests(active, options):
        bundle.add(manifest)
    pvc = persistent_volume_claim(active, options)
    if pvc is not None:
        bundle.add(pvc)
    bundle.warnings += operator_warnings(active)
    for task in active.tasks:
        for extra in operator_manifests(active, task, options):  # e.g. an hpTuning task's trial template
            bundle.add(extra)
        if needs_template(task):
            bundle.add(task_workflow_template(active, task, options))
    operations: list[Manifest] = []
    for sensor, steps in zip(axon.sensors, plans, strict=True):
        if steps.steps:
            bundle.add(sensor_workflow_template(active, sensor, steps.steps, options))
            for step in steps.steps:
                if isinstance(step, DeployStep):
                    bundle.reviews += [ordered(doc) for doc in reviews(active, step, options)]
                    operations += [operation_template(active, step, mode, options) for mode in OPERATIONS]
    for operation in operations:
        bundle.add(operation)
    for source in (webhook_event_source(active, options), calendar_event_source(active, options)):
        if source is not None:
            bundle.add(source)
    policy = webhook_network_policy(active, options)  # only the axon's senders reach the webhook
    if policy is not None:
        bundle.add(policy)
    for argo_sensor in (events.sensor(active, sensor, options) for sensor in active.sensors):
        if argo_sensor is not None:  # None: the sensor has no triggers
            bundle.add(argo_sensor)
    for alerting in (prometheus_rule(active, options), alertmanager_config(active, options)):
        if alerting is not None:
            bundle.add(alerting)
    if bundle.find("AlertmanagerConfig") and not (options.namespace or axon.namespace):
        bundle.warnings.append(
            Diagnostic(
                "metadata.namespace",
                "no namespace: the AlertmanagerConfig's webhook URL is a short Service name, which "
                "Alertmanager resolves in its own namespace; compile with -n NAMESPACE",
                severity="warning",
            )
        )
    for sensor in active.sensors:
        if not sensor.triggers:
            bundle.add(start_workflow(active, sensor, options))
    leaks = [
        leak
        for m in bundle.manifests
        for leak in _axon_placeholders(m, f"{m['kind']}/{m['metadata']['name']}:")
    ]
    if leaks:
        raise MyelinError(leaks)
    for manifest in [*bundle.manifests, *bundle.reviews]:  # securityContexts (docs/security.md)
        lock_down(manifest, options)
    return bundle


def cluster_errors(axon: Axon) -> list[Diagnostic]:
    """What `myelin run` can run but a cluster cannot: compiling (and so lint) refuses it."""
    out = [
        Diagnostic(
            f"spec.tasks[{i}].{task.kind}",
            f"task {task.name!r} has no image or imageBuild: a cluster cannot run it "
            f"(`myelin run` can, with its command)",
        )
        for i, task in enumerate(axon.tasks)
        if task.body.image is None and task.body.image_build is None
    ]
    local = {a.name for a in axon.artifacts if a.local is not None}
    out += [
        Diagnostic(
            f"spec.tasks[{i}].{task.kind}.imageBuild.artifact",
            f"artifact {task.body.image_build.artifact!r} is a local folder: a cluster cannot use it "
            f"(`myelin run` can); use a git or s3 artifact for the cluster",
        )
        for i, task in enumerate(axon.tasks)
        if task.body.image_build is not None and task.body.image_build.artifact in local
    ]
    out += operator_errors(axon)
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


def _axon_placeholders(value: Any, path: str = "") -> list[Diagnostic]:
    """A diagnostic for every Axon ``{{metric}}`` placeholder left in a manifest (Argo's own pass), in
    document order. One walk that looks only at strings containing ``{{`` and spells a value's path out only
    when it leaks (a bundle has ~100 values a task)."""
    from ..spec.expressions import placeholders

    found: list[Diagnostic] = []
    at: list[str | int] = []

    def where() -> str:
        text = path
        for part in at:
            if isinstance(part, int):
                text = f"{text}[{part}]"
            else:
                text = f"{text} {part}" if text.endswith(":") else f"{text}.{part}"
        return text

    def visit(item: Any) -> None:
        if isinstance(item, str):
            for name in placeholders(item):
                found.append(
                    Diagnostic(where(), f"the Axon placeholder {{{{{name}}}}} is only allowed in conditions")
                )
            return
        children = (
            item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        )
        for key, child in children:
            if isinstance(child, str) and "{{" not in child:
                continue
            at.append(key)
            visit(child)
            at.pop()

    visit(value)
    return found
