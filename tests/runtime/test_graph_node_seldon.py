"""The graph node under seldon-core 1.17.1's own microservice, as in its image: the build context the
compiler writes (``graph.py``, ``graph_node.py``), started with ``seldon-core-microservice
graph_node.GraphNode`` and the ``PREDICTIVE_UNIT_PARAMETERS`` the operator derives from the compiled graph
node's ``parameters``. The model's own server is a real HTTP server here; the test checks what reaches it
and what the wrapper answers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from myelin_sdk import CompileOptions
from myelin_sdk.compiler.seldon import seldon_deployments
from myelin_sdk.compiler.seldon.node_image import DOCKERFILE, build_context
from myelin_sdk.loader import load_path
from myelin_sdk.local.envs import ensure_env

from support.http_target import Target, form_json

pytestmark = pytest.mark.slow

EVERY = Path(__file__).resolve().parents[1] / "fixtures" / "graphs" / "every-graph-feature.yaml"


@pytest.fixture(scope="module")
def seldon_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with seldon-core 1.17.1 (the version the Dockerfile installs), cached."""
    assert "seldon-core==1.17.1" in DOCKERFILE
    kept = os.environ.get("MYELIN_TEST_ENV_CACHE")
    cache = Path(kept) if kept else tmp_path_factory.mktemp("serving-envs")
    requirements = tmp_path_factory.mktemp("graph-node") / "requirements.txt"
    requirements.write_text("")
    return ensure_env(requirements, cache).parent


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("context")
    for name, text in build_context().items():
        (folder / name).write_text(text)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def compiled_node(name: str) -> dict[str, Any]:
    """A graph node of the test Axon's /predict SeldonDeployment, as compiled."""
    axon = load_path(EVERY)
    deployer = next(s.deployer for sensor in axon.sensors for s in sensor.tasks if s.deployer is not None)
    from myelin_sdk.compiler.seldon import GraphVersion

    doc = seldon_deployments(axon, deployer, [GraphVersion.uniform(deployer, "v1")], CompileOptions())[0]

    def find(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield node
        for child in node.get("children", []):
            yield from find(child)

    return next(n for n in find(doc["spec"]["predictors"][0]["graph"]) if n["name"] == name)


class Microservice:
    """``seldon-core-microservice graph_node.GraphNode`` with ``parameters``, in its own process group."""

    def __init__(self, seldon_bin: Path, context: Path, parameters: list[dict[str, str]], kind: str) -> None:
        self.port = free_port()
        env = {
            "PATH": f"{seldon_bin}:/usr/bin:/bin",
            "PYTHONPATH": str(context),
            "PREDICTIVE_UNIT_PARAMETERS": json.dumps(parameters),
            "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(self.port),
            "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(free_port()),
            "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(free_port()),
            "GUNICORN_WORKERS": "1",
        }
        self.process = subprocess.Popen(
            [str(seldon_bin / "seldon-core-microservice"), "graph_node.GraphNode", "--service-type", kind],
            cwd=context, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(self.process.communicate()[0].decode(errors="replace")[-3000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.close()
        raise AssertionError("the microservice did not listen within 60 s")

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def with_target(parameters: list[dict[str, str]], url: str) -> list[dict[str, str]]:
    """The compiled parameters with the target (and feedback) pointed at the test's server."""
    out = []
    for p in parameters:
        if p["name"] in ("target", "feedback"):
            path = "/" + p["value"].split("/", 3)[3]
            p = {**p, "value": f"{url}{path}"}
        out.append(p)
    return out


def test_the_compiled_combiner_aggregates_through_seldon_core(seldon_bin: Path, context: Path) -> None:
    node = compiled_node("blender")  # Blender: dependencies Ranker, Scaler, Remote, and includeInput
    assert node["type"] == "COMBINER"
    target = Target()
    service = Microservice(seldon_bin, context, with_target(node["parameters"], target.url), "COMBINER")
    try:
        answers = [
            {"data": {"names": [], "ndarray": [1]}},
            {"data": {"names": [], "ndarray": [[0.5, 0.25]]}},
            {"jsonData": {"score": 3}},
            {"data": {"names": [], "ndarray": [[3, 4]]}},
        ]
        answer = service.post("/aggregate", {"seldonMessages": answers})
        assert answer == {"data": {"ndarray": [42]}}
        ((path, content_type, body),) = target.requests
        assert (path, content_type) == ("/api/v1.0/predictions", "application/json")
        assert json.loads(body) == {
            "jsonData": {"Ranker": [1], "Scaler": [[0.5, 0.25]], "Remote": {"score": 3}, "INPUT": [[3, 4]]}
        }
    finally:
        service.close()
        target.close()


def test_the_compiled_forward_node_predicts_and_forwards_feedback_through_seldon_core(
    seldon_bin: Path, context: Path
) -> None:
    node = compiled_node("ranker")  # Ranker: a custom server, named by the feedback route
    target = Target()
    service = Microservice(seldon_bin, context, with_target(node["parameters"], target.url), "MODEL")
    try:
        request = {"data": {"ndarray": [[3, 4]]}}
        assert service.post("/predict", request) == {"data": {"ndarray": [42]}}
        feedback = {"request": request, "response": {"data": {"ndarray": [42]}}, "reward": 1.0}
        service.post("/send-feedback", feedback)
        (p1, t1, b1), (p2, t2, b2) = target.requests
        assert p1 == "/rank" and form_json(t1, b1) == request
        assert p2 == "/feedback" and form_json(t2, b2) == feedback
    finally:
        service.close()
        target.close()


def test_the_identity_node_returns_the_request_through_seldon_core(seldon_bin: Path, context: Path) -> None:
    node = compiled_node("blender-input")
    service = Microservice(seldon_bin, context, node["parameters"], "MODEL")
    try:
        assert service.post("/predict", {"data": {"ndarray": [[3, 4]]}}) == {"data": {"ndarray": [[3, 4]]}}
    finally:
        service.close()
