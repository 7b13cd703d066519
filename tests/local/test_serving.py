"""Model servers: model code folders and the real seldon-core 1.17.1 (environments: test_envs.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from myelin_sdk.local.model_server import ModelServer
from myelin_sdk.local.router import Router
from myelin_sdk.local.routes import Route
from myelin_sdk.local.serving import (
    ServingError,
    ensure_env,
    read_model_name,
    read_s2i_environment,
)

from support.processes import until

DOUBLER = Path(__file__).parent / "fixtures" / "doubler"


def post(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --------------------------------------------------------------------------- model code folders


def test_model_name_from_the_code_folder(tmp_path: Path) -> None:
    assert read_model_name(DOUBLER) == "Doubler"
    assert read_s2i_environment(DOUBLER)["SERVICE_TYPE"] == "MODEL"
    (tmp_path / ".s2i").mkdir()
    (tmp_path / ".s2i" / "environment").write_text("# s2i\nMODEL_NAME='Recommender'\nAPI_TYPE=REST\n")
    assert read_model_name(tmp_path) == "Recommender"
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "MyModel.py").write_text("")
    assert read_model_name(bare) == "MyModel"
    assert read_model_name(bare, default="Other") == "Other"
    (bare / "helpers.py").write_text("")
    with pytest.raises(ServingError, match="MODEL_NAME"):
        read_model_name(bare)


def test_model_server_without_seldon_core(tmp_path: Path) -> None:
    server = ModelServer(tmp_path / "venv" / "bin" / "python", DOUBLER)
    with pytest.raises(ServingError, match="seldon-core"):
        server.start()
    with pytest.raises(ServingError, match="not been started"):
        _ = server.url


# --------------------------------------------------------------------------- the real seldon-core (slow)


@pytest.fixture(scope="session")
def seldon_python(serving_env_cache: Path) -> Path:
    """A real seldon-core 1.17.1 environment, built once per session (cache: tests/local/conftest.py)."""
    return ensure_env(DOUBLER / "requirements.txt", serving_env_cache)


@pytest.fixture
def servers(seldon_python: Path, tmp_path: Path) -> Iterator[list[ModelServer]]:
    made: list[ModelServer] = []
    yield made
    for server in made:
        server.stop()


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_seldon_models_behind_the_router(
    seldon_python: Path, servers: list[ModelServer], tmp_path: Path
) -> None:
    feedback = tmp_path / "feedback.jsonl"
    for version in ("v1", "v2"):
        server = ModelServer(
            seldon_python,
            DOUBLER,
            env={"MODEL_VERSION": version, "FEEDBACK_FILE": str(feedback)},
            log_path=tmp_path / f"{version}.log",
        )
        servers.append(server)
        server.start(timeout=60)
        assert server.ready_seconds is not None and server.ready_seconds < 30
    status, body = post(servers[0].url + "/api/v1.0/predictions", {"data": {"ndarray": [[1, 2]]}})
    assert (status, body) == (200, {"data": {"names": ["t:0", "t:1"], "ndarray": [[2, 4]]}, "meta": {}})

    with Router("Doubler") as router:
        router.set_routes([Route("v1", servers[0].url, 50), Route("v2", servers[1].url, 50)])
        answered = []
        for i in range(6):
            status, body = post(router.url + "/predict", {"data": {"ndarray": [[i, 10]]}})
            assert status == 200
            assert body["data"]["ndarray"] == [[2 * i, 20]]
            version = body["meta"]["requestPath"]["Doubler"]
            answered.append(version)
            message = {"request": {"data": {"ndarray": [[i, 10]]}}, "response": body, "reward": i}
            status, ack = post(router.url + "/send-feedback", message)
            assert (status, ack) == (200, {"data": {"ndarray": []}, "meta": {}})
        status, body = post(router.url + "/predict", {"no": "data"})
        assert status in (400, 500) and body["status"]["status"] in (1, "FAILURE")

    received = [json.loads(line) for line in feedback.read_text().splitlines()]
    assert [(r["version"], r["reward"]) for r in received] == [(v, i) for i, v in enumerate(answered)]

    for server in servers:
        pgid = server.pid
        assert pgid is not None
        server.stop()
        assert _group_gone(pgid)
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)


@pytest.mark.slow
def test_a_model_that_cannot_load_fails_with_its_log(seldon_python: Path, tmp_path: Path) -> None:
    server = ModelServer(seldon_python, DOUBLER, model_class="NoSuchModel", log_path=tmp_path / "bad.log")
    started = time.monotonic()
    with pytest.raises(ServingError) as caught:
        server.start(timeout=60)
    assert "exited with status" in str(caught.value)
    assert "NoSuchModel" in str(caught.value)  # the import error, from the log's tail
    assert time.monotonic() - started < 30
    assert server.pid is not None and _group_gone(server.pid)


def _listeners(pids: set[int]) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket listening in one of ``pids``, from the kernel's socket table."""
    return sorted(
        (c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.pid in pids
    )


@pytest.mark.slow
def test_a_model_server_listens_on_loopback_only(seldon_python: Path, servers: list[ModelServer]) -> None:
    server = ModelServer(seldon_python, DOUBLER, env={"FEEDBACK_FILE": os.devnull})
    servers.append(server)
    server.start(timeout=60)
    assert server.pid is not None and server.created == psutil.Process(server.pid).create_time()
    group = {p.pid for p in psutil.process_iter() if _pgid(p.pid) == server.pid}
    assert server.pid in group and len(group) >= 2  # the server and seldon-core's metrics manager
    # one listener, the REST port, on 127.0.0.1: no gRPC, no metrics port, nothing on 0.0.0.0
    assert _listeners(group) == [("127.0.0.1", server.http_port)]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


@pytest.mark.slow
def test_a_send_feedback_without_routing_is_served(
    seldon_python: Path, servers: list[ModelServer], tmp_path: Path
) -> None:
    """The original Myelin examples' ``send_feedback(self, features, feature_names, reward, truth)``."""
    feedback = tmp_path / "feedback.jsonl"
    server = ModelServer(
        seldon_python,
        DOUBLER,
        model_class="OldDoubler",
        env={"FEEDBACK_FILE": str(feedback)},
        log_path=tmp_path / "old.log",
    )
    servers.append(server)
    server.start(timeout=60)
    status, body = post(server.url + "/api/v1.0/predictions", {"data": {"ndarray": [[3]]}})
    assert (status, body["data"]["ndarray"]) == (200, [[6]])
    message = {"request": {"data": {"ndarray": [[3]]}}, "response": body, "reward": 0.25, "truth": {}}
    status, ack = post(server.url + "/api/v1.0/feedback", message)
    assert status == 200, ack  # seldon-core 1.17.1 alone answers 500: unexpected keyword argument 'routing'
    assert [json.loads(line) for line in feedback.read_text().splitlines()] == [
        {"reward": 0.25, "features": [[3]]}
    ]
    assert "send_feedback takes no routing argument: adapted" in (tmp_path / "old.log").read_text()


RUNNER = """\
import sys, time
from pathlib import Path
from myelin_sdk.local.executor import TaskProcess
from myelin_sdk.local.model_server import ModelServer

server = ModelServer(Path(sys.argv[1]), Path(sys.argv[2]), env={"FEEDBACK_FILE": "/dev/null"},
                     log_path=Path(sys.argv[3]) / "server.log")
server.start(timeout=60)
# a task whose child outlives it, in the task's group: the watchdog must end both
task = TaskProcess.start([sys.executable, "-c", "import subprocess, time; "
                          "subprocess.Popen(['sleep', '600']); time.sleep(600)"],
                         cwd=Path(sys.argv[3]), env={"PATH": "/usr/bin:/bin"},
                         log=Path(sys.argv[3]) / "task.log")
print(server.pid, task.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_nothing_outlives_a_runner_killed_with_sigkill(seldon_python: Path, tmp_path: Path) -> None:
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(seldon_python), str(DOUBLER), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert runner.stdout is not None
    server_pid, task_pid = map(int, runner.stdout.readline().split())
    assert until(lambda: len(psutil.Process(runner.pid).children(recursive=True)) >= 5, 10)
    started = psutil.Process(runner.pid).children(
        recursive=True
    )  # server, its manager, task, sleep, watchdog
    assert {server_pid, task_pid} <= {p.pid for p in started}
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(timeout=10)
    _, alive = psutil.wait_procs(started, timeout=10)
    assert alive == []
    assert _group_gone(server_pid) and _group_gone(task_pid)
