"""The runtime contract between the SDK and task or model code (DESIGN §4), shared by the compiler, the local
runner and the runtime library.

Inside a task the environment holds ``AXON_NAME``, ``TASK_NAME`` (as written in the Axon), ``TASK_ID``
(``<axon>-<task>`` in kebab case: the Pushgateway job its metrics go to), ``NAMESPACE``, ``DATA_PATH``
(``<store>/data``, shared by all tasks), ``MODEL_PATH`` (``<store>/models/<task>``: a train task writes one
folder per model version there) and ``PUSHGATEWAY_URL``.

>>> task_paths("/axon-store", "TrainMyelinRecommender")
{'DATA_PATH': '/axon-store/data', 'MODEL_PATH': '/axon-store/models/train-myelin-recommender'}
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
PUSHGATEWAY_URL = "PUSHGATEWAY_URL"
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


def task_paths(store: str, task: str) -> dict[str, str]:
    """``DATA_PATH`` and ``MODEL_PATH`` of ``task`` under the store root ``store``."""
    root = store.rstrip("/")
    return {DATA_PATH: f"{root}/data", MODEL_PATH: f"{root}/models/{dns_label(task)}"}
