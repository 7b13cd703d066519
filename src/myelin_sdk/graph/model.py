"""The graph model of an Axon: what its picture shows, built once and drawn by :mod:`.draw`.

>>> graph = axon_graph(Axon.from_file("examples/recommender_demo/recommender-demo.yaml"))  # doctest: +SKIP
>>> [(e.source, e.target, e.kind) for e in graph.edges][:2]                                 # doctest: +SKIP
[('sensor/TrainOnStart', 'task/DataPrepMyelinRecommender', 'step'), ...]

Nodes: each task (its kind and image source), each sensor (a box with a badge per Alert, Rest or Calendar
trigger, or "on start" without triggers), each deployer step (models, backends, traffic split) and, for an
axon that does not lint, each task named but not declared. Edges: ``trigger`` (a Lifecycle trigger, from its
task to the sensor), ``step`` (a sensor runs a task or a deployer, in order; the first step carries the
sensor's Metric gates), ``serves`` and ``model`` (a deployer's backend models: the deploy task that serves
them and the train task whose versions they serve; ``Edge.backends`` names them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ..spec import Axon, Deployer, Sensor, Task

NodeKind = Literal["task", "sensor", "deployer", "missing"]
EdgeKind = Literal["trigger", "step", "serves", "model"]

#: How a task's kind reads in the picture.
TASK_KIND_LABELS = {"container": "data prep", "train": "train", "deploy": "deploy", "spark": "spark"}


@dataclass(frozen=True)
class Badge:
    """A trigger drawn inside its sensor's box: ``Badge("Alert", "LowAccuracy", "{{accuracy}} < 0.9")``."""

    type: str
    name: str
    text: str


@dataclass(frozen=True)
class Gate:
    """A sensor's Metric condition, drawn on the edge it guards."""

    name: str
    condition: str


@dataclass(frozen=True)
class Node:
    """A box of the picture. ``id`` is ``task/<name>``, ``sensor/<name>`` or ``deployer/<sensor>/<n>``."""

    id: str
    kind: NodeKind
    name: str
    subtitle: str = ""
    lines: tuple[str, ...] = ()
    badges: tuple[Badge, ...] = ()


@dataclass(frozen=True)
class Edge:
    """An arrow from node ``source`` to node ``target``."""

    source: str
    target: str
    kind: EdgeKind
    label: str = ""
    gates: tuple[Gate, ...] = ()
    backends: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The label with the backend models it names: ``serves BackendA, BackendB``."""
        return " ".join(x for x in (self.label, ", ".join(self.backends)) if x)


@dataclass
class AxonGraph:
    """The nodes and edges of an Axon's picture, in declaration order."""

    name: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def node(self, node_id: str) -> Node:
        """The node with this id (``KeyError`` when there is none)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def edges_from(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source == node_id]

    def edges_to(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.target == node_id]


def task_id(name: str) -> str:
    return f"task/{name}"


def image_source(task: Task) -> list[str]:
    """How a task gets its image: ``image X``, or the build (repository, artifact:location, builder)."""
    body = task.body
    if body.image is not None:
        return [f"image {body.image}"]
    build = body.image_build
    if build is None:
        return ["no image"]
    where = ":".join(x for x in (build.artifact, build.build_location) if x)
    lines = [f"build {build.repository_name}" + (f" from {where}" if where else "")]
    if build.dockerfile is not None:
        lines.append(f"Dockerfile {build.dockerfile.path}")
    elif build.s2i is not None:
        lines.append(f"s2i {build.s2i.builder_image} ({build.s2i.context_dir})")
    return lines


def _task_node(task: Task) -> Node:
    lines = image_source(task)
    if task.train is not None and task.train.loss_metric:
        selector = f" ({task.train.loss_metric_selector})" if task.train.loss_metric_selector else ""
        lines.append(f"loss {task.train.loss_metric}{selector}")
    if task.deploy is not None and task.deploy.endpoint_type:
        lines.append(f"endpoint {task.deploy.endpoint_type}")
    return Node(task_id(task.name), "task", task.name, TASK_KIND_LABELS[task.kind], tuple(lines))


def _badges(sensor: Sensor) -> tuple[Badge, ...]:
    badges: list[Badge] = []
    for trigger in sensor.triggers:
        if trigger.type == "Alert":
            held = f" for {trigger.for_}" if trigger.for_ else ""
            badges.append(Badge("Alert", trigger.name, trigger.condition + held))
        elif trigger.type == "Rest":
            badges.append(Badge("Rest", trigger.name, "an HTTP POST"))
        elif trigger.type == "Calendar":
            when = f"cron {trigger.schedule}" if trigger.schedule else f"every {trigger.interval}"
            if trigger.timezone:
                when += f" ({trigger.timezone})"
            badges.append(Badge("Calendar", trigger.name, when))
    if not sensor.triggers:
        badges.append(Badge("Start", "", "once, when the axon is installed"))
    return tuple(badges)


def traffic_line(axon: Axon, deployer: Deployer) -> str:
    """``traffic v0 (newest) 50% · v1 50%``: the first rollout step's split (:mod:`myelin_sdk.traffic`)."""
    from ..traffic import deployer_destinations

    split = " · ".join(
        f"v{index}{' (newest)' if index == 0 else ''} {weight}%"
        for index, weight in deployer_destinations(axon, deployer)
    )
    more = len(deployer.rollout_spec) - 1
    shadow = deployer.rollout_spec[0].shadow if deployer.rollout_spec else None
    return (
        f"traffic {split}"
        + (f" · shadow v{shadow.destination_index}" if shadow is not None else "")
        + (f" (+{more} rollout steps)" if more > 0 else "")
    )


def _deployer_lines(axon: Axon, deployer: Deployer) -> list[str]:
    lines = [traffic_line(axon, deployer)]
    if deployer.replicas is not None:
        lines.append(f"replicas {deployer.replicas}")
    for model in deployer.models:
        strategy = f" ({model.model_selection_strategy})" if model.model_selection_strategy else ""
        lines.append(f"model {model.name}{strategy}")
        weights = {d.destination_name: d.weight for s in model.routing_strategy[:1] for d in s.destinations}
        for backend in model.backend_models:
            weight = f" {weights[backend.name]}%" if backend.name in weights else ""
            lines.append(f"  backend {backend.name}{weight}: {backend.trainer} → {backend.deployer}")
    if deployer.routes:
        lines.append("routes " + ", ".join(r.path for r in deployer.routes))
    return lines


def _add_backend_edge(graph: AxonGraph, edge: Edge) -> None:
    """Add a ``serves`` or ``model`` edge; backends sharing a task pair share one arrow naming them all."""
    for i, known in enumerate(graph.edges):
        if (known.source, known.target, known.kind) == (edge.source, edge.target, edge.kind):
            graph.edges[i] = replace(known, backends=known.backends + edge.backends)
            return
    graph.edges.append(edge)


def axon_graph(axon: Axon) -> AxonGraph:
    """The picture's graph of ``axon``; works on an axon with lint errors too (undeclared tasks shown)."""
    graph = AxonGraph(axon.name)
    declared = {t.name for t in axon.tasks}
    graph.nodes.extend(_task_node(t) for t in axon.tasks)
    missing: list[str] = []

    def to_task(name: str) -> str:
        if name not in declared and name not in missing:
            missing.append(name)
            graph.nodes.append(Node(task_id(name), "missing", name, "not declared"))
        return task_id(name)

    for sensor in axon.sensors:
        sid = f"sensor/{sensor.name}"
        graph.nodes.append(Node(sid, "sensor", sensor.name, "sensor", badges=_badges(sensor)))
        for trigger in sensor.triggers:
            if trigger.type == "Lifecycle":
                label = f"{trigger.condition} ({trigger.name})"
                graph.edges.append(Edge(to_task(trigger.task), sid, "trigger", label))
        gates = tuple(Gate(c.name or f"gate-{i}", c.condition) for i, c in enumerate(sensor.conditions))
        if gates and not sensor.tasks:  # nothing to guard: the gates stay in the sensor's box
            node = graph.nodes.pop()
            extra = tuple(Badge("Metric", g.name, g.condition) for g in gates)
            graph.nodes.append(Node(sid, "sensor", sensor.name, "sensor", badges=node.badges + extra))
        for n, step in enumerate(sensor.tasks, start=1):
            guard = gates if n == 1 else ()
            if step.deployer is None:
                assert step.task is not None
                graph.edges.append(Edge(sid, to_task(step.task), "step", str(n), guard))
                continue
            deployer = step.deployer
            did = f"deployer/{sensor.name}/{n}"
            lines = tuple(_deployer_lines(axon, deployer))
            graph.nodes.append(Node(did, "deployer", deployer.name or "deployer", "deployer", lines))
            graph.edges.append(Edge(sid, did, "step", str(n), guard))
            for model in deployer.models:
                for backend in model.backend_models:
                    served, trained = to_task(backend.deployer), to_task(backend.trainer)
                    _add_backend_edge(graph, Edge(did, served, "serves", "serves", (), (backend.name,)))
                    _add_backend_edge(graph, Edge(trained, did, "model", "versions for", (), (backend.name,)))
    return graph
