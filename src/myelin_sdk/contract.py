"""The runtime contract between the SDK and task or model code (DESIGN §4), shared by the compiler, the local
runner and the runtime library.

Inside a task the environment holds ``AXON_NAME``, ``TASK_NAME`` (as written in the Axon), ``TASK_ID``
(``<axon>-<task>`` in kebab case: the Pushgateway job its metrics go to), ``NAMESPACE``, ``PUSHGATEWAY_URL``
and two folders that end in ``/``, as the original Myelin's did (code joins them with ``+``:
``model_path + "lr.pkl"``):

* ``DATA_PATH`` = ``<store>/data/``, shared by all tasks;
* ``MODEL_PATH``: for each execution of a train task a fresh, empty version folder
  ``<store>/models/<task>/<version>/`` (version names sort by time); the runner or the workflow registers
  it as a model version when the task succeeds (:mod:`myelin_sdk.runtime.register`). Other tasks get the
  registry root ``<store>/models/<task>/``; a model server gets the served version's folder.
* ``MYELIN_MODEL_ROOT`` (:data:`MODEL_ROOT`) = ``<store>/models/<task>/``: the task's model registry, where
  the optional registry API (:mod:`myelin_sdk.runtime.registry`) writes and reads versions (a model server
  gets its trainer's).

>>> task_paths("/axon-store", "TrainMyelinRecommender")["DATA_PATH"]
'/axon-store/data/'
>>> version_path("/axon-store", "TrainMyelinRecommender", "20261127T012345.123456Z-3fa9c1")
'/axon-store/models/train-myelin-recommender/20261127T012345.123456Z-3fa9c1/'
"""

from __future__ import annotations

from .names import dns_label

#: Where every task and model pod mounts the axon's shared volume on a cluster.
STORE_MOUNT = "/axon-store"

AXON_NAME = "AXON_NAME"
TASK_NAME = "TASK_NAME"
TASK_ID = "TASK_ID"
NAMESPACE = "NAMESPACE"
DATA_PATH = "DATA_PATH"
MODEL_PATH = "MODEL_PATH"
#: The task's model registry root ``<store>/models/<task>/`` (not in the original contract: the SDK's own).
MODEL_ROOT = "MYELIN_MODEL_ROOT"
PUSHGATEWAY_URL = "PUSHGATEWAY_URL"
#: Read by the original ``myelin`` client at import: its installation's and its Pushgateway's namespace (both
#: the task's namespace), and a train task's ``lossMetric`` (``myelin.metric.get_loss_metric()``).
MYELIN_NAMESPACE = "MYELIN_NAMESPACE"
PUSHGATEWAY_NAMESPACE = "PUSHGATEWAY_NAMESPACE"
LOSS_METRIC = "LOSS_METRIC"
#: In a model server: the served version's predictor name. Metrics it publishes carry it as the grouping
#: key ``model_version``, so the canary's and the stable version's values do not overwrite each other.
MODEL_VERSION = "MODEL_VERSION"


def task_id(axon: str, task: str) -> str:
    """The stable id of a task.

    >>> task_id("ml-rec", "TrainMyelinRecommender")
    'ml-rec-train-myelin-recommender'
    """
    return dns_label(axon, task)


def metric_name(metric: str, axon: str) -> str:
    """The name under which ``metric`` of axon ``axon`` is published: ``<metric>_<axon>``, ``-`` → ``__``
    (the original Myelin client's rule).

    >>> metric_name("recommender_train_rmse", "ml-rec")
    'recommender_train_rmse_ml__rec'
    """
    return f"{metric}_{axon}".replace("-", "__")


def models_dir(task: str) -> str:
    """The registry root of ``task`` relative to the store: ``models/<task in kebab case>``.

    >>> models_dir("TrainMyelinRecommender")
    'models/train-myelin-recommender'
    """
    return f"models/{dns_label(task)}"


def model_root(store: str, task: str) -> str:
    """The registry root of ``task`` under the store root ``store``, ending in ``/``."""
    return f"{store.rstrip('/')}/{models_dir(task)}/"


def version_path(store: str, task: str, version: str) -> str:
    """The folder of model version ``version`` of ``task``, ending in ``/`` (a train execution's or a served
    version's ``MODEL_PATH``)."""
    return f"{model_root(store, task)}{version}/"


def served_paths(store: str, trainer: str, version: str) -> dict[str, str]:
    """What a model server gets instead of its deploy task's own paths: ``MODEL_PATH``, the served version's
    folder, and ``MYELIN_MODEL_ROOT``, its trainer's registry root."""
    return {MODEL_PATH: version_path(store, trainer, version), MODEL_ROOT: model_root(store, trainer)}


def task_paths(store: str, task: str) -> dict[str, str]:
    """``DATA_PATH``, ``MODEL_PATH`` and ``MYELIN_MODEL_ROOT`` of ``task`` under the store root ``store``,
    each ending in ``/``; ``MODEL_PATH`` is the registry root here: a train execution replaces it with its
    own version folder (:func:`version_path`)."""
    root = model_root(store, task)
    return {DATA_PATH: f"{store.rstrip('/')}/data/", MODEL_PATH: root, MODEL_ROOT: root}
