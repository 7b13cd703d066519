"""Metrics backends of the local runner: where tasks push metrics and how sensors evaluate conditions on them.

This module holds what the engine imports: the errors, the :class:`MetricsBackend` protocol, the factory
:func:`metrics_backend` that picks a backend, and the helpers both backends share. The backends:

* :class:`~myelin_sdk.local.metrics_embedded.EmbeddedMetrics` (the default): a Pushgateway look-alike on
  127.0.0.1 backed by SQLite (:mod:`myelin_sdk.local.metrics_store`); conditions are evaluated in process with
  PromQL's semantics (described in :mod:`myelin_sdk.local.metrics_embedded`, the same in both backends).
* :class:`~myelin_sdk.local.metrics_prometheus.PrometheusMetrics` (``--prometheus URL``): a real Pushgateway
  and Prometheus; conditions are the PromQL queries the cluster would run (the gate's query for ``Metric``
  conditions, the ``PrometheusRule`` expression for ``Alert`` triggers), true when the result is non-empty.

Usage::

    from myelin_sdk.spec.expressions import parse_alert_condition, parse_metric_condition

    metrics = metrics_backend("ml-rec", Path("run/state.db"))      # EmbeddedMetrics: no --prometheus
    with metrics:                                                   # both backends are context managers
        env = {"PUSHGATEWAY_URL": metrics.pushgateway_url}          # given to every task
        metrics.check_alert(parse_alert_condition("{{acc}} < 0.9"), "spec.sensors[2].triggers[0].condition")
        metrics.holds(parse_metric_condition("{{recommender_train_rmse}} < 0.95"))  # False until pushed
        metrics.latest()     # {"recommender_train_rmse_ml__rec": 0.91, ...}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar

from ..contract import metric_name
from ..errors import MyelinError
from ..spec.expressions import AlertCondition, MetricCondition

if TYPE_CHECKING:
    from .metrics_embedded import EmbeddedMetrics
    from .metrics_prometheus import PrometheusMetrics

__all__ = [
    "MetricsBackend",
    "MetricsError",
    "MetricsUnavailable",
    "metrics_backend",
]


class MetricsError(MyelinError):
    """A metrics backend cannot do what is asked: an alert it cannot evaluate, a server that is down."""


class MetricsUnavailable(MetricsError):
    """The metrics could not be read right now (Prometheus down, an HTTP error): worth retrying later."""


class MetricsBackend(Protocol):
    """What the engine needs from a metrics backend."""

    @property
    def pushgateway_url(self) -> str:
        """The URL tasks get as ``PUSHGATEWAY_URL``."""
        ...

    def start(self) -> None:
        """Start (or check) the servers; raise :class:`MetricsError` when that fails."""

    def stop(self) -> None:
        """Stop what :meth:`start` started (idempotent)."""

    def check_alert(self, condition: AlertCondition, where: str) -> None:
        """Raise :class:`MetricsError` naming ``where`` when this backend cannot evaluate ``condition``."""

    def holds(self, condition: MetricCondition | AlertCondition) -> bool:
        """Whether ``condition`` is satisfied now (``False`` when not, or when a metric has no data)."""
        ...

    def latest(self) -> dict[str, float]:
        """The axon's published metrics: name (plus ``{label="..."}`` when several series) -> value."""
        ...

    def published(self, job: str, since: float) -> dict[str, float]:
        """The metrics ``job`` pushed at or after ``since`` (Unix time), named without the ``_<axon>`` suffix
        (as ``lossMetric`` spells them); the latest push of a name wins. What a train execution registers."""
        ...


# ------------------------------------------------------------------------------------------ shared helpers


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _latest_view(series: Iterable[tuple[str, Mapping[str, str], float]]) -> dict[str, float]:
    """Name -> value; when a name has several series, the labels that tell them apart are added."""
    by_name: dict[str, list[tuple[Mapping[str, str], float]]] = {}
    for name, labels, value in series:
        by_name.setdefault(name, []).append((labels, value))
    out: dict[str, float] = {}
    for name in sorted(by_name):
        items = by_name[name]
        if len(items) == 1:
            out[name] = items[0][1]
            continue
        keys = sorted({key for labels, _ in items for key in labels})
        varying = [key for key in keys if len({labels.get(key, "") for labels, _ in items}) > 1]
        for labels, value in items:
            parts = ",".join(f'{key}="{_escape(labels.get(key, ""))}"' for key in varying)
            out[f"{name}{{{parts}}}"] = value
    return out


def _suffix(axon: str) -> str:
    return metric_name("", axon)


_L = TypeVar("_L", bound="_Lifecycle")


class _Lifecycle:
    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _L) -> _L:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def metrics_backend(
    axon_name: str,
    db_path: Path,
    *,
    prometheus_url: str | None = None,
    pushgateway_url: str | None = None,
    ca_file: Path | None = None,
    token_file: Path | None = None,
    insecure: bool = False,
    on_push: Callable[[], None] | None = None,
) -> MetricsBackend:
    """:class:`PrometheusMetrics` when ``prometheus_url`` is given (then ``pushgateway_url`` is required; the
    TLS and auth settings go to it), else :class:`EmbeddedMetrics` on ``db_path``, which calls ``on_push``
    after every push (a real Pushgateway cannot: Prometheus sees a push only at its next scrape); not
    started."""
    if prometheus_url:
        from .metrics_prometheus import PrometheusMetrics

        if not pushgateway_url:
            raise MetricsError("--prometheus needs --pushgateway URL too: tasks push their metrics there")
        return PrometheusMetrics(
            axon_name,
            prometheus_url,
            pushgateway_url,
            ca_file=ca_file,
            token_file=token_file,
            insecure=insecure,
        )
    if ca_file or token_file or insecure:
        raise MetricsError(
            "--prometheus-ca, --prometheus-token-file and --prometheus-insecure go with --prometheus URL"
        )
    if pushgateway_url:
        raise MetricsError("--pushgateway needs --prometheus URL too: the runner queries Prometheus")
    from .metrics_embedded import EmbeddedMetrics

    return EmbeddedMetrics(axon_name, db_path, on_push=on_push)


if TYPE_CHECKING:  # both backends satisfy the protocol

    def _conforms(db: Path) -> tuple[MetricsBackend, MetricsBackend]:
        return EmbeddedMetrics("a", db), PrometheusMetrics("a", "http://p", "http://g")
