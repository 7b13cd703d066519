"""One predict route's DAG -> a Seldon inference graph (the contract of :mod:`myelin_sdk.runtime.graph`).

* a Seldon-class model without dependencies -> a ``MODEL`` node run by its own container (a chain of
  ``RANDOM_ABTEST`` nodes when it routes between backend models);
* a model with dependencies -> a graph-node ``COMBINER`` named after the model: its children are its
  dependencies (a model feeding several others is repeated, under a unique node name) and, with
  ``includeInput``, an identity graph node ``<model>-input``; it POSTs the features object to the model's
  own server, a second container of its pod (or to ``fullPath`` for an external model); a model routing
  between backends gets one COMBINER per backend (named after it) under ``RANDOM_ABTEST`` nodes;
* a custom (Dockerfile-built) server or an external model (``fullPath``) without dependencies -> a
  graph-node ``MODEL`` forwarding the request (form field ``json``) to it;
* when the route's graph also serves the feedback route, a Seldon-class model that must not get the feedback
  (not named by the feedback route, or a repeated occurrence) is wrapped in a forwarding graph node, which
  keeps the feedback; the named ones get it (graph nodes forward it to their server).
"""

from __future__ import annotations

from ...names import dns_label
from ...runtime.graph import INPUT
from ...spec import BackendModel, DagNode, Route, Task
from .nodes import (
    GraphNode,
    Node,
    Sidecar,
    Unit,
    abtest_chain,
    container_nodes,
    is_custom_server,
    unique,
)
from .plan import Planner
from .versions import FEEDBACK_PATHS, PREDICT_PATHS

__all__ = ["GraphBuilder"]

_SELDON_PREDICT = "/api/v1.0/predictions"
_SELDON_FEEDBACK = "/api/v1.0/feedback"
_Entries = dict[str, tuple[int, DagNode]]


class GraphBuilder:
    """Builds the graph of route ``k``; ``feedback`` is the feedback route when it goes through this graph."""

    def __init__(self, planner: Planner, k: int, route: Route, feedback: tuple[int, Route] | None) -> None:
        self.p = planner
        self.route = route
        self.rpath = f"{planner.where}.routes[{k}]"
        self.feedback = feedback
        self.fed: _Entries | None = None  # the models the feedback route names (None: no feedback here)
        self.names: list[str] = []
        self.placed: set[str] = set()

    # --- the route

    def build(self) -> Node | None:
        entries = self.p.entries(self.route, self.rpath)
        if entries is None:
            return None
        if self.feedback is not None:
            self.fed = self.feedback_entries(entries)
            if self.fed is None:
                return None
        depended: set[str] = set()
        ok = True
        for _model, (i, node) in entries.items():
            for j, dep in enumerate(node.dependencies):
                if dep not in entries:
                    self.p.error(
                        f"{self.rpath}.dag[{i}].dependencies[{j}]",
                        f"dependency {dep!r} is not an entry of this route's dag",
                    )
                    ok = False
                depended.add(dep)
        if not ok:
            return None
        finals = [model for model in entries if model not in depended]
        if len(finals) != 1:
            names = ", ".join(repr(m) for m in finals) or "none (a cycle)"
            self.p.cannot_map(
                f"{self.rpath}.dag",
                f"the DAG has {len(finals)} final models ({names}): a route answers with the answer of one "
                f"model, so exactly one model must depend, directly or not, on all the others",
            )
            return None
        reached: set[str] = set()
        graph = self.model_node(finals[0], entries, reached, ())
        if graph is not None and reached != set(entries):
            loop = ", ".join(repr(m) for m in entries if m not in reached)
            self.p.cannot_map(f"{self.rpath}.dag", f"models {loop} depend on each other in a cycle")
            return None
        if graph is not None:
            kinds = sorted({n.endpoint for n in container_nodes(graph)})
            if len(kinds) > 1:
                self.p.cannot_map(
                    self.rpath,
                    f"deploy tasks of this graph use endpoint types {', '.join(kinds)} (graph nodes: REST): "
                    f"Seldon Core allows one endpoint type per graph",
                )
                return None
        return graph

    def feedback_entries(self, entries: _Entries) -> _Entries | None:
        """The feedback route's entries by model, checked against this graph's entries."""
        assert self.feedback is not None
        k, route = self.feedback
        fpath = f"{self.p.where}.routes[{k}]"
        fed = self.p.entries(route, fpath)
        if fed is None:
            return None
        ok = True
        for model, (i, node) in fed.items():
            if node.dependencies:
                self.p.cannot_map(
                    f"{fpath}.dag[{i}].dependencies",
                    "a feedback route cannot have dependencies: Seldon sends feedback down the predict graph",
                )
                ok = False
            elif model not in entries:
                self.p.cannot_map(
                    f"{fpath}.dag[{i}].model",
                    f"model {model!r} is not in the graph of route {self.route.path!r}: Seldon sends the "
                    f"feedback through that graph",
                )
                ok = False
            elif entries[model][1].dependencies:
                self.p.cannot_map(
                    f"{fpath}.dag[{i}].model",
                    f"model {model!r} has dependencies in route {self.route.path!r}: Seldon sends no "
                    f"feedback to a COMBINER node",
                )
                ok = False
        return fed if ok else None

    # --- nodes

    def model_node(
        self, name: str, entries: _Entries, reached: set[str], stack: tuple[str, ...]
    ) -> Node | None:
        if name in stack:
            self.p.cannot_map(f"{self.rpath}.dag", f"models {', '.join(repr(m) for m in stack)} form a cycle")
            return None
        reached.add(name)
        i, node = entries[name]
        npath = f"{self.rpath}.dag[{i}]"
        first = name not in self.placed
        self.placed.add(name)
        if node.dependencies:
            return self.combiner(name, node, npath, entries, reached, (*stack, name))
        if node.full_path is not None:
            protocol = self.external_protocol(node, npath)
            if protocol is None:
                return None
            feedback = self.feedback_url(name, None, first)
            return GraphNode(
                unique(self.names, dns_label(name)),
                name,
                "forward",
                node.full_path,
                protocol,
                feedback=feedback,
            )
        mi, model = self.p.models[name]
        mpath = f"{self.p.where}.models[{mi}]"
        weighted = self.p.backend_shares(model, mpath)
        if weighted is None:
            return None
        units: list[tuple[Node, int]] = []
        for backend, weight in weighted:
            task = self.p.deploy_task(model, backend, mpath)
            if task is None:
                return None
            unit = self.leaf(name, node, npath, backend, task, first)
            if unit is None:
                return None
            units.append((unit, weight))
        return abtest_chain(self.names, name, units)

    def leaf(
        self, name: str, node: DagNode, npath: str, backend: BackendModel, task: Task, first: bool
    ) -> Node | None:
        """A backend of a model without dependencies: its own MODEL node, or a forwarding graph node."""
        base = dns_label(backend.name)
        custom = is_custom_server(task)
        if not custom and not self.check_seldon_path(name, node, npath):
            return None
        if not custom and (self.fed is None or (name in self.fed and first)):
            if self.fed is not None:
                self.check_feedback_path(name)
            endpoint = task.deploy.endpoint_type if task.deploy is not None else None
            return Unit(unique(self.names, base), name, backend, task, endpoint or "REST")
        sidecar = self.sidecar(backend, task)
        if sidecar is None:
            return None
        path = (node.path or "/predict") if custom else _SELDON_PREDICT
        return GraphNode(
            unique(self.names, base),
            name,
            "forward",
            sidecar.url(path),
            "custom" if custom else "seldon",
            feedback=self.feedback_url(name, sidecar, first),
            sidecar=sidecar,
        )

    def combiner(
        self,
        name: str,
        node: DagNode,
        npath: str,
        entries: _Entries,
        reached: set[str],
        stack: tuple[str, ...],
    ) -> Node | None:
        """A graph-node COMBINER; a model routing between backends gets one per backend (each with its own
        copy of the dependencies), under RANDOM_ABTEST nodes."""
        if INPUT in node.dependencies:
            self.p.error(f"{npath}.dependencies", f"a model named {INPUT!r} would hide the route's input")
            return None
        names = (*node.dependencies, *((INPUT,) if node.include_input else ()))
        if node.full_path is not None:
            protocol = self.external_protocol(node, npath)
            own = unique(self.names, dns_label(name))
            children = self.inputs(name, node, entries, reached, stack)
            if protocol is None or children is None:
                return None
            return GraphNode(own, name, "combine", node.full_path, protocol, names, children=children)
        mi, model = self.p.models[name]
        mpath = f"{self.p.where}.models[{mi}]"
        weighted = self.p.backend_shares(model, mpath)
        if weighted is None:
            return None
        placed = set(self.placed)
        units: list[tuple[Node, int]] = []
        for backend, weight in weighted:
            self.placed = set(placed)  # one branch runs per request: each gets its own feedback
            task = self.p.deploy_task(model, backend, mpath)
            sidecar = self.sidecar(backend, task) if task is not None else None
            if sidecar is None:
                return None
            if sidecar.custom:
                target, protocol = sidecar.url(node.path or "/predict"), "custom"
            elif self.check_seldon_path(name, node, npath):
                target, protocol = sidecar.url(_SELDON_PREDICT), "seldon"
            else:
                return None
            base = dns_label(name) if len(weighted) == 1 else dns_label(backend.name)
            own = unique(self.names, base)
            children = self.inputs(name, node, entries, reached, stack)
            if children is None:
                return None
            combiner = GraphNode(
                own, name, "combine", target, protocol, names, sidecar=sidecar, children=children
            )
            units.append((combiner, weight))
        return abtest_chain(self.names, name, units)

    def inputs(
        self, name: str, node: DagNode, entries: _Entries, reached: set[str], stack: tuple[str, ...]
    ) -> tuple[Node, ...] | None:
        """A combiner's children: its dependencies, then the identity node with ``includeInput``."""
        children: list[Node] = []
        for dep in node.dependencies:
            child = self.model_node(dep, entries, reached, stack)
            if child is None:
                return None
            children.append(child)
        if node.include_input:
            children.append(GraphNode(unique(self.names, dns_label(name, "input")), name, "identity"))
        return tuple(children)

    # --- helpers

    def sidecar(self, backend: BackendModel, task: Task) -> Sidecar | None:
        if task.deploy is not None and task.deploy.endpoint_type == "GRPC":
            index = next(i for i, t in enumerate(self.p.axon.tasks) if t is task)
            self.p.cannot_map(
                f"spec.tasks[{index}].deploy.endpointType",
                f"deploy task {task.name!r} serves gRPC, but the graph node in front of it calls it "
                f"over REST",
            )
            return None
        return Sidecar(backend, task, is_custom_server(task))

    def check_seldon_path(self, name: str, node: DagNode, npath: str) -> bool:
        if node.path is not None and node.path not in PREDICT_PATHS:
            self.p.cannot_map(
                f"{npath}.path",
                f"calling model {name!r} at {node.path!r} cannot map to Seldon Core: in route "
                f"{self.route.path!r} Seldon calls {PREDICT_PATHS[0]!r} of a Seldon class",
            )
            return False
        return True

    def external_protocol(self, node: DagNode, npath: str) -> str | None:
        if node.endpoint_rest_type not in (None, "Multipart"):
            self.p.cannot_map(
                f"{npath}.endpointRestType",
                f"external model {node.model!r}: only Multipart (form field json) is supported, "
                f"not {node.endpoint_rest_type!r}",
            )
            return None
        return "custom"

    def feedback_url(self, name: str, sidecar: Sidecar | None, first: bool) -> str | None:
        """Where a graph node forwards the feedback of model ``name`` (None: it keeps it)."""
        if self.fed is None or name not in self.fed or not first:
            return None
        i, entry = self.fed[name]
        assert self.feedback is not None
        epath = f"{self.p.where}.routes[{self.feedback[0]}].dag[{i}]"
        if sidecar is None:  # an external model: the feedback route gives its URL
            if entry.full_path is None:
                self.p.cannot_map(
                    f"{epath}.fullPath",
                    f"model {name!r} is external: the feedback route must give its feedback URL (fullPath)",
                )
            return entry.full_path
        if sidecar.custom:
            return sidecar.url(entry.path or "/send-feedback")
        self.check_feedback_path(name)
        return sidecar.url(_SELDON_FEEDBACK)

    def check_feedback_path(self, name: str) -> None:
        """A Seldon class gets its feedback at ``/api/v1.0/feedback``: the feedback entry's ``path`` must
        be a feedback path."""
        assert self.fed is not None and self.feedback is not None
        i, entry = self.fed[name]
        if entry.path is not None and entry.path not in FEEDBACK_PATHS:
            self.p.cannot_map(
                f"{self.p.where}.routes[{self.feedback[0]}].dag[{i}].path",
                f"calling model {name!r} at {entry.path!r} cannot map to Seldon Core: in route "
                f"{self.feedback[1].path!r} Seldon calls {FEEDBACK_PATHS[0]!r} of a Seldon class",
            )
