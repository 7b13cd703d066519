"""``myelin.hpo`` of the original client: a tuning trial's hyper-parameters and result.

``myelin run`` tunes a train task with ``hpTuning`` by running it once per trial with ``HPO_PARAMS`` (base64
of a JSON object with the parameters, ``config-id``, ``budget`` and ``hpo-conf``, the same as a JSON string;
the JSON itself is read too) and ``LOSS_METRIC``; outside a trial ``hpo_enabled()`` is False::

    import myelin.hpo

    params = myelin.hpo.get_hpo_params() or {"C": 1.0}
    budget = myelin.hpo.get_hpo_config().get("budget", 10)
    myelin.hpo.publish_result(rmse)        # the trial's loss, as LOSS_METRIC (also: metric.publish_result)
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

__all__ = ["extract_hpo_params", "get_hpo_config", "get_hpo_params", "hpo_enabled", "publish_result"]


def hpo_enabled() -> bool:
    """Whether the task runs as a hyper-parameter tuning trial (``HPO_PARAMS`` is set)."""
    return "HPO_PARAMS" in os.environ


def get_hpo_config() -> dict[str, Any]:
    """The trial's whole configuration from ``HPO_PARAMS``, or ``{}``."""
    raw = os.environ.get("HPO_PARAMS")
    if not raw:
        return {}
    try:
        text = base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        text = raw
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("HPO_PARAMS must hold a JSON object")
    return value


def extract_hpo_params(config: dict[str, Any]) -> dict[str, Any]:
    """The ``hpo-conf`` of a trial's configuration (a JSON string or an object)."""
    params = config.get("hpo-conf", {})
    value = json.loads(params) if isinstance(params, str) else params
    return dict(value)


def get_hpo_params() -> dict[str, Any]:
    """The trial's hyper-parameters (``hpo-conf`` of :func:`get_hpo_config`), or ``{}``."""
    config = get_hpo_config()
    return extract_hpo_params(config) if config else {}


def publish_result(*args: Any, **kwargs: Any) -> None:
    """The trial's loss, published as ``LOSS_METRIC``: ``publish_result(loss)`` (the original's first form)
    or ``publish_result(loss_metric, loss, params, tags, additional_metrics)`` (its later one)."""
    from . import metric

    if args and isinstance(args[0], str):
        loss_metric, loss = args[0], args[1] if len(args) > 1 else kwargs["loss_value"]
        extra = args[4] if len(args) > 4 else kwargs.get("additional_metrics")
    else:
        loss_metric = kwargs.get("loss_metric") or metric.get_loss_metric()
        loss = args[0] if args else kwargs["loss_value"]
        extra = kwargs.get("additional_metrics")
    metric.publish_result(float(loss), str(loss_metric), extra or None)
