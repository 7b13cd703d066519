"""Publish a metric from the model server: ``myelin_sdk.runtime.publish_metric`` when it is importable.

A model image built by s2i from ``requirements.txt`` need not carry the SDK, so without it the same push is
done here with ``prometheus_client`` (a dependency of seldon-core): gauge ``<metric>_<axon>`` (``-`` → ``__``)
pushed with ``POST`` to ``PUSHGATEWAY_URL`` under job ``TASK_ID``, grouped by ``model_version`` =
``MODEL_VERSION`` when set — the rule of ``myelin_sdk.runtime.metrics``.
"""

from __future__ import annotations

import os

__all__ = ["configured", "publish"]


def configured() -> bool:
    """Whether metrics can be published: ``PUSHGATEWAY_URL`` is set."""
    return bool(os.environ.get("PUSHGATEWAY_URL"))


def publish(metric: str, value: float) -> str:
    """Push ``metric`` = ``value``; return the published name.  Raises ``OSError`` when the push fails."""
    try:
        from myelin_sdk.runtime import publish_metric
    except ImportError:
        return _publish_without_sdk(metric, value)
    return publish_metric(metric, value)


def _publish_without_sdk(metric: str, value: float) -> str:
    from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

    axon = os.environ.get("AXON_NAME")
    job = os.environ.get("TASK_ID")
    url = os.environ.get("PUSHGATEWAY_URL", "").rstrip("/")
    if not (axon and job and url):
        raise RuntimeError("cannot publish metrics: AXON_NAME, TASK_ID and PUSHGATEWAY_URL must be set")
    if "://" not in url:
        url = f"http://{url}" if ":" in url else f"http://{url}:9091"
    name = f"{metric}_{axon}".replace("-", "__")
    registry = CollectorRegistry()
    Gauge(name, f"{name}, published by {job}", registry=registry).set(float(value))
    grouping = {"model_version": os.environ["MODEL_VERSION"]} if os.environ.get("MODEL_VERSION") else {}
    pushadd_to_gateway(url, job=job, registry=registry, grouping_key=grouping, timeout=10)
    return name
