"""Where a task's data and models live, and who the task is: read from the environment (DESIGN §4).

The Myelin compiler and the local runner set these variables in every task and model container
(:mod:`myelin_sdk.contract` names them)::

    DATA_PATH=/axon-store/data/                                data_path()   shared by all tasks of the axon
    MODEL_PATH=/axon-store/models/train-myelin-recommender/20261127T012345.123456Z-3fa9c1/
                                                               model_path()  this execution's version folder
    MYELIN_MODEL_ROOT=/axon-store/models/train-myelin-recommender/
                                                               model_root()  the task's model registry
    AXON_NAME=ml-rec  TASK_NAME=TrainMyelinRecommender  TASK_ID=ml-rec-train-myelin-recommender
    NAMESPACE=ml  PUSHGATEWAY_URL=http://prometheus-pushgateway.monitoring.svc:9091

Use::

    from myelin_sdk.runtime import data_path, model_path, task

    ratings = data_path() / "ratings.csv"
    pickle.dump(model, open(model_path() / "lr.pkl", "wb"))   # becomes a model version when the task succeeds
    task().id            # 'ml-rec-train-myelin-recommender': the Pushgateway job of its metrics

A variable set to the empty string counts as unset.  :func:`data_path` and :func:`model_path` raise
:class:`NotConfigured` naming the variable when it is unset (to run task code by hand, set it:
``DATA_PATH=/tmp/data python train.py``).  This module imports only the standard library and
:mod:`myelin_sdk.contract`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import contract

__all__ = ["NotConfigured", "TaskInfo", "data_path", "env", "model_path", "model_root", "task"]


class NotConfigured(RuntimeError):
    """An environment variable of the runtime contract is not set; ``variable`` names it."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(message)
        self.variable = variable


def env(name: str) -> str | None:
    """The value of environment variable ``name``, or ``None`` when it is unset or empty."""
    value = os.environ.get(name)
    return value if value else None


def _required_path(variable: str, what: str, function: str) -> Path:
    value = env(variable)
    if value is None:
        raise NotConfigured(
            variable,
            f"{variable} is not set: myelin_sdk.runtime.{function}() reads {what} from the {variable} "
            f"environment variable, which Myelin sets in every task and model container; "
            f"to run this code elsewhere set it yourself (e.g. {variable}=/tmp/{function.split('_')[0]})",
        )
    return Path(value)


def data_path() -> Path:
    """The axon's shared data folder, from ``DATA_PATH`` (raises :class:`NotConfigured` when unset)."""
    return _required_path(contract.DATA_PATH, "the shared data folder", "data_path")


def model_path() -> Path:
    """This task's model folder, from ``MODEL_PATH`` (raises :class:`NotConfigured` when unset).

    In a train task it is this execution's own version folder: what the task writes there becomes a model
    version when it succeeds. In a model server it is the served version's folder.
    """
    return _required_path(contract.MODEL_PATH, "the task's model folder", "model_path")


def model_root() -> Path:
    """The task's model registry (:mod:`myelin_sdk.runtime.registry`): ``MYELIN_MODEL_ROOT`` when set, else
    ``MODEL_PATH`` (raises :class:`NotConfigured` naming ``MODEL_PATH`` when neither is set)."""
    root = env(contract.MODEL_ROOT)
    return Path(root) if root is not None else model_path()


@dataclass(frozen=True)
class TaskInfo:
    """Who the running task is.  Every field is ``None`` when its variable is unset, except ``id``.

    ``id`` is ``TASK_ID``; when that is unset but ``AXON_NAME`` and ``TASK_NAME`` are set it is derived
    from them exactly as the compiler derives it (:func:`myelin_sdk.contract.task_id`).
    """

    axon: str | None
    """``AXON_NAME``: the axon's name as written in the Axon (e.g. ``ml-rec``)."""
    name: str | None
    """``TASK_NAME``: the task's name as written in the Axon (e.g. ``TrainMyelinRecommender``)."""
    id: str | None
    """``TASK_ID``: ``<axon>-<task>`` in kebab case, the Pushgateway job of the task's metrics."""
    namespace: str | None
    """``NAMESPACE``: the Kubernetes namespace the task runs in."""
    pushgateway_url: str | None
    """``PUSHGATEWAY_URL``: where :func:`myelin_sdk.runtime.publish_metric` pushes metrics."""


def task() -> TaskInfo:
    """The running task's identity, read from the environment now (see :class:`TaskInfo`)."""
    axon = env(contract.AXON_NAME)
    name = env(contract.TASK_NAME)
    task_id = env(contract.TASK_ID)
    if task_id is None and axon is not None and name is not None:
        task_id = contract.task_id(axon, name)
    return TaskInfo(
        axon=axon,
        name=name,
        id=task_id,
        namespace=env(contract.NAMESPACE),
        pushgateway_url=env(contract.PUSHGATEWAY_URL),
    )
