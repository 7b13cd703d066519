"""myelin_sdk.runtime.metrics against a real Pushgateway and Prometheus (tests/support/prometheus.py).

Every test pushes under its own job (a fresh ``TASK_ID``), so tests never see each other's metrics on the
session-wide Pushgateway.  The Pushgateway's own ``/metrics`` page is read to check replacement semantics
at once; Prometheus (scraping every second) is queried where the end-to-end path matters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import delete_from_gateway
from prometheus_client.parser import text_string_to_metric_families

from myelin_sdk import contract
from myelin_sdk.runtime import (
    MetricClient,
    MetricsNotConfigured,
    MetricsPushError,
    NotConfigured,
    metric_name,
    publish_metric,
    publish_metrics,
    publish_result,
)
from myelin_sdk.runtime.metrics import gateway_url
from myelin_sdk.spec.expressions import published_metric_name

from support.prometheus import Server, free_port, wait_for

AXON = "ml-rec"
#: Series the Pushgateway adds to every group by itself.
GATEWAY_OWN = {"push_time_seconds", "push_failure_time_seconds"}


def delete_groups(pushgateway_url: str, prefix: str) -> None:
    """Delete every Pushgateway group whose job starts with ``prefix`` (Prometheus then marks it stale)."""
    with urllib.request.urlopen(f"{pushgateway_url}/api/v1/metrics", timeout=5) as response:
        groups = json.load(response)["data"]
    for group in groups:
        labels = dict(group["labels"])
        job = labels.pop("job", "")
        if job.startswith(prefix):
            delete_from_gateway(pushgateway_url, job=job, grouping_key=labels, timeout=5)


@pytest.fixture
def job(monkeypatch: pytest.MonkeyPatch, pushgateway: Server) -> Iterator[str]:
    """A task environment (``AXON_NAME=ml-rec``, a fresh ``TASK_ID``, ``PUSHGATEWAY_URL``): the job.

    Its groups are deleted afterwards, so that no other test querying a metric name without a job
    filter (the gate tests) sees values pushed here.
    """
    task_id = f"ml-rec-train-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(contract.AXON_NAME, AXON)
    monkeypatch.setenv(contract.TASK_NAME, "Train")
    monkeypatch.setenv(contract.TASK_ID, task_id)
    monkeypatch.setenv(contract.PUSHGATEWAY_URL, pushgateway.url)
    yield task_id
    delete_groups(pushgateway.url, task_id)


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (contract.AXON_NAME, contract.TASK_NAME, contract.TASK_ID, contract.PUSHGATEWAY_URL):
        monkeypatch.delenv(name, raising=False)


def gateway_series(pushgateway_url: str, job: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The series the Pushgateway holds for ``job``: ``{(name, labels but job/instance): value}``."""
    with urllib.request.urlopen(f"{pushgateway_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("job") != job or sample.name in GATEWAY_OWN:
                continue
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k not in ("job", "instance")))
            series[(sample.name, labels)] = sample.value
    return series


# --------------------------------------------------------------------------- naming


@pytest.mark.parametrize(
    ("metric", "axon"),
    [
        ("recommender_train_rmse", "ml-rec"),
        ("recommender_deploy_accuracy", "recommender-demo"),
        ("loss", "a-b-c"),
        ("mnist_train_accuracy", "mnist"),
        ("image_classifer_accuracy", "image-classifier-2"),
        ("x", "--"),
        ("a-b", "c"),
    ],
)
def test_metric_name_agrees_with_the_compiler(metric: str, axon: str) -> None:
    assert metric_name(metric, axon) == published_metric_name(metric, axon)


def test_metric_name_rule() -> None:
    assert metric_name("recommender_train_rmse", "ml-rec") == "recommender_train_rmse_ml__rec"
    assert MetricClient(axon="ml-rec").get_metric("loss") == "loss_ml__rec"


@pytest.mark.parametrize(
    ("url", "port", "expected"),
    [
        ("http://127.0.0.1:9091", 9091, "http://127.0.0.1:9091"),
        ("https://pgw.example/", 9091, "https://pgw.example"),
        ("pushgateway", 9091, "http://pushgateway:9091"),
        ("pushgateway.monitoring.svc", 1234, "http://pushgateway.monitoring.svc:1234"),
        ("pushgateway:9999", 1234, "http://pushgateway:9999"),
    ],
)
def test_gateway_url(url: str, port: int, expected: str) -> None:
    assert gateway_url(url, port) == expected


# --------------------------------------------------------------------------- publishing, end to end


def test_publish_metric_reaches_prometheus_under_the_task_id(job: str, prometheus: Server) -> None:
    published = publish_metric("recommender_train_rmse", 0.91)
    assert published == "recommender_train_rmse_ml__rec"
    result = wait_for(prometheus.url, f'recommender_train_rmse_ml__rec{{job="{job}"}} == 0.91')
    assert [r["metric"]["job"] for r in result] == [job]


def test_republishing_replaces_only_that_metric(job: str, pushgateway: Server, prometheus: Server) -> None:
    publish_metric("rmse", 0.91)
    publish_metric("accuracy", 0.8)
    publish_metric("rmse", 0.85)
    series = gateway_series(pushgateway.url, job)
    assert series[("rmse_ml__rec", ())] == 0.85
    assert series[("accuracy_ml__rec", ())] == 0.8  # a PUT of rmse would have dropped it
    wait_for(prometheus.url, f'rmse_ml__rec{{job="{job}"}} == 0.85 and on() accuracy_ml__rec{{job="{job}"}}')


def test_publish_metrics_pushes_several_at_once(job: str, pushgateway: Server) -> None:
    names = publish_metrics({"rmse": 0.5, "mae": 0.25})
    assert names == {"rmse": "rmse_ml__rec", "mae": "mae_ml__rec"}
    series = gateway_series(pushgateway.url, job)
    assert series[("rmse_ml__rec", ())] == 0.5
    assert series[("mae_ml__rec", ())] == 0.25


def test_labels_join_the_grouping_key(job: str, pushgateway: Server) -> None:
    publish_metric("rmse", 1.0, labels={"model": "a"})
    publish_metric("rmse", 2.0, labels={"model": "b"})
    publish_metric("rmse", 3.0, labels={"model": "a"})
    series = gateway_series(pushgateway.url, job)
    assert series[("rmse_ml__rec", (("model", "a"),))] == 3.0
    assert series[("rmse_ml__rec", (("model", "b"),))] == 2.0


def test_a_served_version_keeps_its_own_values(
    job: str, pushgateway: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Canary and stable push under the same TASK_ID; MODEL_VERSION keeps their feedback apart."""
    monkeypatch.setenv(contract.MODEL_VERSION, "v-canary")
    publish_metric("deploy_accuracy", 0.8)
    monkeypatch.setenv(contract.MODEL_VERSION, "v-stable")
    publish_metric("deploy_accuracy", 0.95)
    series = gateway_series(pushgateway.url, job)
    assert series[("deploy_accuracy_ml__rec", (("model_version", "v-canary"),))] == 0.8
    assert series[("deploy_accuracy_ml__rec", (("model_version", "v-stable"),))] == 0.95


def test_explicit_arguments_need_no_environment(no_env: None, pushgateway: Server) -> None:
    job = f"explicit-{uuid.uuid4().hex[:8]}"
    published = publish_metric("loss", -1.5, axon="other-axon", job=job, pushgateway_url=pushgateway.url)
    assert published == "loss_other__axon"
    assert gateway_series(pushgateway.url, job) == {("loss_other__axon", ()): -1.5}
    delete_groups(pushgateway.url, job)


def test_nan_is_published(job: str, pushgateway: Server) -> None:
    publish_metric("loss", float("nan"))
    value = gateway_series(pushgateway.url, job)[("loss_ml__rec", ())]
    assert value != value


# --------------------------------------------------------------------------- the original client's API


def test_metric_client_post_update(job: str, prometheus: Server) -> None:
    client = MetricClient()
    assert client.get_metric("recommender_deploy_accuracy") == "recommender_deploy_accuracy_ml__rec"
    client.post_update("recommender_deploy_accuracy", 0.75)
    wait_for(prometheus.url, f'recommender_deploy_accuracy_ml__rec{{job="{job}"}} == 0.75')


def test_metric_client_job_name_and_grouping_key(job: str, pushgateway: Server) -> None:
    other = f"{job}-other"
    MetricClient().post_update("reward", 1.0, job_name=other, grouping_key={"model": "m1"})
    MetricClient().post_update("reward", 2.0, other, {"model": "m2"})  # positional, as in the original
    assert gateway_series(pushgateway.url, other) == {
        ("reward_ml__rec", (("model", "m1"),)): 1.0,
        ("reward_ml__rec", (("model", "m2"),)): 2.0,
    }
    assert gateway_series(pushgateway.url, job) == {}


def test_metric_client_port_completes_a_bare_host(job: str, pushgateway: Server) -> None:
    """The original client took a service name in PUSHGATEWAY_URL and completed it with ``port``."""
    parts = urllib.parse.urlsplit(pushgateway.url)
    assert parts.hostname is not None and parts.port is not None
    client = MetricClient(port=parts.port, pushgateway_url=parts.hostname)
    assert client.url == pushgateway.url
    client.post_update("bare", 4.0)
    assert gateway_series(pushgateway.url, job) == {("bare_ml__rec", ()): 4.0}


def test_publish_result_takes_the_value_first(job: str, pushgateway: Server, prometheus: Server) -> None:
    publish_result(0.42, "rmse")
    publish_result(0.8, "accuracy", {"precision": 0.7})
    assert gateway_series(pushgateway.url, job) == {
        ("rmse_ml__rec", ()): 0.42,
        ("accuracy_ml__rec", ()): 0.8,
        ("precision_ml__rec", ()): 0.7,
    }
    wait_for(prometheus.url, f'rmse_ml__rec{{job="{job}"}} == 0.42')


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "unset", [contract.AXON_NAME, contract.TASK_ID, contract.PUSHGATEWAY_URL], ids=lambda v: str(v)
)
def test_unconfigured_names_the_missing_variable(
    monkeypatch: pytest.MonkeyPatch, job: str, pushgateway: Server, unset: str
) -> None:
    monkeypatch.delenv(unset)
    if unset == contract.TASK_ID:
        monkeypatch.delenv(contract.TASK_NAME)  # else TASK_ID is derived from AXON_NAME and TASK_NAME
    with pytest.raises(MetricsNotConfigured) as caught:
        publish_metric("rmse", 0.9)
    assert caught.value.variable == unset
    assert f"{unset} is not set" in str(caught.value)
    assert isinstance(caught.value, NotConfigured)
    client = MetricClient()  # making a client never fails: a model server may run without metrics
    with pytest.raises(MetricsNotConfigured, match=unset):
        client.post_update("rmse", 0.9)
    with pytest.raises(MetricsNotConfigured, match=unset):
        publish_result(0.9, "rmse")
    assert gateway_series(pushgateway.url, job) == {}


def test_task_id_is_derived_when_unset(
    monkeypatch: pytest.MonkeyPatch, job: str, pushgateway: Server
) -> None:
    monkeypatch.delenv(contract.TASK_ID)
    monkeypatch.setenv(contract.TASK_NAME, f"TrainDerived{uuid.uuid4().int % 10**8}")  # a job of its own
    expected = contract.task_id(AXON, os.environ[contract.TASK_NAME])
    assert expected.startswith("ml-rec-train-derived")
    publish_metric("derived", 1.0)
    assert gateway_series(pushgateway.url, expected) == {("derived_ml__rec", ()): 1.0}
    delete_groups(pushgateway.url, expected)


def test_unreachable_pushgateway(job: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MetricsPushError, match=rf"rmse_ml__rec to the Pushgateway at {url} \(job '{job}'\)"):
        publish_metric("rmse", 0.9, pushgateway_url=url, timeout=2)
    with pytest.raises(OSError):
        MetricClient(pushgateway_url=url, timeout=2).post_update("rmse", 0.9)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "bad.name"}, ValueError, "not a valid Prometheus metric name"),
        ({"axon": "my.axon"}, ValueError, "not a valid Prometheus metric name"),
        ({"labels": {"job": "x"}}, ValueError, "invalid metric label 'job'"),
        ({"labels": {"__x": "x"}}, ValueError, "invalid metric label '__x'"),
        ({"labels": {"a-b": "x"}}, ValueError, "invalid metric label 'a-b'"),
        ({"value": "0.9"}, TypeError, "must be a number, not str"),
        ({"value": True}, TypeError, "must be a number, not bool"),
    ],
)
def test_invalid_input(
    job: str, pushgateway: Server, kwargs: dict[str, object], error: type, match: str
) -> None:
    arguments: dict[str, object] = {"name": "rmse", "value": 0.9, **kwargs}
    name, value = arguments.pop("name"), arguments.pop("value")
    with pytest.raises(error, match=match):
        publish_metric(name, value, **arguments)  # type: ignore[arg-type]
    assert gateway_series(pushgateway.url, job) == {}


# --------------------------------------------------------------------------- import weight

HEAVY = ["pydantic", "hera", "yaml", "promql_parser", "myelin_sdk.spec", "myelin_sdk.compiler", "requests"]


def test_runtime_imports_nothing_heavy(tmp_path: Path, pushgateway: Server) -> None:
    """Task containers import the runtime: it must not drag in the SDK's model or compiler dependencies."""
    script = textwrap.dedent(
        f"""
        import json, os, sys
        heavy = {HEAVY!r}
        def loaded():
            return sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
        import myelin_sdk.runtime as rt
        after_import = {{"heavy": loaded(), "prometheus_client": "prometheus_client" in sys.modules}}
        rt.data_path(); rt.model_path(); rt.task()
        rt.publish_metric("weight", 1.0)
        rt.MetricClient().post_update("weight2", 2.0)
        rt.publish_result(3.0, "weight3")
        with rt.new_version({{"rmse": 0.5}}) as version:
            (version / "model.bin").write_bytes(b"x")
        rt.save_version({{"rmse": 0.4}}, lambda folder: (folder / "m").write_text("y"))
        best = rt.best_version("rmse")
        assert best is not None and best.metrics == {{"rmse": 0.4}}, best
        assert len(rt.versions()) == 2 and rt.latest_version() == best
        rt.cleanup_incomplete(0)
        print(json.dumps({{"after_import": after_import, "after_use": loaded()}}))
        """
    )
    env = {
        "PATH": "/usr/bin:/bin",
        contract.AXON_NAME: AXON,
        contract.TASK_ID: f"weight-{uuid.uuid4().hex[:8]}",
        contract.PUSHGATEWAY_URL: pushgateway.url,
        contract.DATA_PATH: str(tmp_path / "data"),
        contract.MODEL_PATH: str(tmp_path / "models" / "train"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"after_import": {"heavy": [], "prometheus_client": False}, "after_use": []}
    assert gateway_series(pushgateway.url, env[contract.TASK_ID]) == {
        ("weight_ml__rec", ()): 1.0,
        ("weight2_ml__rec", ()): 2.0,
        ("weight3_ml__rec", ()): 3.0,
    }
    delete_groups(pushgateway.url, env[contract.TASK_ID])
