"""Publish a task's metrics to the Prometheus Pushgateway, named as Axon ``{{metric}}`` placeholders expect.

A metric ``rmse`` published by a task of axon ``ml-rec`` is stored as the gauge ``rmse_ml__rec``
(:func:`metric_name`: ``<metric>_<axon>``, then every ``-`` becomes ``__``, the rule of the original
Myelin client) under the Pushgateway job ``TASK_ID``, which is where sensors, gates and alerts look for it::

    from myelin_sdk.runtime import publish_metric

    publish_metric("recommender_train_rmse", 0.91)
    # -> recommender_train_rmse_ml__rec{job="ml-rec-train-myelin-recommender"} 0.91

The axon, the job and the Pushgateway come from ``AXON_NAME``, ``TASK_ID`` and ``PUSHGATEWAY_URL``
(:func:`myelin_sdk.runtime.task`); each can be given explicitly instead.  When one is missing
:class:`MetricsNotConfigured` names it; when the Pushgateway cannot be reached or refuses the push,
:class:`MetricsPushError` (an :class:`OSError`) names the URL and the job.

Replacement semantics: a push *adds to* the job's group on the Pushgateway (HTTP ``POST``,
``prometheus_client.pushadd_to_gateway``), replacing only the metrics of the same name.  So publishing
``rmse`` again (a retrain) replaces the previous ``rmse``, while ``accuracy`` published earlier by the same
task stays.  A ``PUT`` (``push_to_gateway``) would replace the whole group and silently drop ``accuracy``
as soon as ``rmse`` is published after it.  ``labels`` become part of the grouping key, so series that
differ in labels are replaced independently.

Code written for the original ``myelin`` package keeps working with a changed import::

    from myelin_sdk.runtime import MetricClient, publish_result

    MetricClient().post_update("recommender_deploy_accuracy", reward)   # was: myelin.metric.MetricClient()
    MetricClient().post_increment("requests")                           # a counter: requests_<axon>_total
    publish_result(rmse, "rmse")                                        # was: myelin.metric.publish_result

(the original imports themselves work too in everything ``myelin run`` starts: :mod:`myelin_sdk.compat`).

``prometheus_client`` is imported on the first push only: importing this module costs nothing.
"""

from __future__ import annotations

import os
import re
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import contract
from .paths import NotConfigured, task

if TYPE_CHECKING:  # imported on the first push only
    from prometheus_client import CollectorRegistry

metric_name = contract.metric_name

__all__ = [
    "DEFAULT_PUSHGATEWAY_PORT",
    "MetricClient",
    "MetricsNotConfigured",
    "MetricsPushError",
    "Pushed",
    "gateway_url",
    "metric_name",
    "publish_metric",
    "publish_metrics",
    "publish_result",
]

#: The port a bare Pushgateway host name (``PUSHGATEWAY_URL=pushgateway``) gets, as in the original client.
DEFAULT_PUSHGATEWAY_PORT = 9091

_METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class MetricsNotConfigured(NotConfigured):
    """Publishing needs an axon name, a job or a Pushgateway URL that is neither given nor in the env."""


class MetricsPushError(OSError):
    """The Pushgateway could not be reached or refused a push."""


def gateway_url(url: str, port: int = DEFAULT_PUSHGATEWAY_PORT) -> str:
    """``url`` as a Pushgateway base URL: a bare host gets ``http://`` and ``port``; anything else is kept.

    >>> gateway_url("prometheus-pushgateway.monitoring.svc")
    'http://prometheus-pushgateway.monitoring.svc:9091'
    >>> gateway_url("http://127.0.0.1:9091/")
    'http://127.0.0.1:9091'
    """
    url = url.strip().rstrip("/")
    if "://" in url:
        return url
    host = urllib.parse.urlsplit(f"//{url}")
    return f"http://{url}" if host.port is not None else f"http://{url}:{port}"


def _missing(variable: str, what: str, argument: str) -> MetricsNotConfigured:
    return MetricsNotConfigured(
        variable,
        f"cannot publish metrics: {what} is unknown; {variable} is not set (Myelin sets it in every task "
        f"container) and no {argument}= was given",
    )


def _check_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in (labels or {}).items():
        if not _LABEL_NAME_RE.fullmatch(key) or key.startswith("__") or key == "job":
            raise ValueError(
                f"invalid metric label {key!r}: a label name matches [a-zA-Z_][a-zA-Z0-9_]*, does not start "
                "with '__' and is not 'job' (the job is given by job=)"
            )
        checked[key] = str(value)
    return checked


def _push(
    values: Mapping[str, float],
    *,
    job: str,
    url: str,
    labels: Mapping[str, str] | None,
    timeout: float,
) -> None:
    """Push the gauges ``values`` (published names) to the group (``job``, ``labels``) with ``POST``."""
    _check_labels(labels)
    for name, value in values.items():
        if not _METRIC_NAME_RE.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*); "
                "metric and axon names may use letters, digits, '_' and '-'"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"the value of metric {name!r} must be a number, not {type(value).__name__}")
    if not values:
        return

    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    for name, value in values.items():
        Gauge(name, f"{name}, published by task {job}", registry=registry).set(float(value))
    _push_registry(registry, list(values), job=job, url=url, labels=labels, timeout=timeout)


def _push_registry(
    registry: CollectorRegistry,
    names: list[str],
    *,
    job: str,
    url: str,
    labels: Mapping[str, str] | None,
    timeout: float,
) -> None:
    """``POST`` the families of ``registry`` to the group (``job``, ``labels`` + the served version)."""
    from prometheus_client import pushadd_to_gateway

    grouping_key = _check_labels(labels)
    served = os.environ.get(contract.MODEL_VERSION)
    if served and "model_version" not in grouping_key:
        grouping_key = {**grouping_key, "model_version": served}
    try:
        pushadd_to_gateway(url, job=job, registry=registry, grouping_key=grouping_key, timeout=timeout)
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise MetricsPushError(
            f"could not push {', '.join(names)} to the Pushgateway at {url} (job {job!r}): {exc}"
        ) from exc


def publish_metrics(
    metrics: Mapping[str, float],
    *,
    axon: str | None = None,
    job: str | None = None,
    pushgateway_url: str | None = None,
    labels: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> dict[str, str]:
    """Publish several metrics in one push (see :func:`publish_metric`); return ``{metric: published}``."""
    info = task()
    axon = axon or info.axon
    if axon is None:
        raise _missing(contract.AXON_NAME, "the axon name", "axon")
    job = job or info.id
    if job is None:
        raise _missing(contract.TASK_ID, "the Pushgateway job (the task id)", "job")
    url = pushgateway_url or info.pushgateway_url
    if url is None:
        raise _missing(contract.PUSHGATEWAY_URL, "the Pushgateway URL", "pushgateway_url")
    names = {metric: metric_name(metric, axon) for metric in metrics}
    _push(
        {names[metric]: value for metric, value in metrics.items()},
        job=job,
        url=gateway_url(url),
        labels=labels,
        timeout=timeout,
    )
    return names


def publish_metric(
    name: str,
    value: float,
    *,
    axon: str | None = None,
    job: str | None = None,
    pushgateway_url: str | None = None,
    labels: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> str:
    """Publish the gauge ``metric_name(name, axon)`` = ``value`` under ``job``; return the published name.

    ``axon`` defaults to ``AXON_NAME``, ``job`` to ``TASK_ID`` and ``pushgateway_url`` to ``PUSHGATEWAY_URL``
    (a bare host name gets ``http://`` and port 9091).  ``labels`` join the grouping key.  The value
    replaces the previous value of the same metric in the same group; other metrics of the group stay.
    NaN and infinities are published as they are (Prometheus stores them).

    Raises :class:`MetricsNotConfigured` (names the missing variable), :class:`MetricsPushError`,
    :class:`ValueError` for a name or label Prometheus rejects, :class:`TypeError` for a non-number.
    """
    return publish_metrics(
        {name: value},
        axon=axon,
        job=job,
        pushgateway_url=pushgateway_url,
        labels=labels,
        timeout=timeout,
    )[name]


def publish_result(
    loss_value: float, loss_metric: str, additional_metrics: Mapping[str, float] | None = None
) -> None:
    """Publish a train task's result: compatible with the original ``myelin.metric.publish_result``.

    Publishes ``loss_metric`` = ``loss_value`` (note the original's argument order: value first) and each
    of ``additional_metrics`` in one push.  The original also reported to its hyper-parameter tuning
    controller and to MLflow when configured; this one only publishes metrics.
    """
    values = {loss_metric: loss_value, **(additional_metrics or {})}
    publish_metrics(values)


@dataclass(frozen=True)
class Pushed:
    """What :meth:`MetricClient.post_update` answers once the Pushgateway took the push: like the response
    the original 0.0.x client returned (``print(res.status_code)`` in model code keeps working)."""

    status_code: int = 200
    ok: bool = True
    text: str = ""


class MetricClient:
    """The original ``myelin.metric.MetricClient``, compatible: ``MetricClient().post_update(name, value)``.

    ``port`` only serves a bare host name in ``PUSHGATEWAY_URL`` (the original's form: a service name that
    it completed with its namespace and this port); a URL is used as it is.  The environment is read when
    the client is made, but a missing variable raises :class:`MetricsNotConfigured` only on the first
    ``post_update`` (the original raised ``KeyError`` at once), so a model server can start without metrics.
    """

    def __init__(
        self,
        port: int = DEFAULT_PUSHGATEWAY_PORT,
        *,
        pushgateway_url: str | None = None,
        axon: str | None = None,
        task_id: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        info = task()
        self.port = port
        self.axon_name = axon or info.axon
        self.task_id = task_id or info.id
        self.pushgateway_url = pushgateway_url or info.pushgateway_url
        self.timeout = timeout
        self.process_id = str(uuid.uuid4())
        self._counts: dict[str, float] = {}

    @property
    def url(self) -> str:
        """The Pushgateway base URL pushes go to."""
        if self.pushgateway_url is None:
            raise _missing(contract.PUSHGATEWAY_URL, "the Pushgateway URL", "pushgateway_url")
        return gateway_url(self.pushgateway_url, self.port)

    def get_metric(self, name: str) -> str:
        """The published name of metric ``name`` (:func:`metric_name` with this client's axon)."""
        if self.axon_name is None:
            raise _missing(contract.AXON_NAME, "the axon name", "axon")
        return metric_name(name, self.axon_name)

    def post_update(
        self,
        metric: str,
        value: float,
        job_name: str | None = None,
        grouping_key: Mapping[str, str] | None = None,
    ) -> Pushed:
        """Publish gauge ``metric`` = ``value`` under ``job_name`` (default ``TASK_ID``), ``grouping_key``."""
        job = job_name or self.task_id
        if job is None:
            raise _missing(contract.TASK_ID, "the Pushgateway job (the task id)", "job_name")
        _push(
            {self.get_metric(metric): value},
            job=job,
            url=self.url,
            labels=grouping_key,
            timeout=self.timeout,
        )
        return Pushed()

    def post_increment(self, metric: str, amount: float = 1) -> Pushed:
        """Add ``amount`` to the counter ``metric`` and push its total (the original's ``post_increment``).

        As in the original, the counter lives in this client (keep the client to keep counting) and is
        published as ``<published name>_total`` with the label ``uuid`` set to this client's own id, so that
        several processes counting the same metric do not overwrite each other's totals.
        """
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
            raise ValueError(f"post_increment({metric!r}, {amount!r}): the amount must be a number >= 0")
        job = self.task_id
        if job is None:
            raise _missing(contract.TASK_ID, "the Pushgateway job (the task id)", "task_id")
        name = self.get_metric(metric)
        if not _METRIC_NAME_RE.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
        self._counts[name] = self._counts.get(name, 0.0) + float(amount)

        from prometheus_client import CollectorRegistry, Counter

        registry = CollectorRegistry()
        counter = Counter(name, f"{name}, counted by task {job}", ["uuid"], registry=registry)
        counter.labels(uuid=self.process_id).inc(self._counts[name])
        _push_registry(registry, [name], job=job, url=self.url, labels=None, timeout=self.timeout)
        return Pushed()
