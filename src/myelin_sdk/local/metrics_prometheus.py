"""The Prometheus backend of the local runner (``--prometheus URL``): :class:`PrometheusMetrics`.

Tasks push to a real Pushgateway; conditions are the PromQL queries the cluster would run (the gate's query
for ``Metric`` conditions, the ``PrometheusRule`` expression for ``Alert`` triggers), true when the result is
non-empty (the semantics: :mod:`myelin_sdk.local.metrics_embedded`).

Usage::

    from myelin_sdk.spec.expressions import parse_metric_condition

    with PrometheusMetrics("ml-rec", "http://127.0.0.1:9090", "http://127.0.0.1:9091") as metrics:
        metrics.query_for(parse_metric_condition("{{rmse}} < 0.95"))  # "rmse_ml__rec < 0.95": the gate's
        metrics.holds(parse_metric_condition("{{rmse}} < 0.95"))      # the query's result is non-empty
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic
from ..spec.expressions import AlertCondition, ExpressionError, MetricCondition
from .metrics import MetricsError, MetricsUnavailable, _latest_view, _Lifecycle, _suffix

if TYPE_CHECKING:
    from prometheus_api_client import PrometheusConnect

__all__ = ["PrometheusMetrics"]


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
