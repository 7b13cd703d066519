"""The embedded Pushgateway look-alike, driven by prometheus_client's real push functions and raw HTTP."""

from __future__ import annotations

import math
import sqlite3
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)
from prometheus_client.parser import text_string_to_metric_families

from myelin_sdk.local.metrics_store import MetricStore, PushError, PushgatewayServer, parse_group


class Gateway:
    """A store served on a free port."""

    def __init__(self, db: Path, axon: str = "ml-rec") -> None:
        self.store = MetricStore(db, axon)
        self.server = PushgatewayServer(self.store)
        self.url = self.server.url

    def close(self) -> None:
        self.server.close()
        self.store.close()

    def values(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in self.store.series()}


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = Gateway(tmp_path / "state.db")
    yield gw
    gw.close()


def registry(**values: float) -> CollectorRegistry:
    reg = CollectorRegistry()
    for name, value in values.items():
        Gauge(name, f"help of {name}", registry=reg).set(value)
    return reg


def request(url: str, method: str, body: bytes = b"") -> tuple[int, str]:
    req = urllib.request.Request(url, data=body or None, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def labels(job: str, **extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"instance": "", "job": job, **extra}.items()))


def test_put_replaces_the_group(gateway: Gateway) -> None:
    push_to_gateway(gateway.url, job="train", registry=registry(a_x=1, b_x=2))
    push_to_gateway(gateway.url, job="train", registry=registry(a_x=3))
    push_to_gateway(gateway.url, job="other", registry=registry(b_x=5))
    assert gateway.values() == {("a_x", labels("train")): 3.0, ("b_x", labels("other")): 5.0}


def test_post_replaces_only_the_same_names(gateway: Gateway) -> None:
    pushadd_to_gateway(gateway.url, job="train", registry=registry(a_x=1, b_x=2))
    pushadd_to_gateway(gateway.url, job="train", registry=registry(a_x=3))
    assert gateway.values() == {("a_x", labels("train")): 3.0, ("b_x", labels("train")): 2.0}


def test_grouping_keys_and_delete(gateway: Gateway) -> None:
    for version, value in (("canary", 0.8), ("stable", 0.95)):
        key = {"model_version": version}
        pushadd_to_gateway(gateway.url, job="serve", registry=registry(acc_x=value), grouping_key=key)
    assert len(gateway.values()) == 2
    delete_from_gateway(gateway.url, job="serve", grouping_key={"model_version": "canary"})
    assert gateway.values() == {("acc_x", labels("serve", model_version="stable")): 0.95}
    delete_from_gateway(gateway.url, job="serve", grouping_key={"model_version": "stable"})
    assert gateway.values() == {}


def test_base64_encoded_labels(gateway: Gateway) -> None:
    # prometheus_client encodes a value with '/' as base64 and an empty value as '@base64/='
    push_to_gateway(gateway.url, job="a/b", registry=registry(m_x=1), grouping_key={"p": "x/y", "e": ""})
    assert gateway.values() == {("m_x", labels("a/b", p="x/y", e="")): 1.0}
    # unpadded and padded forms, as the real Pushgateway accepts
    assert request(f"{gateway.url}/metrics/job@base64/YQ/l@base64/YWI", "PUT", b"n_x 2\n")[0] == 200
    assert request(f"{gateway.url}/metrics/job@base64/YQ==/l@base64/YWI=", "POST", b"o_x 3\n")[0] == 200
    assert gateway.values()[("n_x", labels("a", l="ab"))] == 2.0
    assert gateway.values()[("o_x", labels("a", l="ab"))] == 3.0


def test_parse_group() -> None:
    assert parse_group("/metrics/job/t%20x/model_version/v1") == ("t x", {"model_version": "v1"})
    for path, message in (
        ("/metrics/job/x/a", "odd number"),
        ("/metrics/job/x/1a/b", "improper label name"),
        ("/metrics/a/b/job/x", "must start with job"),
        ("/metrics/job/x/a/1/a/2", "twice"),
        ("/metrics/job@base64/!!", "base64"),
        ("/push/job/x", "unknown path"),
    ):
        with pytest.raises(PushError, match=message):
            parse_group(path)


def test_grouping_labels_override_the_body(gateway: Gateway) -> None:
    status, _ = request(f"{gateway.url}/metrics/job/x/a/y", "PUT", b'm_x{job="other",a="z",b="c"} 1\n')
    assert status == 200
    assert gateway.values() == {("m_x", labels("x", a="y", b="c")): 1.0}


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/metrics/job/x", b"m_x 1 garbage\n", "text format parsing error"),
        ("/metrics/job/x", b'm_x{a="b" 1\n', "text format parsing error"),
        ("/metrics/job/x", b"\xff\xfe\n", "text format parsing error"),
        ("/metrics/job/x/a", b"m_x 1\n", "odd number of components"),
        ("/metrics/job/", b"m_x 1\n", "job name is required"),
        ("/metrics/job/x/__a/b", b"m_x 1\n", "improper label name"),
    ],
)
def test_a_bad_push_is_400_and_changes_nothing(
    gateway: Gateway, path: str, body: bytes, message: str
) -> None:
    push_to_gateway(gateway.url, job="x", registry=registry(m_x=7))
    status, text = request(gateway.url + path, "PUT", body)
    assert status == 400
    assert message in text
    assert gateway.values() == {("m_x", labels("x")): 7.0}


def test_an_empty_put_empties_the_group(gateway: Gateway) -> None:
    push_to_gateway(gateway.url, job="x", registry=registry(m_x=7))
    assert request(f"{gateway.url}/metrics/job/x", "PUT")[0] == 200
    assert gateway.values() == {}


def test_get_metrics_health_and_unknown_paths(gateway: Gateway) -> None:
    pushadd_to_gateway(gateway.url, job="serve", registry=registry(acc_x=0.5), grouping_key={"v": 'a"b'})
    status, text = request(f"{gateway.url}/metrics", "GET")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["acc_x"].type == "gauge"
    assert families["acc_x"].documentation == "help of acc_x"
    [sample] = families["acc_x"].samples
    assert sample.labels == {"instance": "", "job": "serve", "v": 'a"b'}
    assert sample.value == 0.5
    assert request(f"{gateway.url}/-/healthy", "GET") == (200, "OK")
    assert request(f"{gateway.url}/-/ready", "GET") == (200, "OK")
    assert request(f"{gateway.url}/nope", "GET")[0] == 404
    assert request(f"{gateway.url}/metrics/job/x", "DELETE")[0] == 202


def test_nan_and_infinities_round_trip(gateway: Gateway) -> None:
    request(f"{gateway.url}/metrics/job/x", "PUT", b"a_x NaN\nb_x +Inf\nc_x -Inf\n")
    values = {name: value for (name, _), value in gateway.values().items()}
    assert math.isnan(values["a_x"])
    assert values["b_x"] == math.inf
    assert values["c_x"] == -math.inf


def test_values_survive_a_restart_and_axons_are_separate(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with sqlite3.connect(db) as other:  # a table of the runner's state, which the store must leave alone
        other.execute("CREATE TABLE runs (id TEXT)")
        other.execute("INSERT INTO runs VALUES ('r1')")
    first = Gateway(db)
    pushadd_to_gateway(first.url, job="train", registry=registry(rmse_ml__rec=0.91))
    first.close()

    second = Gateway(db)
    neighbour = Gateway(db, axon="another")
    try:
        assert second.values() == {("rmse_ml__rec", labels("train")): 0.91}
        assert neighbour.values() == {}
    finally:
        second.close()
        neighbour.close()
    with sqlite3.connect(db) as other:
        assert other.execute("SELECT id FROM runs").fetchall() == [("r1",)]
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_concurrent_pushes(gateway: Gateway) -> None:
    def push(i: int) -> None:
        pushadd_to_gateway(gateway.url, job=f"job{i}", registry=registry(m_x=i))

    threads = [threading.Thread(target=push, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(gateway.values().values()) == [float(i) for i in range(16)]
