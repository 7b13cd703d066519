"""The local canary router, over real HTTP, in front of tiny stdlib backends on loopback."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from myelin_sdk.local.router import Router
from myelin_sdk.local.routes import Backend, Route

from support.http_target import Loopback, QuietHandler


class FakeModel(Loopback):
    """A Seldon-protocol backend: doubles ``data.ndarray``, 400 on strings, records feedback."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.feedback: list[dict[str, Any]] = []
        self.predictions = 0
        self.gate: threading.Event | None = None  # when set, predictions wait for it
        self.entered = threading.Event()
        model = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/api/v1.0/predictions":
                    model.predictions += 1
                    model.entered.set()
                    if model.gate is not None:
                        model.gate.wait(10)
                    values = body["data"]["ndarray"]
                    if any(isinstance(v, str) for v in values):
                        status = 400
                        answer: dict[str, Any] = {
                            "status": {"code": -1, "info": "bad", "reason": "MICROSERVICE_BAD_DATA"}
                        }
                    else:
                        status = 200
                        answer = {"data": {"names": ["t:0"], "ndarray": [v * 2 for v in values]}, "meta": {}}
                    answer["served_by"] = model.name
                elif self.path == "/api/v1.0/feedback":
                    model.feedback.append(body)
                    status, answer = 200, {"data": {"ndarray": []}, "meta": {}}
                else:
                    status, answer = 404, {}
                self.answer(status, json.dumps(answer).encode())

        super().__init__(Handler)

    def close(self) -> None:
        if self.gate is not None:
            self.gate.set()
        super().close()


def call(url: str, path: str, body: Any = None, method: str = "POST") -> tuple[int, dict[str, str], Any]:
    """(status, headers, JSON body) of one request."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        text = response.read()
        return response.status, dict(response.getheaders()), json.loads(text) if text else None
    finally:
        connection.close()


def predict(url: str, values: list[Any], path: str = "/predict") -> tuple[int, dict[str, str], Any]:
    return call(url, path, {"data": {"ndarray": values}})


@contextmanager
def fake_models(*names: str) -> Iterator[dict[str, FakeModel]]:
    """A :class:`FakeModel` for each name, closed on leaving."""
    made = {name: FakeModel(name) for name in names}
    try:
        yield made
    finally:
        for model in made.values():
            model.close()


@pytest.fixture
def models() -> Iterator[dict[str, FakeModel]]:
    with fake_models("a", "b", "c") as made:
        yield made


@pytest.fixture
def router() -> Iterator[Router]:
    with Router("m", rng=random.Random(42)) as running:
        yield running


def test_route_and_backend_validation() -> None:
    with pytest.raises(ValueError, match="sum to 100"):
        Route("v1", [Backend("http://127.0.0.1:1", 60), Backend("http://127.0.0.1:2", 30)], 100)
    with pytest.raises(ValueError, match="http://host:port"):
        Route("v1", "localhost:80")
    with pytest.raises(ValueError, match="version name"):
        Route("", "http://127.0.0.1:1")
    with pytest.raises(ValueError, match="between 0 and 100"):
        Route("v1", "http://127.0.0.1:1", 120)
    router = Router()
    with pytest.raises(ValueError, match="sum to 100"):
        router.set_routes([Route("v1", "http://127.0.0.1:1", 50), Route("v2", "http://127.0.0.1:2", 40)])
    with pytest.raises(ValueError, match="routed once"):
        router.set_routes([Route("v1", "http://127.0.0.1:1", 50), Route("v1", "http://127.0.0.1:2", 50)])
    router.set_routes([])  # no version: allowed, answers 503
    route = Route("v1", Backend("http://127.0.0.1:1", name="B"), 100)
    assert route.backends == (Backend("http://127.0.0.1:1", 100, "B"),)
    with pytest.raises(AttributeError):
        route.weight = 5  # type: ignore[misc]


def test_weights_are_respected_statistically() -> None:
    router = Router("m", rng=random.Random(7))
    split = Route("v2", [Backend("http://127.0.0.1:2", 70, "x"), Backend("http://127.0.0.1:3", 30, "y")], 80)
    router.set_routes([Route("v1", "http://127.0.0.1:1", 20), split, Route("v0", "http://127.0.0.1:4", 0)])
    counts: dict[tuple[str, int], int] = {}
    for _ in range(2000):
        picked = router.pick()
        assert picked is not None
        key = (picked[0].version, picked[1])
        counts[key] = counts.get(key, 0) + 1
    assert ("v0", 0) not in counts  # weight 0 is never chosen
    assert abs(counts[("v1", 0)] / 2000 - 0.20) < 0.03
    assert abs(counts[("v2", 0)] / 2000 - 0.56) < 0.03
    assert abs(counts[("v2", 1)] / 2000 - 0.24) < 0.03


def test_weights_over_http(router: Router, models: dict[str, FakeModel]) -> None:
    router.set_routes([Route("v1", models["a"].url, 75), Route("v2", models["b"].url, 25)])
    versions = [predict(router.url, [1])[1]["X-Myelin-Version"] for _ in range(200)]
    assert 0.65 < versions.count("v1") / 200 < 0.85
    stats = router.stats()
    assert stats["v1"].requests + stats["v2"].requests == 200
    assert (models["a"].predictions, models["b"].predictions) == (stats["v1"].requests, stats["v2"].requests)


@pytest.mark.parametrize("path", ["/predict", "/api/v1.0/predictions"])
def test_predict_forwards_and_annotates(router: Router, models: dict[str, FakeModel], path: str) -> None:
    router.set_routes([Route("v1", models["a"].url)])
    status, headers, body = predict(router.url, [1, 2], path)
    assert status == 200
    assert headers["X-Myelin-Version"] == "v1"
    assert body["data"] == {"names": ["t:0"], "ndarray": [2, 4]}
    assert body["meta"] == {"requestPath": {"m": "v1"}}
    assert "routing" not in body["meta"]  # one backend: no router node


def test_model_errors_pass_through_unchanged(router: Router, models: dict[str, FakeModel]) -> None:
    router.set_routes([Route("v1", models["a"].url)])
    status, headers, body = predict(router.url, ["x"])
    assert status == 400
    assert body == {
        "status": {"code": -1, "info": "bad", "reason": "MICROSERVICE_BAD_DATA"},
        "served_by": "a",
    }
    assert headers["X-Myelin-Version"] == "v1"
    assert router.stats()["v1"].errors == 1


def test_no_version_deployed_is_503(router: Router) -> None:
    for path in ("/predict", "/api/v1.0/predictions", "/send-feedback", "/api/v1.0/feedback"):
        status, _, body = call(router.url, path, {"data": {"ndarray": [1]}})
        assert status == 503
        assert body["status"]["reason"] == "MYELIN_NO_VERSION"
    assert call(router.url, "/health", method="GET")[0] == 503


def test_health_other_paths_and_methods(router: Router, models: dict[str, FakeModel]) -> None:
    router.set_routes([Route("v1", models["a"].url, 60), Route("v2", models["b"].url, 40)])
    status, _, body = call(router.url, "/health", method="GET")
    assert (status, body["versions"]) == (200, {"v1": 60, "v2": 40})
    assert call(router.url, "/nope", {})[0] == 404
    assert call(router.url, "/nope", method="GET")[0] == 404
    assert call(router.url, "/predict", method="GET")[0] == 405


def test_unreachable_backend_is_502(router: Router, models: dict[str, FakeModel]) -> None:
    dead = models["c"]
    dead.close()
    router.set_routes([Route("v1", dead.url)])
    status, headers, body = predict(router.url, [1])
    assert status == 502
    assert body["status"]["reason"] == "MYELIN_BACKEND_ERROR"
    assert headers["X-Myelin-Version"] == "v1"
    assert router.stats()["v1"].errors == 1


def test_feedback_goes_to_the_version_that_answered(router: Router, models: dict[str, FakeModel]) -> None:
    router.set_routes([Route("v1", models["a"].url, 50), Route("v2", models["b"].url, 50)])
    answered = []
    for i in range(20):
        _, headers, response = predict(router.url, [i])
        answered.append(headers["X-Myelin-Version"])
        status, fb_headers, fb_body = call(
            router.url,
            "/send-feedback",
            {"request": {"data": {"ndarray": [i]}}, "response": response, "reward": i},
        )
        assert status == 200
        assert fb_body == {"data": {"ndarray": []}, "meta": {}}
        assert fb_headers["X-Myelin-Version"] == headers["X-Myelin-Version"]
    assert set(answered) == {"v1", "v2"}
    rewards = {
        "v1": [f["reward"] for f in models["a"].feedback],
        "v2": [f["reward"] for f in models["b"].feedback],
    }
    assert rewards == {v: [i for i, a in enumerate(answered) if a == v] for v in ("v1", "v2")}
    # a version no longer live, or no meta at all: a weighted choice among the live ones
    router.set_routes([Route("v3", models["c"].url)])
    old = {"response": {"meta": {"requestPath": {"m": "v1"}}}, "reward": 1}
    assert call(router.url, "/api/v1.0/feedback", old)[1]["X-Myelin-Version"] == "v3"
    assert call(router.url, "/send-feedback", {"reward": 1})[1]["X-Myelin-Version"] == "v3"
    assert len(models["c"].feedback) == 2
    assert router.stats()["v3"].feedback == 2


def test_routing_strategy_backends(router: Router, models: dict[str, FakeModel]) -> None:
    ab = Route("v1", [Backend(models["a"].url, 50, "A"), Backend(models["b"].url, 50, "B")])
    router.set_routes([ab])
    served: dict[str, list[int]] = {"a": [], "b": []}
    for i in range(20):
        _, _, response = predict(router.url, [i])
        index = response["meta"]["routing"]["m"]
        assert response["served_by"] == "ab"[index]
        served[response["served_by"]].append(i)
        call(router.url, "/send-feedback", {"response": response, "reward": i})
    assert served["a"] and served["b"]
    assert [f["reward"] for f in models["a"].feedback] == served["a"]
    assert [f["reward"] for f in models["b"].feedback] == served["b"]
    # without meta.routing, Seldon's router sends the feedback to every child
    before = len(models["a"].feedback), len(models["b"].feedback)
    call(router.url, "/send-feedback", {"response": {"meta": {"requestPath": {"m": "v1"}}}, "reward": 9})
    assert (len(models["a"].feedback), len(models["b"].feedback)) == (before[0] + 1, before[1] + 1)


def test_swap_while_a_slow_request_is_in_flight(router: Router, models: dict[str, FakeModel]) -> None:
    slow, fresh = models["a"], models["b"]
    slow.gate = threading.Event()
    router.set_routes([Route("v1", slow.url)])
    result: list[tuple[int, dict[str, str], Any]] = []
    worker = threading.Thread(target=lambda: result.append(predict(router.url, [21])))
    worker.start()
    assert slow.entered.wait(5)
    assert router.stats()["v1"].in_flight == 1

    router.set_routes([Route("v2", fresh.url)])  # the swap: new requests go to v2 at once
    status, headers, _ = predict(router.url, [1])
    assert (status, headers["X-Myelin-Version"]) == (200, "v2")
    assert router.wait_idle("v1", timeout=0.2) is False  # v1 still has the slow request

    slow.gate.set()
    assert router.wait_idle("v1", timeout=5) is True
    worker.join(5)
    status, headers, body = result[0]
    assert (status, headers["X-Myelin-Version"], body["data"]["ndarray"]) == (200, "v1", [42])
    stats = router.stats()
    assert (stats["v1"].weight, stats["v1"].in_flight, stats["v2"].weight) == (None, 0, 100)


def test_wait_idle_of_an_unknown_version_is_immediate() -> None:
    started = time.monotonic()
    assert Router().wait_idle("never", timeout=5) is True
    assert time.monotonic() - started < 1


def test_router_start_stop_and_port(models: dict[str, FakeModel]) -> None:
    router = Router()
    with pytest.raises(RuntimeError):
        _ = router.url
    router.start()
    url = router.url
    assert url.startswith("http://127.0.0.1:") and router.port > 0
    router.set_routes([Route("v1", models["a"].url)])
    assert predict(url, [1])[0] == 200
    router.stop()
    with pytest.raises(OSError):
        predict(url, [1])


# --------------------------------------------------------------------------- kept-alive backend connections


class KeepAliveModel(Loopback):
    """An HTTP/1.1 backend that counts the TCP connections it accepted. ``mode``: ``"keep"`` keeps each
    connection open; ``"close-idle"`` closes it right after answering (without ``Connection: close``, as
    a keep-alive timeout does); ``"drop-second"`` reads the second request of a connection, then closes it
    without answering (the race where the server times the connection out as the request arrives)."""

    def __init__(self, mode: str = "keep") -> None:
        self.mode = mode
        self.connections = 0
        self.requests: list[str] = []
        self.lock = threading.Lock()
        model = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                self.served = 0
                with model.lock:
                    model.connections += 1

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.served += 1
                with model.lock:
                    model.requests.append(self.path)
                if model.mode == "drop-second" and self.served == 2:
                    self.close_connection = True
                    return
                self.answer(200, json.dumps({"data": {"ndarray": [1]}, "meta": {}}).encode())
                if model.mode == "close-idle":
                    self.close_connection = True

        super().__init__(Handler)


@pytest.fixture
def keep_alive() -> Iterator[KeepAliveModel]:
    model = KeepAliveModel()
    yield model
    model.close()


def test_backend_connections_are_kept_alive_and_reused(router: Router, keep_alive: KeepAliveModel) -> None:
    router.set_routes([Route("v1", keep_alive.url)])
    for _ in range(30):
        assert predict(router.url, [1])[0] == 200
    assert keep_alive.connections == 1  # one connection carried all 30 requests
    assert len(keep_alive.requests) == 30


def test_the_pool_is_thread_safe(router: Router, keep_alive: KeepAliveModel) -> None:
    router.set_routes([Route("v1", keep_alive.url)])
    statuses: list[int] = []

    def work() -> None:
        for _ in range(25):
            statuses.append(predict(router.url, [1])[0])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 200 and len(keep_alive.requests) == 200
    assert keep_alive.connections <= 8  # never more connections than concurrent requests
    assert router.stats()["v1"].errors == 0


def test_a_connection_the_server_closed_while_idle_is_not_used(router: Router) -> None:
    model = KeepAliveModel("close-idle")
    try:
        router.set_routes([Route("v1", model.url)])
        for _ in range(5):
            time.sleep(0.05)  # the server's close reaches the router's idle connection
            assert predict(router.url, [1])[0] == 200
        assert model.connections == 5 and len(model.requests) == 5
    finally:
        model.close()


def test_a_dropped_kept_alive_connection_is_retried_once_for_predictions_only(router: Router) -> None:
    model = KeepAliveModel("drop-second")
    try:
        router.set_routes([Route("v1", model.url)])
        assert predict(router.url, [1])[0] == 200
        # the kept-alive connection answers nothing to the second request: a prediction is sent again
        status, _, body = predict(router.url, [1])
        assert (status, body["data"]["ndarray"]) == (200, [1])
        assert model.connections == 2 and len(model.requests) == 3
        assert router.stats()["v1"].errors == 0
        # feedback is not idempotent: the same failure (the 2nd connection's 2nd request) is not retried
        status, _, body = call(router.url, "/send-feedback", {"reward": 1})
        assert status == 502 and body["status"]["reason"] == "MYELIN_BACKEND_ERROR"
        assert model.requests.count("/api/v1.0/feedback") == 1  # sent once, never twice
    finally:
        model.close()


def test_stats_give_latency_percentiles(router: Router, keep_alive: KeepAliveModel) -> None:
    router.set_routes([Route("v1", keep_alive.url)])
    assert router.stats()["v1"].p50 is None
    for _ in range(20):
        predict(router.url, [1])
    stats = router.stats()["v1"]
    assert stats.p50 is not None and stats.p95 is not None
    assert 0 < stats.p50 <= stats.p95 < 1.0 and stats.requests == 20


def test_routes_removed_close_their_pool(router: Router, keep_alive: KeepAliveModel) -> None:
    other = KeepAliveModel()
    try:
        router.set_routes([Route("v1", keep_alive.url)])
        predict(router.url, [1])
        router.set_routes([Route("v2", other.url)])
        predict(router.url, [1])
        router.set_routes([Route("v1", keep_alive.url)])  # back: a new connection, the old one was closed
        predict(router.url, [1])
        assert keep_alive.connections == 2 and other.connections == 1
    finally:
        other.close()
