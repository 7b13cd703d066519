"""Nothing of a local run listens beyond 127.0.0.1, and a port just freed by a stop can be used again.

Model servers are checked in test_serving.py (one loopback listener per server) and test_crash.py (every
listener of a real ``myelin run`` with a served model); here the runner's own listeners, from the kernel's
socket table, and the start-up port check against a port in TIME_WAIT.
"""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
import pytest

from myelin_sdk import Axon, BackendModel, ContainerTask, Deployer, DeployTask, Model, Rest, Sensor, TrainTask
from myelin_sdk.local import RunOptions, run_local
from myelin_sdk.local.checks import check_port
from myelin_sdk.local.router import Router


def _listening() -> list[tuple[str, int]]:
    return sorted(
        (c.laddr.ip, c.laddr.port) for c in psutil.Process().net_connections("inet") if c.status == "LISTEN"
    )


def test_the_runner_listens_on_loopback_only(tmp_path: Path) -> None:
    before = set(_listening())
    with Axon("quiet") as axon:
        Sensor("OnCall", triggers=[Rest()], tasks=[ContainerTask("T", image="python", command=["true"])])
    run = run_local(axon, RunOptions(workdir=tmp_path, port=0))
    try:
        mine = [address for address in _listening() if address not in before]
        assert len(mine) >= 2  # the control endpoint and the metrics store, at least
        assert {ip for ip, _ in mine} == {"127.0.0.1"}
    finally:
        run.stop()
    assert set(_listening()) <= before


def _time_wait_port() -> int:
    """A loopback port whose server side is in TIME_WAIT: the server closed a connection first, then its
    listener, as a stopped router does."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port: int = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        connection, _ = server.accept()
        connection.close()
        assert client.recv(1) == b""
        client.close()
    return port


def test_a_port_in_time_wait_is_not_refused_at_start_up() -> None:
    port = _time_wait_port()
    with socket.socket() as plain, pytest.raises(OSError, match="in use"):
        plain.bind(("127.0.0.1", port))  # what the start-up check did before: refused
    with Axon("reuse") as axon:
        train = TrainTask("Train", image="python", command=["true"])
        serve = DeployTask("Serve", image="python", command=["true"])
        backend = BackendModel("B", trainer=train, deployer=serve)
        Sensor("Start", tasks=[train, Deployer(models=[Model("M", backend_models=[backend])])])
    check_port(axon, port)  # no MyelinError
    with Router("M", port=port) as router:  # and the router does listen there
        assert router.url == f"http://127.0.0.1:{port}"
