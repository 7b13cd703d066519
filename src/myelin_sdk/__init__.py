"""myelin-sdk: declare ML pipelines (Axons) in Python or YAML; compile them to Argo Workflows manifests.

>>> from myelin_sdk import Axon, ContainerTask, Sensor
>>> with Axon("hello") as axon:
...     say = ContainerTask("Say", image="busybox", command=["echo", "hello"])
...     _ = Sensor("OnStart", tasks=[say])
>>> [t.name for t in axon.tasks]
['Say']
>>> kinds = [m["kind"] for m in axon.compile()]     # doctest: +SKIP

The model lives in :mod:`myelin_sdk.spec`, the compiler in :mod:`myelin_sdk.compiler`, the checks in
:mod:`myelin_sdk.lint`, the command line in :mod:`myelin_sdk.cli`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import CompileOptions
    from .errors import Diagnostic, MyelinError, UnsupportedError
    from .spec import (
        S2I,
        S3,
        Alert,
        Artifact,
        Axon,
        BackendModel,
        Calendar,
        ContainerSpec,
        ContainerTask,
        DagNode,
        Deployer,
        DeploySpec,
        DeployTask,
        Destination,
        Dockerfile,
        EnvVar,
        Git,
        ImageBuild,
        Lifecycle,
        Local,
        Metric,
        MetricSpec,
        Model,
        Parameter,
        Resources,
        Rest,
        RolloutStep,
        Route,
        RouteDestination,
        RoutingStep,
        SecretKeySelector,
        Sensor,
        SensorStep,
        Shadow,
        Task,
        TrainSpec,
        TrainTask,
        Volume,
        VolumeClaimTemplate,
    )

# Imported on first use, so that `myelin --help` does not pay for pydantic: name -> module.
_LAZY = {
    "CompileOptions": ".config",
    "Diagnostic": ".errors",
    "MyelinError": ".errors",
    "UnsupportedError": ".errors",
}


def __getattr__(name: str) -> Any:
    if name in __all__:
        module = importlib.import_module(_LAZY.get(name, ".spec"), __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "S2I",
    "S3",
    "Alert",
    "Artifact",
    "Axon",
    "BackendModel",
    "Calendar",
    "CompileOptions",
    "ContainerSpec",
    "ContainerTask",
    "DagNode",
    "DeploySpec",
    "DeployTask",
    "Deployer",
    "Destination",
    "Diagnostic",
    "Dockerfile",
    "EnvVar",
    "Git",
    "ImageBuild",
    "Lifecycle",
    "Local",
    "Metric",
    "MetricSpec",
    "Model",
    "MyelinError",
    "Parameter",
    "Resources",
    "Rest",
    "RolloutStep",
    "Route",
    "RouteDestination",
    "RoutingStep",
    "SecretKeySelector",
    "Sensor",
    "SensorStep",
    "Shadow",
    "Task",
    "TrainSpec",
    "TrainTask",
    "UnsupportedError",
    "Volume",
    "VolumeClaimTemplate",
]
