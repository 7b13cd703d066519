"""Deployers: which trained model versions serve, how traffic splits, and which public routes exist.

A deployer is a graph of logical ``models``; each routes (``routingStrategy`` weights) between
``backendModels``, each one a (trainer, deployer) task pair. ``rolloutSpec`` splits traffic between deployed
versions of the whole graph — ``destinationIndex`` 0 is the newest — so ``0:50, 1:50`` is a 50/50 canary::

    Deployer("recommenderdeployer",
             rollout_spec=[RolloutStep(destinations=[Destination(0, 50), Destination(1, 50)])],
             models=[Model("RecommenderModel",
                           backend_models=[BackendModel("Backend", trainer=train, deployer=deploy)])])

Routes default to ``/predict`` and ``/send-feedback`` of the single model.
Legacy forms are normalised when read: ``models[].{trainer,deployer}`` without ``backendModels`` becomes one
backend model of the same name, and a DAG entry naming a ``task`` becomes the model served by that task.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from ._base import Ref, SpecModel


def _renamed(data: Any, old: str, new: str) -> Any:
    """``data`` with the legacy key ``old`` read as ``new`` (when ``new`` is not given too)."""
    if isinstance(data, dict) and old in data and new not in data:
        data = dict(data)
        data[new] = data.pop(old)
    return data


class Destination(SpecModel):
    """A share of traffic for a deployed version: ``Destination(0, 50)`` — 50 % to the newest."""

    destination_index: int = Field(ge=0)
    weight: int = Field(ge=0, le=100)

    def __init__(self, destination_index: int | None = None, weight: int | None = None, /, **data: Any):
        if destination_index is not None:
            data["destinationIndex"] = destination_index
        if weight is not None:
            data["weight"] = weight
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        return _renamed(data, "destination", "destinationIndex")  # the early form: {destination: 0}


class Shadow(SpecModel):
    """A version that receives a copy of the traffic; its answers are discarded."""

    destination_index: int = Field(ge=0)

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        return _renamed(data, "destination", "destinationIndex")


class RolloutStep(SpecModel):
    """One rollout stage: traffic split between versions, an optional ``match`` and ``shadow``.

    A 2019 indentation slip, ``- match: {destinations: [...]}``, is read as the step's ``destinations``.
    """

    match: dict[str, Any] | None = None
    destinations: list[Destination] = Field(min_length=1)
    shadow: Shadow | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if isinstance(data, dict) and "destinations" not in data and isinstance(data.get("match"), dict):
            match = dict(data["match"])
            if "destinations" in match:
                data = dict(data)
                data["destinations"] = match.pop("destinations")
                if "shadow" in match and "shadow" not in data:
                    data["shadow"] = match.pop("shadow")
                data["match"] = match or None
        return data


class RouteDestination(SpecModel):
    """A share of a model's traffic for one of its backend models."""

    destination_name: Ref
    weight: int = Field(ge=0, le=100)


class RoutingStep(SpecModel):
    """The weights between a model's backend models."""

    destinations: list[RouteDestination] = Field(min_length=1)


class BackendModel(SpecModel):
    """A (trainer, deployer) task pair: the deploy task's image serving the trainer's selected version."""

    name: str = Field(min_length=1)
    trainer: Ref
    deployer: Ref
    model_selection_strategy: str | None = None

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        super().__init__(**data)


class Model(SpecModel):
    """A logical model of the graph, routing between its backend models."""

    name: str = Field(min_length=1)
    model_selection_strategy: str | None = None
    routing_strategy: list[RoutingStep] = []
    backend_models: list[BackendModel] = []
    trainer: Ref | None = Field(default=None, description="legacy: use backendModels")
    deployer: Ref | None = Field(default=None, description="legacy: use backendModels")

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _derived_name(cls, data: Any) -> Any:
        # the 2019 form {trainer: T, deployer: D} without a name: the model is named after its deploy task
        if isinstance(data, dict) and "name" not in data and "backendModels" not in data:
            deployer = data.get("deployer")
            deployer = getattr(deployer, "name", deployer)
            if isinstance(deployer, str) and deployer:
                data = {"name": deployer, **data}
        return data

    @model_validator(mode="after")
    def _normalise(self) -> Model:
        if (self.trainer is not None or self.deployer is not None) and self.backend_models:
            raise ValueError("give either the legacy trainer/deployer or backendModels, not both")
        if self.trainer is not None and self.deployer is not None:
            self.backend_models = [
                BackendModel(
                    name=self.name,
                    trainer=self.trainer,
                    deployer=self.deployer,
                    model_selection_strategy=self.model_selection_strategy,
                )
            ]
            self.trainer = self.deployer = None
        if (self.trainer is None) != (self.deployer is None):
            raise ValueError("the legacy form needs both trainer and deployer (or use backendModels)")
        if not self.backend_models:
            raise ValueError("a model needs at least one backend model (backendModels)")
        if not self.routing_strategy and len(self.backend_models) == 1:
            only = self.backend_models[0].name
            self.routing_strategy = [
                RoutingStep(destinations=[RouteDestination(destination_name=only, weight=100)])
            ]
        return self


class DagNode(SpecModel):
    """A step of a route: call ``model`` at ``path`` after its ``dependencies`` (with the input if asked)."""

    model: Ref | None = None
    task: Ref | None = Field(default=None, description="legacy: the deploy task; read as the model it serves")
    path: str | None = None
    dependency: str | None = None
    dependencies: list[Ref] = []
    include_input: bool | None = None
    full_path: str | None = None
    health_path: str | None = None
    endpoint_rest_type: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        # the 2019-03 form `- name: DeployX`: the deploy task (or model) the entry calls
        if isinstance(data, dict) and "name" in data and "model" not in data and "task" not in data:
            data = _renamed(data, "name", "task")
        return data

    @model_validator(mode="after")
    def _names_something(self) -> DagNode:
        if self.model is None and self.task is None:
            raise ValueError("a DAG entry needs a model")
        return self


class Route(SpecModel):
    """A public path of the deployment (``/predict``, ``/send-feedback``) as a DAG over models."""

    path: str = Field(pattern=r"^/")
    dag: list[DagNode] = Field(min_length=1)


class Deployer(SpecModel):
    """Deploy a model graph as a canary next to the version serving before."""

    name: str | None = None
    replicas: int | None = Field(default=None, ge=0)
    deployment_type: str | None = Field(default=None, description="legacy: 'canary'")
    rollout_spec: list[RolloutStep] = []
    models: list[Model] = Field(min_length=1)
    routes: list[Route] = []

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        super().__init__(**data)

    @model_validator(mode="after")
    def _normalise(self) -> Deployer:
        served_by = {b.deployer: m.name for m in self.models for b in m.backend_models}
        models = {m.name for m in self.models}
        for route in self.routes:
            for node in route.dag:
                if node.model is None and node.task in served_by:
                    node.model, node.task = served_by[node.task], None
                elif node.model is None and node.task in models:
                    node.model, node.task = node.task, None
        if not self.routes and len(self.models) == 1:
            only = self.models[0].name
            self.routes = [
                Route(path=p, dag=[DagNode(model=only, path=p)]) for p in ("/predict", "/send-feedback")
            ]
        return self
