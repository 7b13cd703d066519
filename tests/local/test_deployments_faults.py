"""The deployments manager replaces a model server that died, and a deploy never keeps a dead one.

The model servers here are real HTTP servers in this process (Seldon protocol, from test_router) behind the
real router, supervisor and state; only starting a seldon-core process is replaced (``_server``), so the
test runs in a second. test_faults.py does the same with real seldon-core processes and ``kill -9``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from myelin_sdk import Axon, BackendModel, Deployer, DeployTask, Model, TrainTask
from myelin_sdk.local.deployments import Deployments, ServingContext
from myelin_sdk.local.state import State
from myelin_sdk.local.workspace import RunDir

from .test_router import FakeModel, call, predict


class _Server:
    """What Deployments needs of a model server, around an in-process Seldon-protocol HTTP server."""

    def __init__(self) -> None:
        self.model = FakeModel("m")
        self.url = self.model.url
        self.alive = True
        self.stopped = False

    @property
    def running(self) -> bool:
        return self.alive

    def die(self) -> None:  # its "main process" exits: the port closes too
        self.alive = False
        self.model.close()

    def stop(self, grace: float = 5.0) -> None:
        if self.alive:
            self.model.close()
        self.alive, self.stopped = False, True


@pytest.fixture
def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Deployments, Deployer, list[_Server]]]:
    with Axon("faulty") as axon:
        train, serve = TrainTask("Train", command=["true"]), DeployTask("Serve", command=["true"])
    deployer = Deployer(
        "d", models=[Model("M", backend_models=[BackendModel("B", trainer=train, deployer=serve)])]
    )
    state = State.open(tmp_path / "state.db")
    lines: list[str] = []
    context = ServingContext(
        axon=axon,
        run_dir=RunDir(tmp_path),
        state=state,
        code_dirs={},
        pushgateway_url="",
        env_cache=tmp_path,
        port=0,
        task_env=lambda name: {},
        log=lines.append,
        stop=threading.Event(),
    )
    deployments = Deployments(context)
    started: list[_Server] = []

    def start(*args: Any) -> _Server:
        server = _Server()
        started.append(server)
        return server

    monkeypatch.setattr(deployments, "_server", start)
    deployments._serve(deployer, [{"label": "v1", "models": {"B": "x"}, "traffic": 100}])
    yield deployments, deployer, started
    context.stop.set()
    deployments.stop()
    state.close()


def _until(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_dead_model_server_is_replaced_and_gets_no_traffic(
    served: tuple[Deployments, Deployer, list[_Server]],
) -> None:
    deployments, _, started = served
    url = deployments.endpoint("d")
    assert url is not None and predict(url, [1])[0] == 200
    started[0].die()
    assert _until(lambda: len(started) == 2), "no replacement was started"
    assert _until(lambda: predict(url, [1])[0] == 200, 2)
    status, _, body = call(url, "/health", method="GET")
    assert (status, body["versions"], "down" in body) == (200, {"v1": 100}, False)
    [route] = deployments._served["d"].router.routes
    assert route.backends[0].url == started[1].url  # the dead one is no longer routed


def test_a_deploy_does_not_keep_a_dead_server(served: tuple[Deployments, Deployer, list[_Server]]) -> None:
    deployments, deployer, started = served
    deployments._supervisor.stop()  # the deploy alone must notice
    started[0].die()
    deployments._serve(deployer, [{"label": "v1", "models": {"B": "x"}, "traffic": 100}])
    assert len(started) == 2 and started[0].stopped
    url = deployments.endpoint("d")
    assert url is not None and predict(url, [1])[0] == 200
