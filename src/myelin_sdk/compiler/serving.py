"""Deployers -> one Seldon Core v1 ``SeldonDeployment`` (``machinelearning.seldon.io/v1``) per deployer.

A deploy step selects the best trained version of every backend model and applies the manifest built here
for the versions of the graph that serve: ``versions[0]`` is the newest (just selected), ``versions[1]`` the
one that served before it, and so on; ``rolloutSpec`` ``destinationIndex`` indexes this list::

    new = GraphVersion({"BackendRecommender": "20190706-1200"}, label="v7")
    old = GraphVersion({"BackendRecommender": "20190705-0900"}, label="v6")
    manifest = seldon_deployment(axon, deployer, [new, old], CompileOptions(namespace="ml"))
    # rolloutSpec 0:50, 1:50 -> predictors "v7" (traffic 50) and "v6" (traffic 50)

The functions are pure and deterministic (same input, same dict). No Seldon operator can run on the machines
this SDK is tested on: the tests check every document against the upstream CRD (strict), replay the
operator's admission checks (``seldondeployment_webhook.go``) and evaluate the graphs with the executor's
routing rules.

Mapping
-------

| Axon | SeldonDeployment |
|---|---|
| deployer ``name`` (default ``deployer``) | ``metadata.name`` ``<axon>-<deployer>`` (DNS-1123, at most 63) |
| one version of the graph (:class:`GraphVersion`) | one predictor, named after the version's ``label`` |
| ``rolloutSpec[0].destinations[]`` | predictors, ``traffic`` = the destination's ``weight`` |
| ``rolloutSpec[0].shadow`` | a predictor with ``shadow: true`` (a copy of the traffic, no ``traffic``) |
| no ``rolloutSpec`` | ``0:100``; legacy ``deploymentType: canary`` (deployer or deploy task): |
| | ``0:50, 1:50`` |
| model with one backend model | a ``MODEL`` node |
| model with two backend models | a ``RANDOM_ABTEST`` node, ``ratioA`` = first weight / 100, two |
| | ``MODEL`` children in ``routingStrategy`` order |
| model with n > 2 backend models | a chain of ``RANDOM_ABTEST`` nodes: level k sends |
| | ``w_k / (w_k + ... + w_n)`` to backend k and the rest down the chain, |
| | so backend k gets exactly ``w_k / 100`` of the predictor's traffic |
| DAG entry with ``dependencies`` | a ``COMBINER`` node (its model), children = its dependencies in order |
| backend model (trainer, deploy task) | a container named like its graph node, one ``componentSpec`` each: |
| | the deploy task's image, ``env`` (the runtime contract with |
| | ``MODEL_PATH`` = ``<store>/models/<trainer>/<version>/``, then the |
| | task's own), ``resources``, ``nodeSelector``, the store at ``/axon-store`` |
| deployer ``replicas`` | ``predictors[].replicas``; without it a deploy task's legacy ``replicas`` |
| | becomes its ``componentSpecs[].replicas`` |
| route ``/predict`` | the predictor graph, served at ``/api/v1.0/predictions`` |
| route ``/send-feedback`` | ``/api/v1.0/feedback``, through the same graph |
| deploy task ``endpointType`` | ``endpoint.type`` of its node (default ``REST``); ``spec.protocol: seldon`` |

Traffic. The weights of ``rolloutSpec[0].destinations`` whose ``destinationIndex`` has a version are scaled
to sum to exactly 100 (largest remainders, ties to the earlier destination), so the weight of a version that
does not exist yet goes to the ones that do: on a first deploy ``0:50, 1:50`` is one predictor at 100. When
no destination has a version (``1:80, 2:20`` with only a newest version) the newest serves 100, and a shadow
of that same version is left out (Seldon refuses a shadow as the only predictor). Destinations of weight 0
stay, with ``traffic: 0``. Versions no destination names are not deployed. Predictors are named after the
version label, not the index: when a new version arrives, the predictor of the one serving keeps its name
and Seldon does not recreate its pods.

Routes. A SeldonDeployment serves one graph: ``/api/v1.0/predictions`` runs it and ``/api/v1.0/feedback``
sends a feedback message through it. So the Axon's ``/predict`` (or ``/api/v1.0/predictions``) route is the
graph, and ``/send-feedback`` (or ``/api/v1.0/feedback``) maps onto Seldon's feedback endpoint. Any other
route path (``/predict1``) would need a SeldonDeployment of its own: not supported yet, a clear error.

Graph semantics, from the Seldon Core 1.x executor (``executor/predictor/predictor_process.go``):

* ``RANDOM_ABTEST`` is an implementation the executor runs itself: it reads ``ratioA`` (the only parameter,
  type ``FLOAT``) and sends a request to child 0 with probability ``ratioA``, else to child 1. Its node has
  no ``type``: a node of ``type: ROUTER`` is routed by calling a router *container*, and there is none (the
  executor's own AB test builds the node this way; the operator leaves ``type`` unset when an
  ``implementation`` is given). It needs no container.
* A ``COMBINER`` node is not called on the way in: its children all get the request, then the executor calls
  the combiner container's ``aggregate`` with the list of their answers. So the model of a DAG entry with
  ``dependencies`` must implement Seldon's ``aggregate(features_list, names_list)`` (its dependencies'
  outputs, in ``dependencies`` order), not the ``predict(features_dict)`` keyed by model name that the
  original Myelin proxy called.
* Feedback follows ``response.meta.routing`` of the answer sent back in the feedback message (without it, a
  router sends the feedback to both children) and reaches every ``MODEL`` node on the way; combiners get
  none. So a ``/send-feedback`` route must name exactly the models without dependencies of the ``/predict``
  graph.

What cannot map raises :class:`~myelin_sdk.errors.MyelinError` (an ``UnsupportedError``) naming the field:

* ``includeInput: true`` on an entry with dependencies: a Seldon combiner receives only its children's
  answers, never the original request (the ``multi-model-dag`` example's ``DeployModel3`` asks for it, so
  that example does not map);
* a DAG that is not a tree with one final model (a model feeding two others, two final models, a cycle);
* a model with dependencies served by more than one backend model (a combiner cannot also route);
* external models (``fullPath``/``healthPath``): not supported by the Seldon mapping yet;
* more than one ``rolloutSpec`` or ``routingStrategy`` step, or a rollout ``match``: Seldon splits traffic
  between predictors by weight only;
* ``REST`` and ``GRPC`` deploy tasks in one graph (the operator allows one endpoint type per graph);
* an axon without a shared volume: the served versions are read from it.

:func:`first_deploy_review` shows what the first deploy would apply, before any version exists: every
backend model serves the version folder ``latest`` (:data:`REVIEW_VERSION`; the deploy step writes the real
version names) in one predictor labelled ``first`` (:data:`REVIEW_LABEL`).

The served versions are recorded, newest first, in the annotation ``myelin.io/versions`` (JSON), so the next
deploy step can read them back with :func:`served_versions` and put its new version in front.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from .. import contract
from ..config import CompileOptions
from ..errors import Diagnostic, MyelinError, UnsupportedError
from ..names import dns_label
from ..spec import Axon, BackendModel, DagNode, Deployer, Model, Route, Task
from ..traffic import deployer_destinations, version_shares
from .meta import canonical, labels, metadata
from .storage import VOLUME_NAME, store_volume
from .workflows import merge_env, runtime_env, task_image

__all__ = [
    "API_VERSION",
    "FEEDBACK_PATHS",
    "KIND",
    "PREDICT_PATHS",
    "REVIEW_LABEL",
    "REVIEW_VERSION",
    "VERSIONS_ANNOTATION",
    "GraphVersion",
    "deployer_path",
    "first_deploy_review",
    "seldon_deployment",
    "served_versions",
]

API_VERSION = "machinelearning.seldon.io/v1"
KIND = "SeldonDeployment"
#: ``spec.protocol``: the Seldon Core v1 protocol of DESIGN §5 (``{"data": {"ndarray": ...}}``).
PROTOCOL = "seldon"
#: Route paths served by the predictor graph at ``/api/v1.0/predictions``.
PREDICT_PATHS = ("/predict", "/api/v1.0/predictions")
#: Route paths served by ``/api/v1.0/feedback``.
FEEDBACK_PATHS = ("/send-feedback", "/api/v1.0/feedback")
#: The version folder every backend model serves in :func:`first_deploy_review`.
REVIEW_VERSION = "latest"
#: The version label (predictor name) of :func:`first_deploy_review`.
REVIEW_LABEL = "first"
#: Annotation holding the served versions, newest first, as JSON ``[{"label": ..., "models": {...}}]``.
VERSIONS_ANNOTATION = "myelin.io/versions"

_RANDOM_ABTEST = "RANDOM_ABTEST"


# --------------------------------------------------------------------------- versions


@dataclass(frozen=True)
class GraphVersion:
    """One served version of the whole graph: backend model name -> model version name (a folder under that
    backend's trainer ``MODEL_PATH``), and a ``label`` that names the version's predictor.

    >>> GraphVersion({"BackendRecommender": "20190706-1200"}, label="v7").predictor_name
    'v7'
    """

    models: Mapping[str, str]
    label: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", dict(sorted(dict(self.models).items())))
        if not isinstance(self.label, str) or not self.label:
            raise ValueError("a GraphVersion needs a non-empty label")
        dns_label(self.label)  # raises ValueError when nothing DNS-safe is left
        for backend, version in self.models.items():
            if not backend:
                raise ValueError("a backend model name must not be empty")
            if not version or version in (".", "..") or "/" in version or "\0" in version:
                raise ValueError(
                    f"model version {version!r} of backend model {backend!r} is not a folder name "
                    f"(expected a single path component under the trainer's MODEL_PATH)"
                )

    def __hash__(self) -> int:
        return hash((self.label, tuple(self.models.items())))

    @property
    def predictor_name(self) -> str:
        """The name of this version's predictor: the label in DNS-1123 form."""
        return dns_label(self.label)

    @classmethod
    def uniform(cls, deployer: Deployer, version: str, label: str | None = None) -> GraphVersion:
        """Every backend model of ``deployer`` at the same ``version`` (label: the version, by default)."""
        models = {b.name: version for m in deployer.models for b in m.backend_models}
        return cls(models, label=label if label is not None else version)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "models": dict(self.models)}


def served_versions(manifest: Mapping[str, Any]) -> list[GraphVersion]:
    """The versions a SeldonDeployment built here serves, newest first (``[]`` without the annotation)."""
    annotations = manifest.get("metadata", {}).get("annotations", {}) or {}
    text = annotations.get(VERSIONS_ANNOTATION)
    if not text:
        return []
    return [GraphVersion(item["models"], label=item["label"]) for item in json.loads(text)]


# --------------------------------------------------------------------------- the graph plan


@dataclass(frozen=True)
class _Unit:
    """A graph node run by a backend model's container: a ``MODEL`` or, with children, a ``COMBINER``."""

    name: str
    model: str
    backend: BackendModel
    task: Task
    endpoint: str
    children: tuple[_Node, ...] = ()

    @property
    def combiner(self) -> bool:
        return bool(self.children)


@dataclass(frozen=True)
class _ABTest:
    """A ``RANDOM_ABTEST`` node: child 0 with probability ``ratio_a``, else child 1."""

    name: str
    ratio_a: float
    children: tuple[_Node, _Node]


_Node: TypeAlias = "_Unit | _ABTest"


@dataclass(frozen=True)
class _Slot:
    """A predictor to build: the version at ``index``; ``traffic`` None for the shadow."""

    index: int
    traffic: int | None


@dataclass(frozen=True)
class _Plan:
    graph: _Node
    slots: tuple[_Slot, ...]
    volume: dict[str, Any]


def deployer_path(axon: Axon, deployer: Deployer) -> str:
    """The field path of ``deployer`` in ``axon`` (``spec.sensors[1].tasks[0].deployer``), for messages."""
    for i, sensor in enumerate(axon.sensors):
        for j, step in enumerate(sensor.tasks):
            if step.deployer is deployer:
                return f"spec.sensors[{i}].tasks[{j}].deployer"
    return "deployer"


class _Planner:
    """Turns a deployer into a version-independent graph plan, collecting every problem before failing."""

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

    def plan(self, count: int) -> _Plan:
        self.check_backend_names()
        volume = store_volume(self.axon)
        if volume is None:
            self.error(
                self.where,
                "a Seldon deployment needs the axon's shared volume (volume or volumeClaimTemplate): "
                "the served model versions are read from it",
            )
        slots = self.rollout(count)
        graph = self.routes()
        self.fail_if_problems()
        assert graph is not None and volume is not None
        return _Plan(graph=graph, slots=tuple(slots), volume=volume)

    def check_backend_names(self) -> None:
        """Backend model names key the versions and name containers: they must be unique in the deployer."""
        seen: dict[str, str] = {}
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
                container = dns_label(backend.name)
                if containers.setdefault(container, backend.name) != backend.name:
                    self.error(
                        bpath,
                        f"backend models {containers[container]!r} and {backend.name!r} both give the "
                        f"container name {container!r}: rename one",
                    )

    # --- rollout

    def rollout(self, count: int) -> list[_Slot]:
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
        slots = [_Slot(index, share) for index, share in version_shares(destinations, count)]
        if shadow is not None and shadow < count and all(s.index != shadow for s in slots):
            slots.append(_Slot(shadow, None))
        return slots

    def deploy_tasks(self) -> list[Task]:
        out: list[Task] = []
        for model in self.deployer.models:
            for backend in model.backend_models:
                task = self.task(backend.deployer)
                if task is not None and task not in out:
                    out.append(task)
        return out

    def task(self, name: str) -> Task | None:
        try:
            return self.axon.task(name)
        except KeyError:
            return None

    # --- routes

    def routes(self) -> _Node | None:
        predict: tuple[int, Route] | None = None
        feedback: tuple[int, Route] | None = None
        for k, route in enumerate(self.deployer.routes):
            rpath = f"{self.where}.routes[{k}]"
            for i, node in enumerate(route.dag):
                if node.full_path is not None or node.health_path is not None:
                    self.cannot_map(
                        f"{rpath}.dag[{i}].fullPath",
                        f"model {node.model!r} is an external model ({node.full_path or node.health_path}): "
                        f"external models are not supported by the Seldon mapping yet",
                    )
            if route.path in PREDICT_PATHS:
                if predict is not None:
                    self.error(f"{rpath}.path", f"a second predict route (first: routes[{predict[0]}])")
                else:
                    predict = (k, route)
            elif route.path in FEEDBACK_PATHS:
                if feedback is not None:
                    self.error(f"{rpath}.path", f"a second feedback route (first: routes[{feedback[0]}])")
                else:
                    feedback = (k, route)
            else:
                self.cannot_map(
                    f"{rpath}.path",
                    f"route {route.path!r} cannot map to Seldon Core: a SeldonDeployment serves one graph, "
                    f"at /api/v1.0/predictions (the route /predict) with its feedback at /api/v1.0/feedback "
                    f"(/send-feedback); another predict route would need a SeldonDeployment of its own, "
                    f"which is not supported yet",
                )
        if predict is None:
            self.error(
                f"{self.where}.routes", "no /predict route: a Seldon deployment serves the /predict graph"
            )
            return None
        graph = self.predict_graph(*predict)
        if graph is not None and feedback is not None:
            self.check_feedback(graph, *feedback)
        if graph is not None:
            self.check_endpoints(graph, predict[0])
        return graph

    def entries(self, route: Route, rpath: str, allowed_paths: tuple[str, ...]) -> dict[str, DagNode] | None:
        """The route's DAG entries by model, or None when one cannot be used."""
        entries: dict[str, DagNode] = {}
        ok = True
        for i, node in enumerate(route.dag):
            npath = f"{rpath}.dag[{i}]"
            if node.full_path is not None or node.health_path is not None:
                ok = False  # reported in routes()
                continue
            if node.model is None:
                self.error(f"{npath}.task", f"no model of this deployer is served by task {node.task!r}")
                ok = False
                continue
            if node.model not in self.models:
                self.error(f"{npath}.model", f"no model {node.model!r} in this deployer")
                ok = False
                continue
            if node.model in entries:
                self.error(f"{npath}.model", f"model {node.model!r} appears twice in this DAG")
                ok = False
                continue
            if node.path is not None and node.path not in allowed_paths:
                self.cannot_map(
                    f"{npath}.path",
                    f"calling model {node.model!r} at {node.path!r} cannot map to Seldon Core: in route "
                    f"{route.path!r} Seldon calls {allowed_paths[0]!r}",
                )
                ok = False
            if node.dependency is not None and node.dependency not in PREDICT_PATHS:
                self.cannot_map(
                    f"{npath}.dependency",
                    f"dependency path {node.dependency!r} cannot map to Seldon Core: dependencies are "
                    f"called at /predict",
                )
                ok = False
            entries[node.model] = node
        return entries if ok else None

    def predict_graph(self, k: int, route: Route) -> _Node | None:
        rpath = f"{self.where}.routes[{k}]"
        entries = self.entries(route, rpath, PREDICT_PATHS)
        if entries is None:
            return None
        index = {node.model: i for i, node in enumerate(route.dag) if node.model is not None}
        feeds: dict[str, str] = {}
        ok = True
        for model, node in entries.items():
            npath = f"{rpath}.dag[{index[model]}]"
            if node.dependencies and node.include_input:
                self.cannot_map(
                    f"{npath}.includeInput",
                    f"model {model!r} asks for the route's input next to its dependencies' answers: a Seldon "
                    f"COMBINER receives only its children's answers, never the original request",
                )
                ok = False
            for j, dep in enumerate(node.dependencies):
                if dep not in entries:
                    self.error(
                        f"{npath}.dependencies[{j}]",
                        f"dependency {dep!r} is not an entry of this route's dag",
                    )
                    ok = False
                elif dep in feeds:
                    self.cannot_map(
                        f"{npath}.dependencies[{j}]",
                        f"model {dep!r} feeds both {feeds[dep]!r} and {model!r}: a Seldon graph is a tree, "
                        f"each model can feed one other",
                    )
                    ok = False
                else:
                    feeds[dep] = model
        if not ok:
            return None
        finals = [model for model in entries if model not in feeds]
        if len(finals) != 1:
            names = ", ".join(repr(m) for m in finals) or "none (a cycle)"
            self.cannot_map(
                f"{rpath}.dag",
                f"the DAG has {len(finals)} final models ({names}): a Seldon graph returns the answer of one "
                f"root node, so exactly one model must depend, directly or not, on all the others",
            )
            return None
        reached: set[str] = set()
        graph = self.model_node(finals[0], entries, index, rpath, reached, ())
        if graph is not None and reached != set(entries):
            loop = ", ".join(repr(m) for m in entries if m not in reached)
            self.cannot_map(f"{rpath}.dag", f"models {loop} depend on each other in a cycle")
            return None
        return graph

    def model_node(
        self,
        name: str,
        entries: dict[str, DagNode],
        index: dict[str, int],
        rpath: str,
        reached: set[str],
        stack: tuple[str, ...],
    ) -> _Node | None:
        if name in stack:
            self.cannot_map(f"{rpath}.dag", f"models {', '.join(repr(m) for m in stack)} form a cycle")
            return None
        reached.add(name)
        node = entries[name]
        children: list[_Node] = []
        for dep in node.dependencies:
            child = self.model_node(dep, entries, index, rpath, reached, (*stack, name))
            if child is None:
                return None
            children.append(child)
        i, model = self.models[name]
        mpath = f"{self.where}.models[{i}]"
        weighted = self.backend_shares(model, mpath)
        if weighted is None:
            return None
        if children:
            if len(weighted) != 1:
                self.cannot_map(
                    f"{rpath}.dag[{index[name]}].dependencies",
                    f"model {name!r} has dependencies and {len(weighted)} backend models with traffic: "
                    f"a Seldon COMBINER node cannot also route between backends",
                )
                return None
            backend = weighted[0][0]
            return self.unit(model, backend, mpath, tuple(children))
        units: list[tuple[_Node, int]] = []
        for backend, weight in weighted:
            unit = self.unit(model, backend, mpath, ())
            if unit is None:
                return None
            units.append((unit, weight))
        return _abtest_chain(model.name, units)

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

    def unit(
        self, model: Model, backend: BackendModel, mpath: str, children: tuple[_Node, ...]
    ) -> _Unit | None:
        j = next(k for k, b in enumerate(model.backend_models) if b is backend)
        bpath = f"{mpath}.backendModels[{j}]"
        task = self.task(backend.deployer)
        if task is None or task.deploy is None:
            self.error(f"{bpath}.deployer", f"no deploy task {backend.deployer!r}")
            return None
        if self.task(backend.trainer) is None:
            self.error(f"{bpath}.trainer", f"no train task {backend.trainer!r}")
            return None
        endpoint = task.deploy.endpoint_type or "REST"
        return _Unit(dns_label(backend.name), model.name, backend, task, endpoint, children)

    def check_feedback(self, graph: _Node, k: int, route: Route) -> None:
        rpath = f"{self.where}.routes[{k}]"
        entries = self.entries(route, rpath, FEEDBACK_PATHS)
        if entries is None:
            return
        for i, node in enumerate(route.dag):
            if node.dependencies:
                self.cannot_map(
                    f"{rpath}.dag[{i}].dependencies",
                    "a feedback route cannot have dependencies: Seldon sends feedback down the predict graph",
                )
                return
        served = sorted({u.model for u in _units(graph) if not u.combiner})
        named = sorted(entries)
        if named != served:
            self.cannot_map(
                f"{rpath}.dag",
                f"Seldon delivers feedback to every model the request went through except combiners "
                f"({', '.join(served)}), but this route names {', '.join(named)}",
            )

    def check_endpoints(self, graph: _Node, k: int) -> None:
        kinds = sorted({u.endpoint for u in _units(graph)})
        if len(kinds) > 1:
            self.cannot_map(
                f"{self.where}.routes[{k}]",
                f"deploy tasks of this graph use endpoint types {', '.join(kinds)}: "
                f"Seldon Core allows one endpoint type per graph",
            )


def _abtest_chain(model: str, units: Sequence[tuple[_Node, int]]) -> _Node:
    """Nested ``RANDOM_ABTEST`` nodes giving every unit exactly its weight's share of the traffic."""
    if len(units) == 1:
        return units[0][0]
    nested = len(units) > 2

    def build(level: int) -> _Node:
        rest = units[level:]
        if len(rest) == 1:
            return rest[0][0]
        total = sum(w for _, w in rest)
        name = dns_label(model, "router", str(level + 1)) if nested else dns_label(model, "router")
        return _ABTest(name, rest[0][1] / total, (rest[0][0], build(level + 1)))

    return build(0)


def _units(node: _Node) -> list[_Unit]:
    """The container units of a graph, depth first, parents before children."""
    if isinstance(node, _Unit):
        return [node, *(u for child in node.children for u in _units(child))]
    return [u for child in node.children for u in _units(child)]


def _node_names(node: _Node) -> list[str]:
    return [node.name, *(n for child in node.children for n in _node_names(child))]


# --------------------------------------------------------------------------- rendering


def _graph(node: _Node) -> dict[str, Any]:
    if isinstance(node, _ABTest):
        return {
            "name": node.name,
            "implementation": _RANDOM_ABTEST,
            "parameters": [{"name": "ratioA", "type": "FLOAT", "value": repr(node.ratio_a)}],
            "children": [_graph(child) for child in node.children],
        }
    out: dict[str, Any] = {
        "name": node.name,
        "type": "COMBINER" if node.combiner else "MODEL",
        "endpoint": {"type": node.endpoint},
    }
    if node.children:
        out["children"] = [_graph(child) for child in node.children]
    return out


def _container(axon: Axon, unit: _Unit, version: GraphVersion, options: CompileOptions) -> dict[str, Any]:
    body = unit.task.body
    served = version.models[unit.backend.name]
    paths = contract.served_paths(contract.STORE_MOUNT, unit.backend.trainer, served)
    env = [
        {"name": item["name"], "value": paths[item["name"]]} if item["name"] in paths else item
        for item in runtime_env(axon, unit.task, options)
    ]
    env.append({"name": contract.MODEL_VERSION, "value": version.predictor_name})
    env = merge_env(env, [canonical(e.to_dict()) for e in body.env])
    container: dict[str, Any] = {"name": unit.name, "image": task_image(unit.task, options)}
    if body.command:
        container["command"] = list(body.command)
    if body.args:
        container["args"] = list(body.args)
    container["env"] = env
    if body.resources is not None:
        resources = {
            k: {r: str(q) for r, q in sorted(v.items())} for k, v in body.resources.to_dict().items()
        }
        if resources:
            container["resources"] = resources
    container["volumeMounts"] = [{"name": VOLUME_NAME, "mountPath": contract.STORE_MOUNT}]
    return container


def _component_spec(
    axon: Axon,
    deployer: Deployer,
    unit: _Unit,
    version: GraphVersion,
    plan: _Plan,
    options: CompileOptions,
) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [_container(axon, unit, version, options)]}
    if unit.task.body.node_selector:
        pod["nodeSelector"] = canonical(unit.task.body.node_selector)
    pod["volumes"] = [copy.deepcopy(plan.volume)]  # no shared objects: no YAML aliases
    spec: dict[str, Any] = {
        "metadata": {
            "labels": labels(
                axon,
                deployer=_deployer_label(deployer),
                version=version.predictor_name,
                backend=unit.name,
            )
        },
        "spec": pod,
    }
    replicas = unit.task.deploy.replicas if unit.task.deploy is not None else None
    if deployer.replicas is None and replicas is not None:
        spec["replicas"] = replicas
    return spec


def _deployer_label(deployer: Deployer) -> str:
    return dns_label(deployer.name or "deployer")


def _predictor(
    axon: Axon,
    deployer: Deployer,
    slot: _Slot,
    version: GraphVersion,
    plan: _Plan,
    options: CompileOptions,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": version.predictor_name}
    if slot.traffic is None:
        out["shadow"] = True
    else:
        out["traffic"] = slot.traffic
    if deployer.replicas is not None:
        out["replicas"] = deployer.replicas
    out["graph"] = _graph(plan.graph)
    out["componentSpecs"] = [
        _component_spec(axon, deployer, unit, version, plan, options) for unit in _units(plan.graph)
    ]
    return out


def seldon_deployment(
    axon: Axon,
    deployer: Deployer,
    versions: Sequence[GraphVersion],
    options: CompileOptions,
    path: str | None = None,
) -> dict[str, Any]:
    """The ``SeldonDeployment`` serving ``versions`` (newest first) of ``deployer``'s graph.

    ``path`` is the deployer's field path for error messages (found in ``axon`` when not given). Raises
    :class:`~myelin_sdk.errors.MyelinError` (an ``UnsupportedError`` for what cannot map to Seldon Core) with
    every problem found, and ``ValueError`` when ``versions`` is empty.
    """
    if not versions:
        raise ValueError("seldon_deployment needs at least one version (versions[0] is the newest)")
    where = path if path is not None else deployer_path(axon, deployer)
    plan = _Planner(axon, deployer, where).plan(len(versions))
    used = sorted({slot.index for slot in plan.slots})
    problems: list[Diagnostic] = []
    names: dict[str, int] = {}
    for index in used:
        version = versions[index]
        other = names.setdefault(version.predictor_name, index)
        if other != index:
            problems.append(
                Diagnostic(
                    where,
                    f"versions[{other}] and versions[{index}] both give the predictor name "
                    f"{version.predictor_name!r}: version labels must differ",
                )
            )
        for unit in _units(plan.graph):
            if unit.backend.name not in version.models:
                problems.append(
                    Diagnostic(
                        where,
                        f"versions[{index}] (label {version.label!r}) has no model version for backend model "
                        f"{unit.backend.name!r}",
                    )
                )
    node_names = _node_names(plan.graph)
    duplicates = sorted({n for n in node_names if node_names.count(n) > 1})
    if duplicates:
        problems.append(Diagnostic(where, f"graph node names collide: {', '.join(duplicates)}"))
    if problems:
        raise MyelinError(problems)
    name = dns_label(axon.name, deployer.name or "deployer")
    md = metadata(axon, name, options, original=deployer.name, deployer=_deployer_label(deployer))
    served = [v.to_dict() for v in versions[: max(used) + 1]]
    md["annotations"] = {
        **md.get("annotations", {}),
        VERSIONS_ANNOTATION: json.dumps(served, sort_keys=True, separators=(",", ":")),
    }
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": md,
        "spec": {
            "protocol": PROTOCOL,
            "predictors": [
                _predictor(axon, deployer, slot, versions[slot.index], plan, options) for slot in plan.slots
            ],
        },
    }


def first_deploy_review(
    axon: Axon, deployer: Deployer, options: CompileOptions, path: str | None = None
) -> dict[str, Any]:
    """The ``SeldonDeployment`` the first deploy would apply, for review before any model is trained: one
    predictor labelled ``first`` in which every backend model serves its trainer's ``<MODEL_PATH>/latest``
    (the deploy step puts the selected version's folder name there)."""
    version = GraphVersion.uniform(deployer, REVIEW_VERSION, label=REVIEW_LABEL)
    return seldon_deployment(axon, deployer, [version], options, path=path)
