"""Metrics backends of the local runner: where tasks push metrics and how sensors evaluate conditions on them.

Two backends share the :class:`MetricsBackend` protocol the engine uses:

* :class:`EmbeddedMetrics` (the default): a Pushgateway look-alike on 127.0.0.1 backed by SQLite
  (:mod:`myelin_sdk.local.metrics_store`); conditions are evaluated in process with PromQL's semantics.
* :class:`PrometheusMetrics` (``--prometheus URL``): a real Pushgateway and Prometheus; conditions are the
  PromQL queries the cluster would run (the gate's query for ``Metric`` conditions, the ``PrometheusRule``
  expression for ``Alert`` triggers), true when the result is non-empty.

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
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..contract import metric_name
from ..errors import Diagnostic, MyelinError
from ..spec.expressions import (
    AlertCondition,
    BoolOp,
    Comparison,
    ConditionNode,
    ExpressionError,
    Metric,
    MetricCondition,
    Not,
    Number,
    compare,
)
from .metrics_store import MetricStore, PushgatewayServer, Series

if TYPE_CHECKING:
    from prometheus_api_client import PrometheusConnect

__all__ = [
    "EmbeddedMetrics",
    "MetricsBackend",
    "MetricsError",
    "MetricsUnavailable",
    "PrometheusMetrics",
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


# ----------------------------------------------------------------------------------------------- Prometheus


class PrometheusMetrics(_Lifecycle):
    """A real Prometheus (queried with ``prometheus_api_client``) scraping a real Pushgateway.

    ``timeout`` bounds each HTTP request; ``retries`` is how often a failed query is retried at once
    (0: the engine retries on its next evaluation). An https Prometheus is verified against ``ca_file``
    (default: the system's CAs) unless ``insecure``; ``token_file`` holds a bearer token sent with every
    request (:mod:`myelin_sdk.runtime.gate` does the same in the cluster).
    """

    def __init__(
        self,
        axon_name: str,
        prometheus_url: str,
        pushgateway_url: str,
        *,
        timeout: float = 5.0,
        retries: int = 0,
        ca_file: str | Path | None = None,
        token_file: str | Path | None = None,
        insecure: bool = False,
    ) -> None:
        if ca_file and insecure:
            raise MetricsError("--prometheus-ca and --prometheus-insecure contradict each other: give one")
        self.ca_file = str(ca_file) if ca_file else None
        self.token_file = str(token_file) if token_file else None
        self.insecure = insecure
        self.axon_name = axon_name
        self.prometheus_url = prometheus_url.rstrip("/")
        self._pushgateway_url = pushgateway_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self._client: PrometheusConnect | None = None

    @property
    def pushgateway_url(self) -> str:
        """The Pushgateway tasks push to."""
        return self._pushgateway_url

    def _auth(self) -> tuple[Any, dict[str, str]]:
        """The TLS context and headers of a request to Prometheus (the token is read again each time)."""
        from ..runtime.gate import PrometheusConfigError, read_token, tls_context

        try:
            context = tls_context(self.ca_file, insecure=self.insecure)
            token = read_token(self.token_file) if self.token_file else None
        except PrometheusConfigError as exc:
            raise MetricsError(str(exc).replace("the CA file", "--prometheus-ca")) from None
        return context, {"Authorization": f"Bearer {token}"} if token else {}

    def _pushgateway_context(self) -> Any:
        """The TLS context of requests to the Pushgateway: the system's CAs and ``--prometheus-ca`` too (so a
        Pushgateway behind the same private CA, or behind a public one, verifies), or none with
        ``--prometheus-insecure``."""
        import ssl

        from ..runtime.gate import tls_context

        if self.insecure or not self.ca_file:
            return tls_context(None, insecure=self.insecure)
        context = ssl.create_default_context()
        try:
            context.load_verify_locations(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise MetricsError(f"cannot load --prometheus-ca {self.ca_file}: {exc}") from None
        return context

    def start(self) -> None:
        """Check that Prometheus and the Pushgateway answer ``/-/ready``. Over https both are verified
        (``--prometheus-ca`` for Prometheus; the system's CAs and that CA for the Pushgateway) unless
        ``--prometheus-insecure``; the bearer token goes to Prometheus only (a credential is not handed to
        another server)."""
        import ssl

        context, headers = self._auth()
        gateway_context = self._pushgateway_context()
        for what, url, flag in (
            ("Prometheus", self.prometheus_url, "--prometheus"),
            ("Pushgateway", self._pushgateway_url, "--pushgateway"),
        ):
            prometheus = what == "Prometheus"
            request = urllib.request.Request(f"{url}/-/ready", headers=headers if prometheus else {})
            try:
                with urllib.request.urlopen(
                    request, timeout=self.timeout, context=context if prometheus else gateway_context
                ) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status, reason = exc.code, str(exc)
            except (OSError, ValueError) as exc:
                status, reason = 0, str(exc)
                failed = getattr(exc, "reason", exc)
                if isinstance(failed, ssl.SSLCertVerificationError):
                    raise MetricsError(
                        f"TLS verification of the {what} at {url} failed: {failed.verify_message}; give its "
                        "CA with --prometheus-ca FILE (or, in a lab, --prometheus-insecure)"
                    ) from None
            if status in (401, 403) and prometheus:
                raise MetricsError(
                    f"the Prometheus at {url} answered HTTP {status}: check --prometheus-token-file"
                )
            if status != 200:
                detail = reason if status == 0 else f"HTTP {status}"
                raise MetricsError(f"the {what} at {url} is not ready ({detail}); check {flag}")

    def stop(self) -> None:
        """Close the HTTP session (the servers are not ours: they keep running)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def check_alert(self, condition: AlertCondition, where: str) -> None:
        """Every valid PromQL alert can be evaluated; :class:`MetricsError` when it does not render."""
        try:
            condition.to_promql(self.axon_name)
        except ExpressionError as exc:
            raise MetricsError([Diagnostic(where, str(exc))]) from exc

    def query_for(self, condition: MetricCondition | AlertCondition) -> str:
        """The PromQL query: the gate's (``and on()``) for a metric condition, the alert's own otherwise."""
        try:
            if isinstance(condition, MetricCondition):
                return condition.to_promql(self.axon_name, ignore_labels=True)
            return condition.to_promql(self.axon_name)
        except ExpressionError as exc:
            raise MetricsError(str(exc)) from exc

    def holds(self, condition: MetricCondition | AlertCondition) -> bool:
        """A non-empty instant-query result; :class:`MetricsUnavailable` when Prometheus cannot be queried."""
        return bool(self._query(self.query_for(condition)))

    def latest(self) -> dict[str, float]:
        """The latest value of every series whose name ends with ``_<axon>`` (the published-name rule)."""
        result = self._query(f'{{__name__=~".+{_suffix(self.axon_name)}"}}')
        rows = []
        for item in result:
            labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
            name = labels.pop("__name__", "")
            rows.append((name, labels, float(item["value"][1])))
        return _latest_view(rows)

    def published(self, job: str, since: float) -> dict[str, float]:
        """See :meth:`MetricsBackend.published`: read from the Pushgateway's ``/api/v1/metrics``."""
        from datetime import datetime, timezone

        from ..runtime.register import RegisterError, fetch_published

        started = datetime.fromtimestamp(since, timezone.utc)
        try:
            return fetch_published(
                self._pushgateway_url,
                job,
                self.axon_name,
                started,
                timeout=self.timeout,
                context=self._pushgateway_context(),
            )
        except RegisterError as exc:
            raise MetricsUnavailable(str(exc)) from exc

    def _query(self, promql: str) -> list[dict[str, Any]]:
        from prometheus_api_client.exceptions import PrometheusApiClientException
        from requests.exceptions import RequestException

        if self._client is None:
            import requests
            from prometheus_api_client import PrometheusConnect
            from urllib3.util.retry import Retry

            _, headers = self._auth()
            session = requests.Session()
            session.verify = self.ca_file or not self.insecure
            self._client = PrometheusConnect(
                self.prometheus_url,
                headers=headers or None,
                session=session,
                timeout=self.timeout,
                retry=Retry(total=self.retries, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
            )
        try:
            result = self._client.custom_query(promql)
        except RequestException as exc:
            raise MetricsUnavailable(f"cannot query Prometheus at {self.prometheus_url}: {exc}") from exc
        except PrometheusApiClientException as exc:
            raise MetricsUnavailable(
                f"Prometheus at {self.prometheus_url} rejected the query {promql!r}: {exc}"
            ) from exc
        if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
            raise MetricsError(f"the query {promql!r} did not return an instant vector: {result!r}")
        return result


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
    return EmbeddedMetrics(axon_name, db_path, on_push=on_push)


if TYPE_CHECKING:  # both backends satisfy the protocol

    def _conforms(db: Path) -> tuple[MetricsBackend, MetricsBackend]:
        return EmbeddedMetrics("a", db), PrometheusMetrics("a", "http://p", "http://g")
