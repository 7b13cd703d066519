"""The pre-run checks of a local run (:mod:`myelin_sdk.local.checks`), on real Axon files and real sockets:
each refusal names its field path, all of them at once, before anything starts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from myelin_sdk.errors import MyelinError
from myelin_sdk.loader import load_path
from myelin_sdk.local.checks import check_axon, check_port
from myelin_sdk.spec import Axon

AXON = """
apiVersion: myelinproj.io/v1alpha1
kind: Axon
metadata: {name: checked}
spec:
  artifacts:
    - name: code
      s3: {bucket: models, key: src.tgz}
  tasks:
    - name: Train
      train: {image: python:3.11, command: ["python", "train.py"]}
    - name: Serve
      deploy: {image: python:3.11, command: ["python", "serve.py"]}
  sensors:
    - name: Start
      tasks:
        - resourceExecutor: {task: Train}
        - resourceExecutor: {task: Serve}
"""


def _axon(tmp_path: Path, text: str = AXON) -> Axon:
    path = tmp_path / "axon.yaml"
    path.write_text(text)
    return load_path(path)


def test_every_refusal_is_reported_with_its_field_path(tmp_path: Path) -> None:
    axon = _axon(tmp_path)
    with pytest.raises(MyelinError) as err:
        check_axon(axon, {"nope": tmp_path})
    message = str(err.value)
    assert "spec.sensors[0].tasks[1]" in message
    assert "task 'Serve' is a deploy task: a deployer serves it" in message
    assert "spec.artifacts[0].s3" in message
    assert "local runs do not download S3 artifacts — pass --artifact code=PATH" in message
    assert "--artifact nope=...: the axon has no artifact 'nope'" in message


def test_an_s3_artifact_given_as_a_local_folder_is_accepted(tmp_path: Path) -> None:
    text = AXON.replace("        - resourceExecutor: {task: Serve}\n", "")
    check_axon(_axon(tmp_path, text), {"code": tmp_path})  # no MyelinError


def test_a_taken_port_is_refused_only_when_an_endpoint_would_listen(tmp_path: Path) -> None:
    with_deployer = AXON.replace(
        "        - resourceExecutor: {task: Serve}\n",
        "        - deployer:\n"
        "            name: D\n"
        "            models:\n"
        "              - name: M\n"
        "                backendModels: [{name: B, trainer: Train, deployer: Serve}]\n",
    )
    served, unserved = _axon(tmp_path, with_deployer), _axon(tmp_path, AXON)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MyelinError, match=rf"^--port {port}: cannot listen there \(.+\) — pass another"):
            check_port(served, port)
        check_port(unserved, port)  # no deployer: no endpoint, nothing to check
        check_port(served, 0)  # 0: a free port is picked later
