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
MLflow reporting is not done. A hyper-parameter tuning trial's result (``post_hpo_result``, or
``publish_result`` of its ``LOSS_METRIC``) goes to the metrics store, where ``myelin run``'s tuning reads it
(the original posted it to its tuning controller as well).
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


def post_hpo_result(
    config_id: str, config: Mapping[str, Any], budget: float, *rest: Any, **named: Any
) -> None:
    """Report a tuning trial's loss: published as ``loss_metric`` (default ``LOSS_METRIC``) with
    ``additional_metrics``, where ``myelin run``'s tuning reads it.

    Both of the original's forms are read: ``(config_id, config, budget, loss_metric, loss, params, tags,
    info_map, additional_metrics)`` and the older ``(config_id, config, budget, loss, info_map)``.
    """
    if rest and isinstance(rest[0], (int, float)) and not isinstance(rest[0], bool):
        fields = dict(zip(("loss", "info_map"), rest, strict=False))
    else:
        names = ("loss_metric", "loss", "params", "tags", "info_map", "additional_metrics")
        fields = dict(zip(names, rest, strict=False))
    fields.update(named)
    if "loss" not in fields:
        raise TypeError("post_hpo_result: missing the loss")
    metric = fields.get("loss_metric") or get_loss_metric()
    _publish_result(float(fields["loss"]), str(metric), fields.get("additional_metrics") or None)
