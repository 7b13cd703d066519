"""A deployer -> a version-independent plan: the predictors (rollout) and one graph per predict route.

Every problem is collected before failing: errors (a reference that does not resolve) raise
:class:`~myelin_sdk.errors.MyelinError`, what cannot map to Seldon Core an ``UnsupportedError``; both name
the field. The graphs themselves are built by :mod:`.graph`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import Diagnostic, MyelinError, UnsupportedError
from ...names import dns_label
from ...spec import Axon, BackendModel, DagNode, Deployer, Model, Route, Task
from ...traffic import deployer_destinations, version_shares
from ..storage import store_volume
from .nodes import Node
from .versions import FEEDBACK_PATHS, PREDICT_PATHS, route_suffix

__all__ = ["Plan", "Planner", "RoutePlan", "Slot"]


@dataclass(frozen=True)
class Slot:
    """A predictor to build: the version at ``index``; ``traffic`` None for the shadow."""

    index: int
    traffic: int | None


@dataclass(frozen=True)
class RoutePlan:
    """One predict route: its SeldonDeployment's name ``suffix`` (None: the deployer's main one)."""

    path: str
    suffix: str | None
    graph: Node


@dataclass(frozen=True)
class Plan:
    routes: tuple[RoutePlan, ...]
    slots: tuple[Slot, ...]
    volume: dict[str, Any]
    #: Whether the deployer's SeldonDeployments carry the route annotation and label (several routes).
    multi_route: bool


class Planner:
    """Turns a deployer into a :class:`Plan`, collecting every problem before failing."""

    def __init__(self, axon: Axon, deployer: Deployer, where: str) -> None:
        self.axon = axon
        self.deployer = deployer
        self.where = where
        self.errors: list[Diagnostic] = []
        self.unsupported: list[Diagnostic] = []
        self.models: dict[str, tuple[int, Model]] = {}
        for i, model in enumerate(deployer.models):
            self.models.setdefault(model.name, (i, model))

    # --- reporting

    def error(self, path: str, message: str) -> None:
        self.errors.append(Diagnostic(path, message))

    def cannot_map(self, path: str, message: str) -> None:
        self.unsupported.append(Diagnostic(path, message))

    def fail_if_problems(self) -> None:
        if self.errors:
            raise MyelinError([*self.errors, *self.unsupported])
        if self.unsupported:
            raise UnsupportedError(self.unsupported)

    # --- the whole plan

    def plan(self, count: int) -> Plan:
        if not self.check_backend_names():
            self.fail_if_problems()  # the graphs below are named after backend models
        volume = store_volume(self.axon)
        if volume is None:
            self.error(
                self.where,
                "a Seldon deployment needs the axon's shared volume (volume or volumeClaimTemplate): "
                "the served model versions are read from it",
            )
        slots = self.rollout(count)
        routes = self.routes()
        self.fail_if_problems()
        assert routes is not None and volume is not None
        return Plan(routes=tuple(routes), slots=tuple(slots), volume=volume, multi_route=len(routes) > 1)

    def check_backend_names(self) -> bool:
        """Backend model names key the versions and name containers: they must be unique in the deployer.
        False when one cannot be made into a container name at all."""
        seen: dict[str, str] = {}
        nameable = True
        containers: dict[str, str] = {}
        for i, model in enumerate(self.deployer.models):
            for j, backend in enumerate(model.backend_models):
                bpath = f"{self.where}.models[{i}].backendModels[{j}].name"
                if backend.name in seen and seen[backend.name] != model.name:
                    self.error(
                        bpath,
                        f"backend model {backend.name!r} is also a backend of model {seen[backend.name]!r}: "
                        f"the Seldon mapping names containers and versions after backend models, so their "
                        f"names must be unique in the deployer",
                    )
                    continue
                seen[backend.name] = model.name
                try:
                    container = dns_label(backend.name)
                except ValueError as exc:  # no letter or digit to make a Kubernetes name of
                    self.error(bpath, f"backend model {backend.name!r} cannot name a container: {exc}")
                    nameable = False
                    continue
                if containers.setdefault(container, backend.name) != backend.name:
                    self.error(
                        bpath,
                        f"backend models {containers[container]!r} and {backend.name!r} both give the "
                        f"container name {container!r}: rename one",
                    )
        return nameable

    # --- rollout

    def rollout(self, count: int) -> list[Slot]:
        """The predictors: (version index, traffic) pairs, then the shadow."""
        steps = self.deployer.rollout_spec
        rpath = f"{self.where}.rolloutSpec"
        shadow: int | None = None
        if not steps:
            destinations = deployer_destinations(self.axon, self.deployer)
        else:
            if len(steps) > 1:
                self.cannot_map(
                    f"{rpath}[1]",
                    "more than one rollout step cannot map to Seldon Core: a SeldonDeployment splits traffic "
                    "between its predictors by one set of weights",
                )
            step = steps[0]
            if step.match:
                self.cannot_map(
                    f"{rpath}[0].match",
                    "a rollout match cannot map to Seldon Core: predictors get traffic by weight only",
                )
            destinations = [(d.destination_index, d.weight) for d in step.destinations]
            seen: set[int] = set()
            for k, (index, _) in enumerate(destinations):
                if index in seen:
                    self.error(
                        f"{rpath}[0].destinations[{k}].destinationIndex",
                        f"destinationIndex {index} appears twice: each version can serve at most once",
                    )
                seen.add(index)
            if step.shadow is not None:
                shadow = step.shadow.destination_index
                if shadow in seen:
                    self.error(
                        f"{rpath}[0].shadow.destinationIndex",
                        f"version {shadow} already receives traffic: it cannot also be the shadow",
                    )
        slots = [Slot(index, share) for index, share in version_shares(destinations, count)]
        if shadow is not None and shadow < count and all(s.index != shadow for s in slots):
            slots.append(Slot(shadow, None))
        return slots

    def task(self, name: str) -> Task | None:
        try:
            return self.axon.task(name)
        except KeyError:
            return None

    # --- routes

    def routes(self) -> list[RoutePlan] | None:
        """One graph per predict route (the main one first); the feedback route is checked against the
        graph of the main route, the one Seldon sends it through."""
        from .graph import GraphBuilder

        predicts: list[tuple[int, Route]] = []
        feedback: tuple[int, Route] | None = None
        suffixes: dict[str | None, int] = {}
        for k, route in enumerate(self.deployer.routes):
            rpath = f"{self.where}.routes[{k}]"
            if route.path in FEEDBACK_PATHS:
                if feedback is not None:
                    self.error(f"{rpath}.path", f"a second feedback route (first: routes[{feedback[0]}])")
                else:
                    feedback = (k, route)
                continue
            try:
                suffix = route_suffix(route.path)
            except ValueError:
                self.error(f"{rpath}.path", f"route {route.path!r} has no letter or digit to name it by")
                continue
            if suffix in suffixes:
                first = self.deployer.routes[suffixes[suffix]].path
                self.error(
                    f"{rpath}.path",
                    f"route {route.path!r} is served by the same SeldonDeployment as {first!r} "
                    f"(routes[{suffixes[suffix]}]): their names collide",
                )
                continue
            suffixes[suffix] = k
            predicts.append((k, route))
        if not predicts:
            self.error(
                f"{self.where}.routes",
                "no predict route (/predict, /predict1, ...): a Seldon deployment serves a predict graph",
            )
            return None
        predicts.sort(key=lambda kr: kr[1].path not in PREDICT_PATHS)  # the main route first, else in order
        fed: tuple[int, Route] | None = None
        if feedback is not None:
            if predicts[0][1].path in PREDICT_PATHS or len(predicts) == 1:
                fed = predicts[0]
            else:
                self.cannot_map(
                    f"{self.where}.routes[{feedback[0]}]",
                    "Seldon sends feedback through the graph of /predict (or of the only predict route), "
                    "and this deployer has neither",
                )
        out: list[RoutePlan] = []
        for k, route in predicts:
            with_feedback = feedback if fed is not None and fed[0] == k else None
            graph = GraphBuilder(self, k, route, with_feedback).build()
            if graph is not None:
                out.append(RoutePlan(route.path, route_suffix(route.path), graph))
        return out if len(out) == len(predicts) else None

    def entries(self, route: Route, rpath: str) -> dict[str, tuple[int, DagNode]] | None:
        """The route's DAG entries by model (with their index), or None when one cannot be used."""
        entries: dict[str, tuple[int, DagNode]] = {}
        ok = True
        for i, node in enumerate(route.dag):
            npath = f"{rpath}.dag[{i}]"
            if node.model is None:
                self.error(f"{npath}.task", f"no model of this deployer is served by task {node.task!r}")
                ok = False
                continue
            if node.full_path is None:
                if node.health_path is not None:
                    self.error(f"{npath}.healthPath", "healthPath is for external models: give fullPath too")
                    ok = False
                if node.model not in self.models:
                    self.error(f"{npath}.model", f"no model {node.model!r} in this deployer")
                    ok = False
                    continue
            if node.model in entries:
                self.error(f"{npath}.model", f"model {node.model!r} appears twice in this DAG")
                ok = False
                continue
            if node.dependency is not None and node.dependency not in PREDICT_PATHS:
                self.cannot_map(
                    f"{npath}.dependency",
                    f"dependency path {node.dependency!r} cannot map to Seldon Core: dependencies are "
                    f"called at /predict",
                )
                ok = False
            entries[node.model] = (i, node)
        return entries if ok else None

    def backend_shares(self, model: Model, mpath: str) -> list[tuple[BackendModel, int]] | None:
        """The backends that get traffic, with their weights, in ``routingStrategy`` order."""
        backends = {b.name: b for b in model.backend_models}
        if len(model.routing_strategy) > 1:
            self.cannot_map(
                f"{mpath}.routingStrategy[1]",
                "more than one routing step cannot map to Seldon Core: a model routes by one set of weights",
            )
            return None
        if not model.routing_strategy:
            # no weights given: the backend models share the traffic equally
            return [(b, 1) for b in model.backend_models]
        out: list[tuple[BackendModel, int]] = []
        for k, dest in enumerate(model.routing_strategy[0].destinations):
            dpath = f"{mpath}.routingStrategy[0].destinations[{k}].destinationName"
            backend = backends.get(dest.destination_name)
            if backend is None:
                self.error(dpath, f"no backend model {dest.destination_name!r} in model {model.name!r}")
                return None
            if any(b.name == backend.name for b, _ in out):
                self.error(dpath, f"backend model {backend.name!r} is listed twice")
                return None
            if dest.weight > 0:
                out.append((backend, dest.weight))
        if not out:
            self.error(f"{mpath}.routingStrategy[0]", f"no backend model of {model.name!r} gets traffic")
            return None
        return out

    def deploy_task(self, model: Model, backend: BackendModel, mpath: str) -> Task | None:
        """The deploy task serving ``backend`` (None, with an error, when a reference does not resolve)."""
        j = next(k for k, b in enumerate(model.backend_models) if b is backend)
        bpath = f"{mpath}.backendModels[{j}]"
        task = self.task(backend.deployer)
        if task is None or task.deploy is None:
            self.error(f"{bpath}.deployer", f"no deploy task {backend.deployer!r}")
            return None
        if self.task(backend.trainer) is None:
            self.error(f"{bpath}.trainer", f"no train task {backend.trainer!r}")
            return None
        return task
