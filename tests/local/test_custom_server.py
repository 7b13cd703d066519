"""Custom model servers: which deploy tasks are one (a Dockerfile whose command is not seldon-core's), and the
process the runner starts from the command — on the ``PORT`` it picks, in its own process group."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

import pytest

from myelin_sdk import DeployTask
from myelin_sdk.local.custom_server import CustomServer, custom_dockerfile
from myelin_sdk.local.serving import ServingError
from myelin_sdk.spec import Axon

SERVER = """
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["MODEL_PATH"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def _task(dockerfile: str | None, tmp_path: Path, s2i: bool = False) -> DeployTask:
    build: dict[str, object] = {"repositoryName": "r", "artifact": "code", "buildLocation": "/src"}
    if dockerfile is not None:
        (tmp_path / "Dockerfile").write_text(dockerfile)
        build["dockerfile"] = {"path": "Dockerfile"}
    if s2i:
        build["s2i"] = {"builderImage": "seldonio/seldon-core-s2i-python3:1.17.1"}
    axon = Axon.from_yaml(
        json.dumps(
            {
                "apiVersion": "myelin.io/v1alpha1",
                "kind": "Axon",
                "metadata": {"name": "x"},
                "spec": {
                    "artifacts": [{"name": "code", "path": "/src", "git": {"repo": "r"}}],
                    "tasks": [{"name": "Serve", "deploy": {"imageBuild": build}}],
                },
            }
        )
    )
    task: DeployTask = axon.task("Serve")
    return task


def test_a_deploy_task_is_a_custom_server_when_its_dockerfile_runs_its_own_app(tmp_path: Path) -> None:
    parsed = custom_dockerfile(
        _task("FROM python\nCOPY . /srv\nWORKDIR /srv\nCMD python server.py\n", tmp_path), tmp_path
    )
    assert parsed is not None and parsed.command == ["python", "server.py"]
    assert parsed.workdir == tmp_path.resolve()
    seldon = "FROM python\nCMD seldon-core-microservice Model --service-type MODEL\n"
    assert custom_dockerfile(_task(seldon, tmp_path), tmp_path) is None  # a Seldon class
    assert custom_dockerfile(_task(None, tmp_path, s2i=True), tmp_path) is None  # s2i: a Seldon class


def test_a_custom_server_listens_on_the_port_it_is_given_and_stops_with_its_group(tmp_path: Path) -> None:
    (tmp_path / "server.py").write_text(SERVER)
    env = {"PATH": os.environ["PATH"], "MODEL_PATH": "/models/v1/"}
    server = CustomServer([sys.executable, "server.py"], tmp_path, env=env, log_path=tmp_path / "log")
    server.start(timeout=30)
    try:
        with urllib.request.urlopen(server.url, timeout=5) as answer:
            assert answer.read() == b"/models/v1/"  # the runtime contract reaches the app
        assert server.url == f"http://127.0.0.1:{server.http_port}"
        pid = server.pid
        assert pid is not None and os.getpgid(pid) == pid  # the leader of its own process group
    finally:
        server.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_a_custom_server_that_exits_is_a_clear_error_with_its_log(tmp_path: Path) -> None:
    (tmp_path / "server.py").write_text("import sys\nprint('no model here')\nsys.exit(3)\n")
    server = CustomServer(
        [sys.executable, "server.py"], tmp_path, env=dict(os.environ), log_path=tmp_path / "log"
    )
    with pytest.raises(ServingError, match=r"exited with status 3 before it was ready") as error:
        server.start(timeout=30)
    assert "127.0.0.1:$PORT" in str(error.value) and "no model here" in str(error.value)
