"""Semantic checks over a loaded Axon: what the model's own validation cannot see one object at a time.

The model rejects malformed objects when they are built (a task with two bodies, a weight over 100, an
unparsable condition). Lint looks across objects: references by name (a sensor step naming a task that does
not exist), kinds (a ``trainer`` step on a ``container`` task), duplicate names and names that would collide
once turned into Kubernetes names, traffic weights that do not add up to 100, and parts of the format that are
kept in the model but cannot be compiled yet. Then it adds whatever else compiling refuses
(:func:`myelin_sdk.compiler.refusals`: a task without an image, a deployer without a shared volume, ...), so
``myelin lint`` and ``myelin compile`` report the same errors. It is pure: no I/O, the axon is not changed.

>>> from myelin_sdk.spec import Axon, ContainerTask, Sensor
>>> with Axon("demo") as axon:
...     prep = ContainerTask("Prep", image="python:3.11-slim", command=["python", "prep.py"])
...     on_start = Sensor("OnStart", tasks=[{"resourceExecutor": {"task": "Perp"}}])
>>> for d in lint_axon(axon):
...     print(d.severity, d.path, d.message)
error spec.sensors[0].tasks[0].resourceExecutor.task no task named 'Perp' — did you mean 'Prep'?
>>> errors_only(lint_axon(axon)) != []
True

A YAML axon is linted the same way, once loaded: ``lint_axon(Axon.from_file("axon.yaml"))``
(``axon.lint()`` is a shortcut). Loading already rejects what is malformed in one object; lint adds the rest.

Diagnostics come in the order of their position in the axon; each has a YAML field path
(``spec.sensors[2].triggers[0].task``), a severity (``"error"`` or ``"warning"``) and a message that says what
was expected. Paths follow the model, which normalises legacy forms on load: a 2019 deployer model written
with ``trainer``/``deployer`` is reported at ``models[i].backendModels[0]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .errors import CloseNames, Diagnostic, did_you_mean, excerpt
from .names import dns_label, is_dns_label
from .spec import Artifact, Axon, Deployer, Model, RolloutStep, Route, RoutingStep, Sensor, Task, TaskBody
from .spec.expressions import ExpressionError, parse_alert_condition, parse_metric_condition, placeholders
from .spec.sensors import PROMETHEUS_DURATION, Alert, Lifecycle

__all__ = ["errors_only", "lint_axon", "semantic_diagnostics"]

#: Task and sensor names: letters, digits, '-' and '_', starting with a letter or digit.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

_UNSUPPORTED = "not supported yet: {what} (kept in the model; compiling it fails)"
_MAX_LISTED = 8


def lint_axon(axon: Axon) -> list[Diagnostic]:
    """All problems of ``axon``: the semantic checks, ordered by position, then what else compiling refuses
    (:func:`myelin_sdk.compiler.refusals`: the one rule set ``compile`` and ``lint`` share, so their errors
    and exit status agree). Empty when all is well.

    Errors make compiling fail; warnings point at something that works but is likely unintended.
    """
    from .compiler import refusals
    from .compiler.operators import operator_warnings

    diagnostics = semantic_diagnostics(axon)
    seen = set(errors_only(diagnostics))
    # + what compiles differently from what the axon asks (Katib's hyperband parallelism), as compile warns
    refused = refusals(axon, semantic=diagnostics)
    return diagnostics + [d for d in refused if d not in seen] + operator_warnings(axon)


def semantic_diagnostics(axon: Axon) -> list[Diagnostic]:
    """The checks across objects (references, names, weights, conditions), ordered by position; the first
    part of :func:`lint_axon`, and what the compiler checks before anything else."""
    from .lint_inputs import input_diagnostics

    return _Linter(axon).run() + input_diagnostics(axon)


def errors_only(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics of severity ``"error"``, in their order."""
    return [d for d in diagnostics if d.severity == "error"]


# --- helpers -----------------------------------------------------------------------------------------------


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _unknown(
    what: str, name: str, choices: Sequence[str], scope: str = "", index: CloseNames | None = None
) -> str:
    """``no task named 'Trian' — did you mean 'Train'?``, else the known names (or that there are none).
    ``index`` (the same names, bucketed once) bounds the did-you-mean work for large lists."""
    text = f"no {what} named {excerpt(name)}{scope}"
    hint = index.hint(name) if index is not None else did_you_mean(name, choices)
    if hint:
        return text + hint
    if not choices:
        return f"{text} (there are none)"
    if len(choices) <= _MAX_LISTED:
        return f"{text}; expected one of {_quoted(choices)}"
    return text


def _k8s_name(name: str) -> str | None:
    try:
        return dns_label(name)
    except ValueError:
        return None


class _Names:
    """Names declared in one list, reporting duplicates (and, optionally, Kubernetes-name collisions)."""

    def __init__(self, linter: _Linter, what: str, scope: str = "", k8s_object: str | None = None) -> None:
        self._linter = linter
        self._what = what
        self._scope = scope
        self._k8s_object = k8s_object
        self._first: dict[str, str] = {}
        self._labels: dict[str, tuple[str, str]] = {}

    def add(self, name: str, path: str) -> None:
        if name in self._first:
            self._linter.error(
                path,
                f"duplicate {self._what} {excerpt(name)}{self._scope} (first at {self._first[name]}): "
                f"expected unique names",
            )
            return
        self._first[name] = path
        if self._k8s_object is None:
            return
        label = _k8s_name(name)
        if label is None:  # compiling would fail to name its object
            self._linter.error(
                path,
                f"{self._what} {excerpt(name)} has no letter or digit: it cannot become a Kubernetes "
                f"{self._k8s_object} name",
            )
            return
        if label in self._labels:
            other, other_path = self._labels[label]
            self._linter.error(
                path,
                f"{self._what} {excerpt(name)} and {excerpt(other)} (at {other_path}) both become the "
                f"Kubernetes name {label!r}: they would collide as {self._k8s_object} names; rename one",
            )
            return
        self._labels[label] = (name, path)


# --- the linter --------------------------------------------------------------------------------------------


class _Linter:
    """Walks the axon in document order, so diagnostics come out ordered by position."""

    def __init__(self, axon: Axon) -> None:
        self.axon = axon
        self.out: list[Diagnostic] = []
        self.tasks: dict[str, Task] = {}
        for task in axon.tasks:
            self.tasks.setdefault(task.name, task)
        self.artifacts: dict[str, Artifact] = {}
        for artifact in axon.artifacts:
            self.artifacts.setdefault(artifact.name, artifact)
        self.task_names = list(self.tasks)
        self.close_tasks = CloseNames(self.task_names)
        self.close_artifacts = CloseNames(self.artifacts)

    def error(self, path: str, message: str) -> None:
        self.out.append(Diagnostic(path, message, "error"))

    def warning(self, path: str, message: str) -> None:
        self.out.append(Diagnostic(path, message, "warning"))

    def run(self) -> list[Diagnostic]:
        axon = self.axon
        if not is_dns_label(axon.name):
            suggestion = _k8s_name(axon.name)
            example = f" (e.g. {suggestion!r})" if suggestion else ""
            self.error(
                "metadata.name",
                f"axon name {excerpt(axon.name)} is not a DNS-1123 label: expected at most 63 lowercase "
                f"letters, digits and '-', starting and ending with a letter or digit{example}",
            )
        if axon.volume is not None and axon.volume_claim_template is not None:
            self.error(
                "spec.volume",
                "give either volume or volumeClaimTemplate, not both: there is one shared volume per axon",
            )
        params = _Names(self, "parameter name")
        for i, param in enumerate(axon.parameters):
            params.add(param.name, f"spec.parameters[{i}].name")
        artifacts = _Names(self, "artifact name")
        for i, artifact in enumerate(axon.artifacts):
            artifacts.add(artifact.name, f"spec.artifacts[{i}].name")
        tasks = _Names(self, "task name", k8s_object="WorkflowTemplate")
        for i, task in enumerate(axon.tasks):
            self.task(task, f"spec.tasks[{i}]", tasks)
        self.deployers = _Names(self, "deployer name", k8s_object="SeldonDeployment")
        sensors = _Names(self, "sensor name", k8s_object="WorkflowTemplate")
        for i, sensor in enumerate(axon.sensors):
            self.sensor(sensor, f"spec.sensors[{i}]", sensors)
        return self.out

    # --- names and references ----------------------------------------------------------------------------

    def valid_name(self, what: str, name: str, path: str) -> None:
        if not NAME_RE.match(name):
            self.error(
                path,
                f"{what} name {excerpt(name)} is invalid: expected only letters, digits, '-' and '_', "
                f"starting with a letter or digit",
            )

    def task_ref(self, name: str, path: str) -> Task | None:
        """The task called ``name``, or ``None`` after reporting that there is none."""
        task = self.tasks.get(name)
        if task is None:
            self.error(path, _unknown("task", name, self.task_names, index=self.close_tasks))
        return task

    def expect_kind(self, task: Task, kind: str, path: str, role: str, hint: str = "") -> None:
        if task.kind != kind:
            self.error(
                path, f"task {task.name!r} is a {task.kind} task; {role} must name a {kind} task{hint}"
            )

    # --- tasks -------------------------------------------------------------------------------------------

    def task(self, task: Task, path: str, names: _Names) -> None:
        self.valid_name("task", task.name, f"{path}.name")
        names.add(task.name, f"{path}.name")
        body = task.body
        body_path = f"{path}.{task.kind}"
        self.body(task, body, body_path)
        # spark, tfJobSpec and hpTuning: what their operators reject is a compiler refusal
        # (compiler.operators.operator_errors), reported here through refusals()

    def body(self, task: Task, body: TaskBody, path: str) -> None:
        build = body.image_build
        if build is not None and build.artifact is not None:
            artifact = self.artifacts.get(build.artifact)
            if artifact is None:
                self.error(
                    f"{path}.imageBuild.artifact",
                    _unknown("artifact", build.artifact, list(self.artifacts), index=self.close_artifacts),
                )
        env = _Names(self, "env var name", scope=f" in task {task.name!r}")
        for i, var in enumerate(body.env):
            env.add(var.name, f"{path}.env[{i}].name")
            for name in placeholders(var.value or ""):
                self.error(
                    f"{path}.env[{i}].value",
                    f"{{{{{name}}}}} is a metric placeholder, only meaningful in conditions; "
                    f"Argo's own variables have a dot, e.g. {{{{workflow.parameters.{name}}}}}",
                )

    # --- sensors -----------------------------------------------------------------------------------------

    def sensor(self, sensor: Sensor, path: str, names: _Names) -> None:
        self.valid_name("sensor", sensor.name, f"{path}.name")
        names.add(sensor.name, f"{path}.name")
        triggers = _Names(self, "trigger name", scope=f" in sensor {sensor.name!r}")
        sensor_tasks = {step.task for step in sensor.tasks if step.task is not None}
        for i, trigger in enumerate(sensor.triggers):
            tpath = f"{path}.triggers[{i}]"
            triggers.add(trigger.name, f"{tpath}.name")
            if _k8s_name(trigger.name) is None:  # it names an Argo Events dependency
                named = "is empty"
                if trigger.name:
                    named = f"{excerpt(trigger.name)} has no letter or digit"
                self.error(f"{tpath}.name", f"trigger name {named}: it cannot become a Kubernetes name")
            if isinstance(trigger, Lifecycle):
                task = self.task_ref(trigger.task, f"{tpath}.task")
                if task is not None and task.kind == "deploy":
                    self.warning(
                        f"{tpath}.task",
                        f"Lifecycle trigger on deploy task {task.name!r}: deploy tasks serve models and "
                        f"are not run by sensors, so this trigger may never fire; "
                        f"expected a container or train task",
                    )
                elif task is not None and trigger.condition == "Succeeded" and task.name in sensor_tasks:
                    self.warning(
                        f"{tpath}.task",
                        f"sensor {sensor.name!r} runs task {task.name!r} when {task.name!r} succeeds: every "
                        f"run starts the next one (only the rate limit slows it down)",
                    )
            elif isinstance(trigger, Alert):
                try:
                    parse_alert_condition(trigger.condition).to_promql(self.axon.name)
                except ExpressionError as exc:
                    self.error(f"{tpath}.condition", f"invalid alert condition: {exc}")
                if trigger.for_ is not None and not PROMETHEUS_DURATION.fullmatch(trigger.for_):
                    self.error(
                        f"{tpath}.for",
                        f"{trigger.for_!r} is not a Prometheus duration: expected e.g. '30s' or '1h30m'",
                    )
        rests = [i for i, t in enumerate(sensor.triggers) if t.type == "Rest"]
        for i in rests[1:]:
            self.warning(
                f"{path}.triggers[{i}]",
                f"sensor {sensor.name!r} has one REST endpoint; its other Rest triggers fire on the same "
                f"call (one Rest trigger is enough)",
            )
        conditions = _Names(self, "condition name", scope=f" in sensor {sensor.name!r}")
        for i, condition in enumerate(sensor.conditions):
            cpath = f"{path}.conditions[{i}]"
            if condition.name is not None:
                conditions.add(condition.name, f"{cpath}.name")
            if condition.task is not None:
                self.task_ref(condition.task, f"{cpath}.task")
            try:
                # the gate measures the condition as PromQL: what PromQL cannot say (`not`) cannot be gated
                parse_metric_condition(condition.condition).to_promql(self.axon.name, ignore_labels=True)
            except ExpressionError as exc:
                self.error(f"{cpath}.condition", f"invalid metric condition: {exc}")
        if sensor.parameters:
            self.error(f"{path}.parameters", _UNSUPPORTED.format(what="sensor parameters"))
        if not sensor.tasks:
            self.error(
                f"{path}.tasks",
                f"sensor {sensor.name!r} has no tasks: expected at least one step "
                f"(resourceExecutor, trainer or deployer)",
            )
        for i, step in enumerate(sensor.tasks):
            spath = f"{path}.tasks[{i}]"
            if step.env:
                self.error(f"{spath}.env", _UNSUPPORTED.format(what="env on a sensor step"))
            if step.resource_executor is not None:
                task = self.task_ref(step.resource_executor.task, f"{spath}.resourceExecutor.task")
                if task is not None and task.kind == "deploy":
                    self.error(
                        f"{spath}.resourceExecutor.task",
                        f"task {task.name!r} is a deploy task: deploy tasks serve a model and are run by a "
                        f"deployer (backendModels[].deployer), not by a resourceExecutor step; expected a "
                        f"container or train task",
                    )
            elif step.trainer is not None:
                task = self.task_ref(step.trainer.task, f"{spath}.trainer.task")
                if task is not None:
                    hint = " (use resourceExecutor for a container task)" if task.kind == "container" else ""
                    self.expect_kind(task, "train", f"{spath}.trainer.task", "a trainer step", hint)
            elif step.deployer is not None:
                self.deployer(step.deployer, f"{spath}.deployer")

    # --- deployers ---------------------------------------------------------------------------------------

    def deployer(self, deployer: Deployer, path: str) -> None:
        # each deployer becomes a SeldonDeployment and a served history named after it ("deployer" unnamed)
        self.deployers.add(deployer.name or "deployer", f"{path}.name")
        for i, step in enumerate(deployer.rollout_spec):
            self.rollout_step(step, f"{path}.rolloutSpec[{i}]")
        models = _Names(self, "model name", scope=" in this deployer")
        for i, model in enumerate(deployer.models):
            models.add(model.name, f"{path}.models[{i}].name")
            self.model(model, f"{path}.models[{i}]")
        model_names = list(dict.fromkeys(m.name for m in deployer.models))
        served = {b.deployer: m.name for m in deployer.models for b in m.backend_models}
        routes = _Names(self, "route path", scope=" in this deployer")
        for i, route in enumerate(deployer.routes):
            routes.add(route.path, f"{path}.routes[{i}].path")
            self.route(route, f"{path}.routes[{i}]", model_names, served)

    def rollout_step(self, step: RolloutStep, path: str) -> None:
        total = sum(d.weight for d in step.destinations)
        if total != 100:
            self.error(f"{path}.destinations", f"weights sum to {total}; expected 100")
        seen: dict[int, int] = {}
        for i, dest in enumerate(step.destinations):
            index = dest.destination_index
            if index in seen:
                self.error(
                    f"{path}.destinations[{i}].destinationIndex",
                    f"duplicate destinationIndex {index} (first at destinations[{seen[index]}]): "
                    f"expected each deployed version at most once in a rollout step",
                )
            else:
                seen[index] = i

    def model(self, model: Model, path: str) -> None:
        backends = list(dict.fromkeys(b.name for b in model.backend_models))
        for i, step in enumerate(model.routing_strategy):
            self.routing_step(step, f"{path}.routingStrategy[{i}]", model.name, backends)
        names = _Names(self, "backend model name", scope=f" in model {model.name!r}")
        for i, backend in enumerate(model.backend_models):
            bpath = f"{path}.backendModels[{i}]"
            names.add(backend.name, f"{bpath}.name")
            trainer = self.task_ref(backend.trainer, f"{bpath}.trainer")
            if trainer is not None:
                self.expect_kind(trainer, "train", f"{bpath}.trainer", "backendModels[].trainer")
            server = self.task_ref(backend.deployer, f"{bpath}.deployer")
            if server is not None:
                self.expect_kind(server, "deploy", f"{bpath}.deployer", "backendModels[].deployer")

    def routing_step(self, step: RoutingStep, path: str, model: str, backends: list[str]) -> None:
        total = sum(d.weight for d in step.destinations)
        if total != 100:
            self.error(f"{path}.destinations", f"weights sum to {total}; expected 100")
        for i, dest in enumerate(step.destinations):
            if dest.destination_name not in backends:
                self.error(
                    f"{path}.destinations[{i}].destinationName",
                    _unknown("backend model", dest.destination_name, backends, f" in model {model!r}"),
                )

    def route(self, route: Route, path: str, models: list[str], served: dict[str, str]) -> None:
        # A DAG entry with a fullPath is an external model: it is declared by the entry itself.
        external = [n.model for n in route.dag if n.full_path is not None and n.model is not None]
        known = list(dict.fromkeys([*models, *external]))
        for i, node in enumerate(route.dag):
            npath = f"{path}.dag[{i}]"
            if node.model is not None:
                if node.full_path is None and node.model not in models:
                    self.error(f"{npath}.model", _unknown("model", node.model, models, " in this deployer"))
            elif node.task is not None:
                listed = ", ".join(f"{t!r} (model {m!r})" for t, m in served.items()) or "none"
                self.error(
                    f"{npath}.task",
                    f"no model of this deployer is served by task {node.task!r}: expected model: naming "
                    f"one of its models, or task: naming a deploy task it serves; deploy tasks served "
                    f"here: {listed}{did_you_mean(node.task, list(served))}",
                )
            for j, dep in enumerate(node.dependencies):
                if dep not in known:
                    self.error(
                        f"{npath}.dependencies[{j}]", _unknown("model", dep, known, " in this deployer")
                    )
