"""The local runner's Prometheus client over https and with a bearer token: the real Prometheus serving
TLS and a token-checking https front of it (tests/support/prometheus_tls.py; Prometheus cannot check a
bearer token itself), and the real Pushgateway serving TLS. Verification is on by default;
``--prometheus-ca``, ``--prometheus-token-file`` and ``--prometheus-insecure`` of ``myelin run``."""

from __future__ import annotations

import ssl
import time
import urllib.request
from pathlib import Path

import pytest

from myelin_sdk.local.metrics import MetricsError, MetricsUnavailable, metrics_backend
from myelin_sdk.local.metrics_prometheus import PrometheusMetrics
from myelin_sdk.spec.expressions import parse_metric_condition

from support.fake_apiserver import run_cli
from support.prometheus import Server, push
from support.prometheus_tls import Bearer, Certs, https_wait_for

AXON = """\
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata: {name: tls-local}
spec:
  tasks:
    - name: Hello
      container:
        command: [python, -c, "print('hello')"]
  sensors:
    - name: Start
      tasks:
        - resourceExecutor: {task: Hello}
"""


@pytest.fixture(scope="module")
def scraped(prometheus_https: Server, pushgateway: Server, tls_certs: Certs) -> None:
    push(pushgateway.url, "tls-local-hello", "quality_tls__local", 0.5)
    https_wait_for(prometheus_https.url, "quality_tls__local == 0.5", tls_certs.ca)


def backend(url: str, pushgateway: Server, **kwargs: object) -> PrometheusMetrics:
    return PrometheusMetrics("tls-local", url, pushgateway.url, **kwargs)  # type: ignore[arg-type]


def test_verification_is_on_by_default_with_a_one_line_error(
    prometheus_https: Server, pushgateway: Server
) -> None:
    with pytest.raises(MetricsError) as failure:
        backend(prometheus_https.url, pushgateway).start()
    message = str(failure.value)
    assert message.startswith(f"TLS verification of the Prometheus at {prometheus_https.url} failed: ")
    assert "--prometheus-ca FILE" in message and "\n" not in message


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_the_ca_verifies_and_insecure_skips(
    prometheus_https: Server, pushgateway: Server, tls_certs: Certs, scraped: None
) -> None:
    holds = parse_metric_condition("{{quality}} < 0.9")
    for metrics in (
        backend(prometheus_https.url, pushgateway, ca_file=tls_certs.ca),
        backend(prometheus_https.url, pushgateway, insecure=True),
    ):
        metrics.start()
        try:
            assert metrics.holds(holds)
            assert metrics.latest()["quality_tls__local"] == 0.5
        finally:
            metrics.stop()
    with pytest.raises(MetricsError, match="contradict"):
        backend(prometheus_https.url, pushgateway, ca_file=tls_certs.ca, insecure=True)
    with pytest.raises(MetricsError, match="go with --prometheus URL"):
        metrics_backend("tls-local", Path("x.db"), ca_file=tls_certs.ca)


def test_the_token_is_read_from_the_file_and_sent(
    bearer_prometheus: Bearer, pushgateway: Server, tls_certs: Certs, scraped: None, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text(f"{bearer_prometheus.token}\n")
    metrics = backend(bearer_prometheus.url, pushgateway, ca_file=tls_certs.ca, token_file=token)
    metrics.start()
    try:
        before = len(bearer_prometheus.seen)
        assert metrics.holds(parse_metric_condition("{{quality}} < 0.9"))
        assert bearer_prometheus.seen[before:] == [f"Bearer {bearer_prometheus.token}"]
    finally:
        metrics.stop()
    with pytest.raises(MetricsError, match="HTTP 401: check --prometheus-token-file"):
        backend(bearer_prometheus.url, pushgateway, ca_file=tls_certs.ca).start()
    with pytest.raises(MetricsError, match="cannot read the bearer token file"):
        backend(bearer_prometheus.url, pushgateway, ca_file=tls_certs.ca, token_file=tmp_path / "no").start()


def test_myelin_run_flags(
    capsys: pytest.CaptureFixture[str],
    bearer_prometheus: Bearer,
    pushgateway: Server,
    tls_certs: Certs,
    tmp_path: Path,
) -> None:
    path = tmp_path / "axon.yaml"
    path.write_text(AXON)
    token = tmp_path / "token"
    token.write_text(bearer_prometheus.token)
    common = ["run", str(path), "--workdir", str(tmp_path), "--plain", "--until", "idle", "--port", "0"]
    common += ["--prometheus", bearer_prometheus.url, "--pushgateway", pushgateway.url]
    code, _, err = run_cli(capsys, *common, "--prometheus-token-file", str(token))
    assert code == 2
    assert f"TLS verification of the Prometheus at {bearer_prometheus.url} failed" in err
    assert len([line for line in err.splitlines() if "TLS verification" in line]) == 1
    before = len(bearer_prometheus.seen)
    code, out, err = run_cli(
        capsys, *common, "--prometheus-ca", str(tls_certs.ca), "--prometheus-token-file", str(token)
    )
    assert code == 0, out + err
    assert f"Bearer {bearer_prometheus.token}" in bearer_prometheus.seen[before:]


def _push_https(url: str, ca: Path, job: str, text: str) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    request = urllib.request.Request(f"{url}/metrics/job/{job}", data=text.encode(), method="PUT")
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        assert response.status == 200


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_the_pushgateway_over_https_is_verified_with_the_system_cas_and_the_given_ca(
    prometheus: Server, pushgateway_https: Server, tls_certs: Certs
) -> None:
    """The runner reads what a train task published from the Pushgateway (to register the version): over
    https it verifies it like Prometheus, with ``--prometheus-ca`` added to the system's CAs; no token."""
    since = time.time() - 1
    _push_https(pushgateway_https.url, tls_certs.ca, "tls-local-train", "rmse_tls__local 0.81\n")
    plain = PrometheusMetrics("tls-local", prometheus.url, pushgateway_https.url)
    with pytest.raises(MetricsError) as failure:
        plain.start()
    message = str(failure.value)
    assert message.startswith(f"TLS verification of the Pushgateway at {pushgateway_https.url} failed: ")
    assert "--prometheus-ca FILE" in message
    for metrics in (
        PrometheusMetrics("tls-local", prometheus.url, pushgateway_https.url, ca_file=tls_certs.ca),
        PrometheusMetrics("tls-local", prometheus.url, pushgateway_https.url, insecure=True),
    ):
        metrics.start()
        try:
            assert metrics.published("tls-local-train", since) == {"rmse": 0.81}
        finally:
            metrics.stop()
    unverified = PrometheusMetrics("tls-local", prometheus.url, pushgateway_https.url)
    with pytest.raises(MetricsUnavailable, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        unverified.published("tls-local-train", since)
