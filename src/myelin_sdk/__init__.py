"""myelin-sdk: declare ML pipelines (Axons) in Python or YAML; compile them to Argo Workflows manifests.

>>> from myelin_sdk import Axon, ContainerTask, Sensor
>>> with Axon("hello") as axon:
...     say = ContainerTask("Say", image="busybox", command=["echo", "hello"])
...     _ = Sensor("OnStart", tasks=[say])
>>> [t.name for t in axon.tasks]
['Say']
>>> bundle = compile(axon)                   # doctest: +SKIP
>>> run = run_local(axon, RunOptions(port=9000))   # doctest: +SKIP

``compile(axon)`` returns a :class:`Bundle` of manifests, ``load("axon.yaml")`` reads an Axon YAML or a
``pipeline.py``, ``run_local(axon)`` starts a local run and returns its :class:`LocalRun` handle.

The model lives in :mod:`myelin_sdk.spec`, the compiler in :mod:`myelin_sdk.compiler`, the checks in
:mod:`myelin_sdk.lint`, the command line in :mod:`myelin_sdk.cli`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compiler import compile_axon as compile
    from .compiler.bundle import Bundle
    from .config import CompileOptions
    from .errors import Diagnostic, MyelinError, UnsupportedError
    from .loader import load_path as load
    from .local import LocalRun, PredictionError, RunFailed, RunOptions, run_local
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
    "Bundle": ".compiler.bundle",
    "LocalRun": ".local",
    "PredictionError": ".local",
    "RunFailed": ".local",
    "RunOptions": ".local",
    "run_local": ".local",
}
#: Public names that are another name in their module.
_ALIAS = {"compile": (".compiler", "compile_axon"), "load": (".loader", "load_path")}


def __getattr__(name: str) -> Any:
    if name in __all__:
        where, attribute = _ALIAS.get(name, (_LAZY.get(name, ".spec"), name))
        value = getattr(importlib.import_module(where, __name__), attribute)
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
    "Bundle",
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
    "LocalRun",
    "Metric",
    "MetricSpec",
    "Model",
    "MyelinError",
    "Parameter",
    "PredictionError",
    "Resources",
    "Rest",
    "RolloutStep",
    "Route",
    "RouteDestination",
    "RoutingStep",
    "RunFailed",
    "RunOptions",
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
    "compile",
    "load",
    "run_local",
]
