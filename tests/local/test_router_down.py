"""Backends marked down get no traffic (:meth:`Router.mark_down`), ``/health`` says so, and the
:class:`~myelin_sdk.local.supervisor.Supervisor` reports a dead or hung server once. Real HTTP servers on
loopback and a real subprocess; the seldon-core model servers are in ``test_faults.py``."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from myelin_sdk.local.router import Router
from myelin_sdk.local.routes import Backend, Route
from myelin_sdk.local.supervisor import Supervisor

from .test_router import FakeModel, call, fake_models, predict


@pytest.fixture
def models() -> Iterator[dict[str, FakeModel]]:
    with fake_models("a", "b", "c") as made:
        yield made


@pytest.fixture
def router() -> Iterator[Router]:
    with Router("m", rng=random.Random(7)) as running:
        yield running


def _served_by(router: Router, n: int = 60) -> set[str]:
    seen = set()
    for _ in range(n):
        status, _, body = predict(router.url, [1])
        assert status == 200, body
        seen.add(body["served_by"])
    return seen


def test_a_version_whose_backend_is_down_gets_no_traffic(
    router: Router, models: dict[str, FakeModel]
) -> None:
    router.set_routes([Route("v2", models["a"].url, 10), Route("v1", models["b"].url, 90)])
    router.mark_down(models["b"].url)  # the stable version's server died
    assert _served_by(router) == {"a"}  # the canary takes all traffic
    status, _, body = call(router.url, "/health", method="GET")
    assert (status, body["versions"], body["down"]) == (200, {"v2": 100.0}, [models["b"].url])
    router.mark_up(models["b"].url)
    assert _served_by(router) == {"a", "b"}
    status, _, body = call(router.url, "/health", method="GET")
    assert (status, body["versions"], "down" in body) == (200, {"v2": 10, "v1": 90}, False)


def test_health_is_503_when_every_version_is_down(router: Router, models: dict[str, FakeModel]) -> None:
    router.set_routes([Route("v1", models["a"].url)])
    router.mark_down(models["a"].url)
    status, _, body = call(router.url, "/health", method="GET")
    assert (status, body["status"], body["down"]) == (503, "no live model server", [models["a"].url])
    assert predict(router.url, [1])[0] == 503
    # a new deploy without that server ends its down mark
    router.set_routes([Route("v1", models["b"].url)])
    assert router.down == frozenset()
    assert _served_by(router, 5) == {"b"}


def test_another_backend_of_the_model_takes_a_down_backends_share(
    router: Router, models: dict[str, FakeModel]
) -> None:
    ab = Route("v1", [Backend(models["a"].url, 70, "A"), Backend(models["b"].url, 30, "B")], 100)
    router.set_routes([ab])
    router.mark_down(models["a"].url)
    assert _served_by(router) == {"b"}
    [route] = router.routes
    assert [(b.name, b.weight) for b in route.backends] == [("B", 100.0)]


class _Server:
    """A subprocess that listens on a port: what the supervisor watches (``running``, ``url``)."""

    model_class = None  # probed as a custom server: a TCP connection

    def __init__(self) -> None:
        code = (
            "import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(50)\n"
            "print(s.getsockname()[1], flush=True)\n"
            "time.sleep(600)\n"
        )
        self.process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"

    @property
    def running(self) -> bool:
        return self.process.poll() is None


def test_the_supervisor_reports_a_killed_server_once_within_a_second() -> None:
    reports: list[tuple[Any, str, float]] = []
    seen = threading.Event()

    def down(key: Any, server: Any, why: str) -> None:
        reports.append((key, why, time.monotonic()))
        seen.set()

    supervisor = Supervisor(down, interval=0.05)
    supervisor.start()
    alive, dead = _Server(), _Server()
    try:
        supervisor.watch("alive", alive)
        supervisor.watch("dead", dead)
        time.sleep(0.3)
        assert reports == []  # both answer
        killed = time.monotonic()
        dead.process.kill()
        assert seen.wait(5)
        time.sleep(0.5)
        [(key, why, at)] = reports  # once, and only the dead one
        assert (key, why) == ("dead", "its process exited")
        assert at - killed < 1.0
    finally:
        supervisor.stop()
        for server in (alive, dead):
            server.process.kill()
            server.process.wait()


def test_the_supervisor_reports_a_server_that_stops_answering() -> None:
    reports: list[str] = []
    supervisor = Supervisor(
        lambda key, server, why: reports.append(why), interval=0.05, probe_every=0.1, probe_timeout=0.2
    )
    server = _Server()
    server.url = "http://127.0.0.1:1"  # nothing listens there: every probe fails, the process runs
    supervisor.watch("hung", server)
    supervisor.start()
    try:
        deadline = time.monotonic() + 5
        while not reports and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reports == ["it failed 5 health checks in a row"]
    finally:
        supervisor.stop()
        server.process.kill()
        server.process.wait()
