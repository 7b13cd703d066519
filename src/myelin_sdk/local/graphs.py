"""Model graphs of the local router: every route of a deployer, each a DAG over the models of one version.

A deployer's ``routes`` (``/predict``, ``/predict1``, ``/send-feedback``, ...) each become a :class:`Graph`
of :class:`Step` s (in dependency order, the final model last), checked at start (:func:`route_problems`)
and executed by :mod:`.graph_router` per request, on the :class:`~myelin_sdk.local.router.Router`::

    problems = route_problems(deployer, "deployer")  # [] when every route can be served
    graphs = graphs_of(deployer)          # {"/predict": Graph(...), "/api/v1.0/predictions": <same>, ...}
    router = Router("DeployModel3", graphs=graphs)

A deployer without ``routes`` serves ``/predict`` and ``/send-feedback`` of its one model
(:func:`default_graphs`); each of Seldon's paths (:data:`ALIASES`) serves the same graph as its route path.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from ..errors import Diagnostic
from ..runtime.graph import INPUT
from ..spec import Deployer

__all__ = ["ALIASES", "Graph", "Step", "default_graphs", "graphs_of", "route_problems"]

#: Seldon's paths and the route paths they stand for (either form serves both).
ALIASES = {"/api/v1.0/predictions": "/predict", "/api/v1.0/feedback": "/send-feedback"}
FEEDBACK_ROUTES = ("/send-feedback", "/api/v1.0/feedback")


@dataclass(frozen=True)
class Step:
    """A DAG entry: call ``model`` after its ``dependencies`` (at ``full_path`` for an external model)."""

    model: str
    dependencies: tuple[str, ...] = ()
    include_input: bool = False
    path: str | None = None  # the path on a custom server (default /predict or /send-feedback)
    full_path: str | None = None  # an external model's URL


@dataclass(frozen=True)
class Graph:
    """A route: its path and its steps in dependency order (the final model last)."""

    path: str
    steps: tuple[Step, ...]

    @property
    def kind(self) -> str:
        return "feedback" if self.path in FEEDBACK_ROUTES else "predict"

    @property
    def final(self) -> str:
        return self.steps[-1].model

    @property
    def models(self) -> list[str]:
        return [s.model for s in self.steps]


def _order(steps: list[Step]) -> list[Step] | None:
    """``steps`` in dependency order with the final one last (None with a cycle): a depth-first order."""
    by_model = {s.model: s for s in steps}
    done: dict[str, bool] = {}  # False: in progress
    out: list[Step] = []

    def visit(step: Step) -> bool:
        if step.model in done:
            return done[step.model]
        done[step.model] = False
        for dep in step.dependencies:
            if dep in by_model and not visit(by_model[dep]):
                return False
        done[step.model] = True
        out.append(step)
        return True

    depended = {d for s in steps for d in s.dependencies}
    for step in [s for s in steps if s.model not in depended] + steps:
        if not visit(step):
            return None
    return out


def _steps(deployer: Deployer, k: int) -> list[Step]:
    route = deployer.routes[k]
    return [
        Step(
            model=str(node.model or node.task or ""),
            dependencies=tuple(node.dependencies),
            include_input=bool(node.include_input),
            path=node.path,
            full_path=node.full_path,
        )
        for node in route.dag
    ]


def default_graphs(model: str) -> dict[str, Graph]:
    """The routes of a deployer without ``routes``: ``/predict`` and ``/send-feedback`` of its one model."""
    graphs = {}
    for path in ("/predict", "/send-feedback"):
        graphs[path] = Graph(path, (Step(model, path=path),))
    for alias, path in ALIASES.items():
        graphs[alias] = graphs[path]
    return graphs


def route_problems(deployer: Deployer, where: str) -> list[Diagnostic]:
    """What makes a deployer's routes unservable: unknown models, duplicate entries or routes, dependencies
    not in the dag, cycles, a predict route without exactly one final model, a model named ``INPUT``."""
    problems: list[Diagnostic] = []
    models = [m.name for m in deployer.models]
    if not deployer.routes:
        problems.append(
            Diagnostic(f"{where}.routes", f"a deployer with {len(models)} models needs routes (each a dag)")
        )
    seen_paths: dict[str, int] = {}
    for k, route in enumerate(deployer.routes):
        at = f"{where}.routes[{k}]"
        path = ALIASES.get(route.path, route.path)
        if path in seen_paths:
            problems.append(
                Diagnostic(
                    f"{at}.path", f"route {route.path} is already served by routes[{seen_paths[path]}]"
                )
            )
        seen_paths.setdefault(path, k)
        steps = _steps(deployer, k)
        entries: dict[str, int] = {}
        for i, (node, step) in enumerate(zip(route.dag, steps, strict=True)):
            if node.model is None:
                problems.append(
                    Diagnostic(f"{at}.dag[{i}].task", f"no model of this deployer: {node.task!r}")
                )
                continue
            if step.model in entries:
                problems.append(
                    Diagnostic(
                        f"{at}.dag[{i}].model", f"{step.model!r} is already dag[{entries[step.model]}]"
                    )
                )
            entries.setdefault(step.model, i)
            if step.model == INPUT:
                problems.append(Diagnostic(f"{at}.dag[{i}].model", f"{INPUT!r} names the route's input"))
            if step.full_path is not None:
                parsed = urllib.parse.urlsplit(step.full_path)
                if parsed.scheme not in ("http", "https") or not parsed.hostname:
                    problems.append(
                        Diagnostic(f"{at}.dag[{i}].fullPath", f"not an http(s) URL: {step.full_path!r}")
                    )
            elif step.model not in models:
                problems.append(
                    Diagnostic(
                        f"{at}.dag[{i}].model",
                        f"unknown model {step.model!r}: this deployer's models are {', '.join(models)} "
                        "(an external model needs fullPath)",
                    )
                )
        if any(p.path.startswith(f"{at}.dag") for p in problems):
            continue
        for i, step in enumerate(steps):
            for j, dep in enumerate(step.dependencies):
                if dep not in entries:
                    problems.append(
                        Diagnostic(
                            f"{at}.dag[{i}].dependencies[{j}]",
                            f"{dep!r} is not an entry of this dag ({', '.join(entries)})",
                        )
                    )
                elif dep == step.model:
                    problems.append(
                        Diagnostic(f"{at}.dag[{i}].dependencies[{j}]", "a model cannot feed itself")
                    )
        if any(p.path.startswith(f"{at}.dag") for p in problems):
            continue
        if _order(steps) is None:
            problems.append(Diagnostic(f"{at}.dag", "the dependencies form a cycle"))
            continue
        depended = {d for s in steps for d in s.dependencies}
        finals = [s.model for s in steps if s.model not in depended]
        if route.path not in FEEDBACK_ROUTES and len(finals) != 1:
            problems.append(
                Diagnostic(
                    f"{at}.dag",
                    f"a route answers with one final model (one no other model depends on); "
                    f"this dag has {len(finals)}: {', '.join(finals)}",
                )
            )
    return problems


def graphs_of(deployer: Deployer) -> dict[str, Graph]:
    """The routes of a (checked) deployer by path, each also under its Seldon alias."""
    graphs: dict[str, Graph] = {}
    for k, route in enumerate(deployer.routes):
        ordered = _order(_steps(deployer, k))
        if ordered is None:
            raise ValueError(f"route {route.path}: the dependencies form a cycle")
        path = ALIASES.get(route.path, route.path)
        graph = Graph(path, tuple(ordered))
        graphs.setdefault(path, graph)
        for alias, target in ALIASES.items():
            if target == path:
                graphs.setdefault(alias, graph)
    return graphs
