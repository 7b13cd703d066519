"""What a local deployer serves: weights between backend models, and what it refuses before anything runs."""

from __future__ import annotations

from myelin_sdk import (
    BackendModel,
    Deployer,
    DeployTask,
    Model,
    RolloutStep,
    RouteDestination,
    RoutingStep,
    TrainTask,
)
from myelin_sdk.local.deployments import backend_weights, check_deployer

TRAIN = TrainTask("Train", command=["true"])
SERVE = DeployTask("Serve", command=["true"])


def _backend(name: str) -> BackendModel:
    return BackendModel(name, trainer=TRAIN, deployer=SERVE)


def test_routing_strategy_weights_and_equal_shares_without_one() -> None:
    weighted = Model(
        "M",
        backend_models=[_backend("A"), _backend("B"), _backend("C")],
        routing_strategy=[
            RoutingStep(
                destinations=[
                    RouteDestination(destination_name="A", weight=70),
                    RouteDestination(destination_name="B", weight=30),
                    RouteDestination(destination_name="C", weight=0),
                ]
            )
        ],
    )
    assert backend_weights(weighted) == [("A", 70), ("B", 30)]  # weight 0: not served
    equal = Model("M", backend_models=[_backend("A"), _backend("B")])
    assert backend_weights(equal) == [("A", 1), ("B", 1)]


def test_what_a_local_run_cannot_serve_is_named_by_its_path() -> None:
    two_models = Deployer(
        models=[Model("M1", backend_models=[_backend("A")]), Model("M2", backend_models=[_backend("B")])]
    )
    [problem] = check_deployer(two_models, "spec.sensors[0].tasks[1].deployer")
    assert problem.path == "spec.sensors[0].tasks[1].deployer.routes"  # which model answers? its routes say
    assert "needs routes" in problem.message
    shared = Deployer(
        models=[Model("M1", backend_models=[_backend("A")]), Model("M2", backend_models=[_backend("A")])],
        routes=[{"path": "/predict", "dag": [{"model": "M2", "dependencies": ["M1"]}, {"model": "M1"}]}],
    )
    [problem] = check_deployer(shared, "d")
    assert (
        problem.path == "d.models[1].backendModels[0].name"
        and "unique backend model names" in problem.message
    )
    steps = Deployer(
        models=[Model("M", backend_models=[_backend("A")])],
        rollout_spec=[RolloutStep(destinations=[{"destinationIndex": 0, "weight": 100}])] * 2,
    )
    assert [p.path for p in check_deployer(steps, "d")] == ["d.rolloutSpec[1]"]
    assert check_deployer(Deployer(models=[Model("M", backend_models=[_backend("A")])]), "d") == []
