"""Metrics backends of the local runner: the embedded store and a real Prometheus + Pushgateway."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from myelin_sdk import contract
from myelin_sdk.errors import MyelinError
from myelin_sdk.local.metrics import MetricsBackend, MetricsError, MetricsUnavailable, metrics_backend
from myelin_sdk.local.metrics_embedded import EmbeddedMetrics
from myelin_sdk.local.metrics_prometheus import PrometheusMetrics
from myelin_sdk.runtime import publish_metric
from myelin_sdk.spec.expressions import AlertCondition, parse_alert_condition, parse_metric_condition

from support.prometheus import Server, free_port, wait_for

AXON = "ml-rec"


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedMetrics]:
    """A started embedded store; the runtime's environment points at it (job ``ml-rec-train``)."""
    metrics = EmbeddedMetrics(AXON, tmp_path / "state.db")
    metrics.start()
    monkeypatch.setenv(contract.PUSHGATEWAY_URL, metrics.pushgateway_url)
    monkeypatch.setenv(contract.AXON_NAME, AXON)
    monkeypatch.setenv(contract.TASK_ID, "ml-rec-train")
    monkeypatch.delenv(contract.MODEL_VERSION, raising=False)
    yield metrics
    metrics.stop()


def holds(metrics: MetricsBackend, condition: str) -> bool:
    return metrics.holds(parse_metric_condition(condition))


def test_publish_metric_then_holds(embedded: EmbeddedMetrics) -> None:
    assert not holds(embedded, "{{recommender_train_rmse}} < 0.95")  # no data yet
    publish_metric("recommender_train_rmse", 0.91)
    assert holds(embedded, "{{recommender_train_rmse}} < 0.95")
    assert not holds(embedded, "{{recommender_train_rmse}} < 0.9")
    assert holds(embedded, "0.9 < {{recommender_train_rmse}}")
    assert embedded.latest() == {"recommender_train_rmse_ml__rec": 0.91}
    publish_metric("recommender_train_rmse", 0.5)  # a retrain replaces the value
    assert embedded.latest() == {"recommender_train_rmse_ml__rec": 0.5}


def test_and_or_not_across_jobs(embedded: EmbeddedMetrics) -> None:
    publish_metric("a", 0.5, job="ml-rec-prep")
    publish_metric("b", 3.0, job="ml-rec-train")
    assert holds(embedded, "{{a}} < 1 and {{b}} > 2")  # like the gate's `and on()`: jobs do not matter
    assert not holds(embedded, "{{a}} < 1 and {{b}} > 5")
    assert holds(embedded, "{{a}} > 1 or {{b}} > 2")
    assert holds(embedded, "({{a}} > 1 or {{b}} > 2) and {{a}} <= 0.5")
    assert not holds(embedded, "not {{a}} < 1")
    assert holds(embedded, "not ({{a}} > 1 or {{b}} > 5)")


def test_no_data_is_false(embedded: EmbeddedMetrics) -> None:
    publish_metric("a", 0.5)
    assert not holds(embedded, "{{missing}} < 1")
    assert not holds(embedded, "{{missing}} < 1 and {{a}} < 1")
    assert holds(embedded, "{{missing}} < 1 or {{a}} < 1")  # PromQL `or`: one side with data suffices
    assert not holds(embedded, "not {{missing}} < 1")
    assert not holds(embedded, "{{a}} < {{missing}}")


def test_comparing_two_metrics_matches_series_by_labels(embedded: EmbeddedMetrics) -> None:
    publish_metric("loss", 0.2, job="ml-rec-train")
    publish_metric("baseline", 0.3, job="ml-rec-baseline")
    assert not holds(embedded, "{{loss}} < {{baseline}}")  # different jobs: no match, as in PromQL
    publish_metric("baseline", 0.3, job="ml-rec-train")
    assert holds(embedded, "{{loss}} < {{baseline}}")
    assert not holds(embedded, "{{loss}} > {{baseline}}")


def test_canary_and_stable_are_two_series(embedded: EmbeddedMetrics, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.MODEL_VERSION, "canary")
    publish_metric("recommender_deploy_accuracy", 0.8, job="ml-rec-deploy")
    monkeypatch.setenv(contract.MODEL_VERSION, "stable")
    publish_metric("recommender_deploy_accuracy", 0.95, job="ml-rec-deploy")
    assert holds(embedded, "{{recommender_deploy_accuracy}} < 0.9")  # the canary is below
    assert holds(embedded, "{{recommender_deploy_accuracy}} > 0.9")  # the stable one is above
    assert not holds(embedded, "{{recommender_deploy_accuracy}} < 0.5")
    alert = parse_alert_condition("{{recommender_deploy_accuracy}} < 0.90")
    assert embedded.holds(alert)
    assert embedded.latest() == {
        'recommender_deploy_accuracy_ml__rec{model_version="canary"}': 0.8,
        'recommender_deploy_accuracy_ml__rec{model_version="stable"}': 0.95,
    }


def test_simple_alerts_match_labels_like_promql(embedded: EmbeddedMetrics) -> None:
    alert = parse_alert_condition("{{a}} < 1 and {{b}} > 2")
    embedded.check_alert(alert, "spec.sensors[0].triggers[0].condition")
    publish_metric("a", 0.5, job="ml-rec-one")
    publish_metric("b", 3.0, job="ml-rec-two")
    assert not embedded.holds(alert)  # PromQL `and` without on(): different jobs never match
    publish_metric("b", 3.0, job="ml-rec-one")
    assert embedded.holds(alert)
    assert embedded.holds(parse_alert_condition("{{a}} > 1 or {{b}} > 2"))
    assert not embedded.holds(parse_alert_condition("{{a}} > 1 or {{b}} > 5"))


def test_check_alert_rejects_promql(embedded: EmbeddedMetrics) -> None:
    alert = parse_alert_condition("avg_over_time({{m}}[5m]) < 0.2")
    where = "sensors[2].triggers[0].condition"
    with pytest.raises(MetricsError) as caught:
        embedded.check_alert(alert, where)
    assert isinstance(caught.value, MyelinError)
    message = str(caught.value)
    assert message.startswith(f"{where}: ")
    assert "--prometheus" in message
    assert "avg_over_time({{m}}[5m]) < 0.2" in message
    with pytest.raises(MetricsError, match="--prometheus"):
        embedded.holds(alert)
    embedded.check_alert(AlertCondition("{{m}} < 0.2 or {{n}} >= 1"), where)  # simple: accepted


def test_values_survive_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "state.db"
    with EmbeddedMetrics(AXON, db) as first:
        publish_metric("rmse", 0.91, axon=AXON, job="ml-rec-train", pushgateway_url=first.pushgateway_url)
    with EmbeddedMetrics(AXON, db) as second:
        assert holds(second, "{{rmse}} < 0.95")
        assert second.latest() == {"rmse_ml__rec": 0.91}
        publish_metric("acc", 0.7, axon=AXON, job="ml-rec-train", pushgateway_url=second.pushgateway_url)
        assert second.latest() == {"acc_ml__rec": 0.7, "rmse_ml__rec": 0.91}


def test_latest_shows_only_the_axons_metrics(embedded: EmbeddedMetrics) -> None:
    publish_metric("rmse", 0.91)
    publish_metric("rmse", 0.5, axon="other")
    assert embedded.latest() == {"rmse_ml__rec": 0.91}


def test_lifecycle_and_factory(tmp_path: Path) -> None:
    metrics = EmbeddedMetrics(AXON, tmp_path / "state.db")
    with pytest.raises(RuntimeError, match="start"):
        _ = metrics.pushgateway_url
    metrics.start()
    metrics.start()  # idempotent
    url = metrics.pushgateway_url
    assert url.startswith("http://127.0.0.1:")
    publish_metric("rmse", 0.5, axon=AXON, job="ml-rec-train", pushgateway_url=url)
    metrics.stop()
    metrics.stop()
    assert metrics.latest() == {"rmse_ml__rec": 0.5}  # readable after stop (the engine's last status)
    metrics.stop()
    port = free_port()
    with EmbeddedMetrics(AXON, tmp_path / "state.db", port=port) as fixed:
        assert fixed.pushgateway_url == f"http://127.0.0.1:{port}"
        with pytest.raises(MetricsError, match="cannot start"):
            EmbeddedMetrics(AXON, tmp_path / "state.db", port=port).start()  # the port is taken
    assert isinstance(metrics_backend(AXON, tmp_path / "db"), EmbeddedMetrics)
    backend = metrics_backend(
        AXON, tmp_path / "db", prometheus_url="http://p:9090", pushgateway_url="http://g"
    )
    assert isinstance(backend, PrometheusMetrics)
    with pytest.raises(MetricsError, match="--pushgateway"):
        metrics_backend(AXON, tmp_path / "db", prometheus_url="http://p:9090")


# ------------------------------------------------------------------------------------- real Prometheus


@pytest.fixture
def real(prometheus: Server, pushgateway: Server) -> Iterator[PrometheusMetrics]:
    """A PrometheusMetrics for a fresh axon name, so that tests sharing the servers do not interfere."""
    with PrometheusMetrics(f"t-{uuid.uuid4().hex[:8]}", prometheus.url, pushgateway.url) as metrics:
        yield metrics


def push(metrics: PrometheusMetrics, metric: str, value: float, job: str = "job-a", **labels: str) -> str:
    return publish_metric(
        metric, value, axon=metrics.axon_name, pushgateway_url=metrics.pushgateway_url, job=job, labels=labels
    )


def test_prometheus_metric_condition(real: PrometheusMetrics, prometheus: Server) -> None:
    assert not holds(real, "{{rmse}} < 0.95")  # no data
    name = push(real, "rmse", 0.91)
    push(real, "acc", 0.8, job="job-b")
    wait_for(
        prometheus.url, f"{name} == 0.91 and on() {real.query_for(parse_metric_condition('{{acc}} > 0'))}"
    )
    assert holds(real, "{{rmse}} < 0.95")
    assert not holds(real, "{{rmse}} < 0.9")
    assert holds(real, "{{rmse}} < 0.95 and {{acc}} > 0.5")  # different jobs: the gate's `and on()`
    assert not real.holds(parse_alert_condition("{{rmse}} < 0.95 and {{acc}} > 0.5"))  # the alert's `and`
    assert real.holds(parse_alert_condition("avg_over_time({{rmse}}[5m]) < 0.95"))
    real.check_alert(parse_alert_condition("avg_over_time({{rmse}}[5m]) < 0.95"), "where")
    latest = real.latest()
    assert latest == {name: 0.91, name.replace("rmse", "acc"): 0.8}


def test_prometheus_two_series(real: PrometheusMetrics, prometheus: Server) -> None:
    name = push(real, "acc", 0.8, model_version="canary")
    push(real, "acc", 0.95, model_version="stable")
    wait_for(prometheus.url, f"count({name}) == 2")
    assert holds(real, "{{acc}} < 0.9") and holds(real, "{{acc}} > 0.9")
    assert not holds(real, "{{acc}} < 0.5")
    assert real.latest() == {
        f'{name}{{model_version="canary"}}': 0.8,
        f'{name}{{model_version="stable"}}': 0.95,
    }


def test_prometheus_unavailable(pushgateway: Server) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MetricsError, match=f"Prometheus at {dead} is not ready"):
        PrometheusMetrics(AXON, dead, pushgateway.url).start()
    with pytest.raises(MetricsError, match=f"Pushgateway at {dead} is not ready"):
        PrometheusMetrics(AXON, pushgateway.url, dead).start()  # a Pushgateway answers /-/ready too
    metrics = PrometheusMetrics(AXON, dead, pushgateway.url, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(MetricsUnavailable, match="cannot query Prometheus"):
        holds(metrics, "{{rmse}} < 1")
    assert time.monotonic() - started < 5
    with pytest.raises(MetricsError, match="'not' cannot be expressed in PromQL"):
        holds(metrics, "not {{rmse}} < 1")
