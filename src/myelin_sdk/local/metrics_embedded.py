"""The embedded metrics store of the local runner: :class:`EmbeddedMetrics` and its condition evaluation.

A Pushgateway look-alike on 127.0.0.1 backed by SQLite (:mod:`myelin_sdk.local.metrics_store`), the default
backend of :func:`myelin_sdk.local.metrics.metrics_backend`; conditions are evaluated in process with PromQL's
semantics.

Usage::

    from myelin_sdk.spec.expressions import parse_alert_condition, parse_metric_condition

    with EmbeddedMetrics("ml-rec", Path("run/state.db")) as metrics:
        env = {"PUSHGATEWAY_URL": metrics.pushgateway_url}      # given to every task
        metrics.check_alert(parse_alert_condition("{{acc}} < 0.9"), "spec.sensors[2].triggers[0].condition")
        metrics.holds(parse_metric_condition("{{recommender_train_rmse}} < 0.95"))  # False until pushed
        metrics.latest()     # {"recommender_train_rmse_ml__rec": 0.91, ...}

Semantics (the same in both backends): every series of a metric counts, so ``{{m}} < 0.9`` holds when *any*
series of ``m`` (any job, any ``model_version``: canary or stable) is below 0.9; a metric without data makes
its comparisons false.  In a ``Metric`` condition ``and``/``or`` combine like booleans (the gate's
``and on()``/``or on()``); in an ``Alert`` condition they match series by labels as the PromQL alert does,
so ``{{a}} < 1 and {{b}} > 2`` fires only for series with the same labels (the same job and grouping key).
A comparison of two metrics always matches series by labels.  ``not`` (embedded store only; PromQL has
none) is false when a metric under it has no data.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from ..contract import metric_name
from ..errors import Diagnostic
from ..spec.expressions import (
    AlertCondition,
    BoolOp,
    Comparison,
    ConditionNode,
    Metric,
    MetricCondition,
    Not,
    Number,
    compare,
)
from .metrics import MetricsError, MetricsUnavailable, _latest_view, _Lifecycle, _suffix
from .metrics_store import MetricStore, PushgatewayServer, Series

__all__ = ["EmbeddedMetrics"]

# ---------------------------------------------------------------------------------------- evaluation helpers

_Signature = frozenset[tuple[str, str]]


def _metrics_under(node: ConditionNode) -> Iterable[str]:
    if isinstance(node, Comparison):
        return [side.name for side in (node.left, node.right) if isinstance(side, Metric)]
    if isinstance(node, BoolOp):
        return [name for child in node.operands for name in _metrics_under(child)]
    return _metrics_under(node.operand)


def _vector(node: ConditionNode, series: Mapping[str, list[Series]], match_labels: bool) -> set[_Signature]:
    """The label sets PromQL would return for ``node`` (empty: the condition does not hold)."""
    if isinstance(node, Comparison):
        left, right = node.left, node.right
        if isinstance(left, Metric) and isinstance(right, Metric):
            others = {frozenset(s.labels.items()): s.value for s in series[right.name]}
            return {
                sig
                for s in series[left.name]
                if (sig := frozenset(s.labels.items())) in others and compare(node.op, s.value, others[sig])
            }
        if isinstance(left, Metric) and isinstance(right, Number):
            number = right.value
            return {
                frozenset(s.labels.items()) for s in series[left.name] if compare(node.op, s.value, number)
            }
        assert isinstance(left, Number) and isinstance(right, Metric)
        number = left.value
        return {frozenset(s.labels.items()) for s in series[right.name] if compare(node.op, number, s.value)}
    if isinstance(node, BoolOp):
        vectors = [_vector(child, series, match_labels) for child in node.operands]
        if node.op == "or":
            return set().union(*vectors)
        if match_labels:
            return vectors[0].intersection(*vectors[1:])
        return vectors[0] if all(vectors[1:]) else set()
    assert isinstance(node, Not)
    if any(not series[name] for name in _metrics_under(node.operand)):
        return set()
    return set() if _vector(node.operand, series, match_labels) else {frozenset()}


def _metric_form(condition: MetricCondition | AlertCondition) -> tuple[MetricCondition, bool]:
    """The condition to evaluate and whether ``and`` matches labels (alerts) or not (metric conditions)."""
    if isinstance(condition, MetricCondition):
        return condition, False
    if condition.simple is None:
        raise MetricsError(_embedded_alert_message(condition))
    return condition.simple, True


def _embedded_alert_message(condition: AlertCondition) -> str:
    return (
        f"the alert condition {condition.text!r} is PromQL that the embedded metrics store cannot evaluate "
        "(it evaluates only '{{metric}} <op> <number>' comparisons joined by 'and'/'or'); "
        "pass --prometheus URL (with a Pushgateway) to evaluate PromQL alerts"
    )


# ------------------------------------------------------------------------------------------------- embedded


class EmbeddedMetrics(_Lifecycle):
    """The embedded store: a Pushgateway look-alike on 127.0.0.1 (``port`` 0: a free one) backed by the
    table ``metric_samples`` of the SQLite file ``db_path`` (values survive a restart with the same file)."""

    def __init__(
        self, axon_name: str, db_path: Path, *, port: int = 0, on_push: Callable[[], None] | None = None
    ) -> None:
        self.axon_name = axon_name
        self.db_path = Path(db_path)
        self.port = port
        self.on_push = on_push
        self._store: MetricStore | None = None
        self._server: PushgatewayServer | None = None

    @property
    def pushgateway_url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if self._server is None:
            raise RuntimeError("EmbeddedMetrics.start() was not called")
        return self._server.url

    def start(self) -> None:
        """Open the store and serve it; :class:`MetricsError` when the file or the port cannot be used."""
        if self._server is not None:
            return
        try:
            self._server = PushgatewayServer(self._open(), port=self.port, on_change=self.on_push)
        except (OSError, sqlite3.Error) as exc:
            self.stop()
            raise MetricsError(f"cannot start the embedded metrics store ({self.db_path}): {exc}") from exc

    def stop(self) -> None:
        """Stop serving and close the database (idempotent)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def check_alert(self, condition: AlertCondition, where: str) -> None:
        """Only simple alerts (``{{m}} < 0.9``, joined by ``and``/``or``) can be evaluated here."""
        if condition.simple is None:
            raise MetricsError([Diagnostic(where, _embedded_alert_message(condition))])

    def holds(self, condition: MetricCondition | AlertCondition) -> bool:
        """Evaluate ``condition`` on the latest value of every series (see the module docstring)."""
        metric_condition, match_labels = _metric_form(condition)
        names = {metric: metric_name(metric, self.axon_name) for metric in metric_condition.metrics()}
        stored = self._series(names.values())
        job = metric_condition.job  # a Metric condition's ``task``: only the series that task pushed
        series = {
            metric: [s for s in stored if s.name == name and (job is None or s.labels.get("job") == job)]
            for metric, name in names.items()
        }
        return bool(_vector(metric_condition.tree, series, match_labels))

    def latest(self) -> dict[str, float]:
        """The latest value of every series of the axon's published metrics (``<metric>_<axon>``)."""
        suffix = _suffix(self.axon_name)
        series = self._series(None)
        return _latest_view((s.name, s.labels, s.value) for s in series if s.name.endswith(suffix))

    def published(self, job: str, since: float) -> dict[str, float]:
        """See :meth:`MetricsBackend.published`: read from the store's push times."""
        suffix = _suffix(self.axon_name)
        try:
            rows = self._open().pushed(job, since)
        except sqlite3.Error as exc:
            raise MetricsUnavailable(
                f"cannot read the embedded metrics store ({self.db_path}): {exc}"
            ) from exc
        out: dict[str, float] = {}
        for name, _, value in rows:  # oldest first: a later push of the same name overrides
            if name.endswith(suffix) and len(name) > len(suffix) and math.isfinite(value):
                out[name[: -len(suffix)]] = value
        return dict(sorted(out.items()))

    def _series(self, names: Iterable[str] | None) -> list[Series]:
        try:
            return self._open().series(names)
        except sqlite3.Error as exc:  # e.g. stop() closed the store under a concurrent read
            raise MetricsUnavailable(
                f"cannot read the embedded metrics store ({self.db_path}): {exc}"
            ) from exc

    def _open(self) -> MetricStore:
        """The store; opened on demand, so values can be read before :meth:`start` or after :meth:`stop`."""
        if self._store is None:
            try:
                self._store = MetricStore(self.db_path, self.axon_name)
            except (OSError, sqlite3.Error) as exc:
                raise MetricsError(f"cannot open the embedded metrics store ({self.db_path}): {exc}") from exc
        return self._store
