"""The metric gate over https and with a bearer token, against the real Prometheus serving TLS
(tests/support/prometheus_tls.py) and a token-checking https front of it (Prometheus itself cannot check a
bearer token). The compiled gate script is run for real with a bare interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from myelin_sdk import Axon, Metric, Rest, Sensor, TrainTask
from myelin_sdk.compiler import compile_axon
from myelin_sdk.compiler.sensors import PROMETHEUS_AUTH_DIR
from myelin_sdk.config import CompileOptions
from myelin_sdk.runtime import gate_script_source
from myelin_sdk.runtime.gate import PrometheusConfigError, query, run_gate, tls_context

from support.prometheus import Server, push
from support.prometheus_tls import Bearer, Certs, https_wait_for

METRIC = "tls_probe_ml__rec"


@pytest.fixture(scope="module")
def pushed(prometheus_https: Server, pushgateway: Server, tls_certs: Certs) -> str:
    """``tls_probe_ml__rec 0.5`` scraped by the https Prometheus; the PromQL filter that then holds."""
    push(pushgateway.url, "ml-rec-train", METRIC, 0.5)
    https_wait_for(prometheus_https.url, f"{METRIC} == 0.5", tls_certs.ca)
    return f"{METRIC} < 0.95"


def test_https_is_verified_by_default_and_a_failure_is_one_clear_line_not_retried(
    prometheus_https: Server, pushed: str
) -> None:
    sleeps: list[float] = []
    with pytest.raises(PrometheusConfigError) as failure:
        run_gate(prometheus_https.url, pushed, retries=3, sleep=sleeps.append)
    message = str(failure.value)
    assert message.startswith(f"TLS verification of Prometheus at {prometheus_https.url} failed: ")
    assert "unable to get local issuer certificate" in message and "\n" not in message
    assert sleeps == []  # a certificate that does not verify is not retried


def test_the_ca_file_verifies_and_insecure_skips_verification(
    prometheus_https: Server, pushed: str, tls_certs: Certs
) -> None:
    verdict = run_gate(prometheus_https.url, pushed, context=tls_context(str(tls_certs.ca)))
    assert verdict.passed and verdict.measurements[0].value == "0.5"
    assert query(prometheus_https.url, pushed, context=tls_context(insecure=True))
    with pytest.raises(PrometheusConfigError, match="not both"):
        tls_context(str(tls_certs.ca), insecure=True)
    with pytest.raises(PrometheusConfigError, match="cannot load the CA file"):
        tls_context(str(tls_certs.key.parent / "missing.crt"))


def test_the_token_is_read_from_the_file_and_sent_as_bearer(
    bearer_prometheus: Bearer, pushed: str, tls_certs: Certs, tmp_path: Path
) -> None:
    context = tls_context(str(tls_certs.ca))
    token_file = tmp_path / "token"
    token_file.write_text(bearer_prometheus.token + "\n")
    verdict = run_gate(bearer_prometheus.url, pushed, context=context, token_file=str(token_file))
    assert verdict.passed
    assert bearer_prometheus.seen[-1] == f"Bearer {bearer_prometheus.token}"
    token_file.write_text("wrong\n")  # read again for each query: a rotated token is picked up
    with pytest.raises(PrometheusConfigError, match="HTTP 401 Unauthorized: check the bearer token"):
        run_gate(bearer_prometheus.url, pushed, context=context, token_file=str(token_file))
    with pytest.raises(PrometheusConfigError, match="HTTP 401 Unauthorized: it needs a bearer token"):
        query(bearer_prometheus.url, pushed, context=context)
    with pytest.raises(PrometheusConfigError, match="cannot read the bearer token file"):
        run_gate(bearer_prometheus.url, pushed, context=context, token_file=str(tmp_path / "none"))


def test_the_gate_command_without_the_ca_exits_3_with_one_line(prometheus_https: Server, pushed: str) -> None:
    source = gate_script_source()
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-", "--prometheus", prometheus_https.url, "--query", pushed],
        input=source,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("gate error: TLS verification of Prometheus at ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("with_ca", [True, False])
def test_the_compiled_gate_reads_token_and_ca_from_the_mounted_secret(
    bearer_prometheus: Bearer, pushed: str, tls_certs: Certs, tmp_path: Path, with_ca: bool
) -> None:
    """The exact script of the gate step, its Secret mount moved to a temporary folder holding the files
    the Secret would: ``token`` and (optionally) ``ca.crt``. Without ``ca.crt`` the system's CAs are used,
    which do not know the test CA — so that case runs with SSL_CERT_FILE pointing at it, as a cluster's
    trust store would."""
    with Axon("ml-rec") as axon:
        t = TrainTask("Train", image="busybox")
        Sensor("Gated", triggers=[Rest()], conditions=[Metric("{{tls_probe}} < 0.95")], tasks=[t])
    options = CompileOptions(prometheus_url=bearer_prometheus.url, prometheus_secret="prometheus-auth")
    (template,) = compile_axon(axon, options).find("WorkflowTemplate", "ml-rec-sensor-gated")
    gate = next(t for t in template["spec"]["templates"] if t["name"] == "gate-0")
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    (secret_dir / "token").write_text(bearer_prometheus.token)
    env = None
    if with_ca:
        (secret_dir / "ca.crt").write_bytes(tls_certs.ca.read_bytes())
    else:
        env = {"SSL_CERT_FILE": str(tls_certs.ca)}
    source = gate["script"]["source"].replace(PROMETHEUS_AUTH_DIR, str(secret_dir))
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-"], input=source, capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "passed\n"
    assert bearer_prometheus.seen[-1] == f"Bearer {bearer_prometheus.token}"
    # and without the token the same script reports the 401, not a failed gate
    (secret_dir / "token").write_text("not-the-token")
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-"], input=source, capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 3 and "HTTP 401 Unauthorized: check the bearer token" in result.stderr
