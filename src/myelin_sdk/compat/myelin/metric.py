"""``myelin.metric`` of the original client, served by :mod:`myelin_sdk.runtime.metrics`.

The same names and signatures as the original, and the same published names (``<metric>_<axon>``, ``-``
-> ``__``, under job ``TASK_ID``)::

    import myelin.metric

    myelin.metric.publish_result(0.93, "test_accuracy")           # test_accuracy_<axon>
    client = myelin.metric.MetricClient()
    client.post_update("deploy_accuracy", reward)                 # a gauge
    client.post_increment("predictions")                          # a counter: predictions_<axon>_total

Differences: ``PUSHGATEWAY_URL`` is used as the URL it is (the original built a cluster-DNS name from it and
``PUSHGATEWAY_NAMESPACE``; a bare host name still gets port 9091); a push adds to the task's group instead of
replacing it; a missing variable raises on the first push, naming it, instead of ``KeyError`` at import;
hyper-parameter tuning and MLflow reporting are not done.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from myelin_sdk.runtime.metrics import (
    MetricClient,
    MetricsNotConfigured,
    MetricsPushError,
    Pushed,
    metric_name,
)
from myelin_sdk.runtime.metrics import publish_result as _publish_result

__all__ = [
    "MetricClient",
    "MetricsNotConfigured",
    "MetricsPushError",
    "Pushed",
    "get_loss_metric",
    "metric_name",
    "post_hpo_result",
    "publish_result",
]


def publish_result(
    loss_value: float,
    loss_metric: str,
    additional_metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Publish ``loss_metric`` = ``loss_value`` (value first, as in the original) and ``additional_metrics``.

    ``params`` and ``tags`` went to the original's MLflow and tuning reports; they are accepted and unused.
    """
    _publish_result(loss_value, loss_metric, additional_metrics)


def get_loss_metric() -> str:
    """The train task's ``lossMetric`` (``LOSS_METRIC``, which ``myelin run`` sets for a train task)."""
    value = os.environ.get("LOSS_METRIC")
    if not value:
        raise MetricsNotConfigured(
            "LOSS_METRIC", "LOSS_METRIC is not set: only a train task with a lossMetric has one"
        )
    return value


def post_hpo_result(*args: Any, **kwargs: Any) -> None:
    """Hyper-parameter tuning results went to the original's tuning controller: not supported here."""
    raise NotImplementedError("myelin.metric.post_hpo_result: hyper-parameter tuning is not supported yet")
