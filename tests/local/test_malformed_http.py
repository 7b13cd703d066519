"""Malformed requests on the local runner's three HTTP servers — the router, the control endpoint and the
embedded Pushgateway (metrics store) — get a 4xx answer, never an uncaught exception that drops the
connection, and the server keeps answering afterwards. Real servers on loopback, raw sockets."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from myelin_sdk.local.control import ControlServer
from myelin_sdk.local.metrics_store import MetricStore, PushgatewayServer
from myelin_sdk.local.router import Router


class _Sink:
    def emit(self, kind: str, name: str, detail: dict[str, Any], targets: list[str]) -> int:
        return 1

    def snapshot(self) -> dict[str, Any]:
        return {}


@pytest.fixture(params=["router", "control", "metrics"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base url, a POST path) of each server (its health path: :data:`HEALTH`)."""
    if request.param == "router":
        router = Router()
        router.start()
        yield router.url, "/predict"
        router.stop()
    elif request.param == "control":
        control = ControlServer(_Sink(), rest_sensors=["Retrain"])
        control.start()
        yield control.url, "/trigger/Retrain"
        control.stop()
    else:
        store = MetricStore(tmp_path / "metrics.db", "axon")
        pushgateway = PushgatewayServer(store)
        yield pushgateway.url, "/metrics/job/train"
        pushgateway.close()


#: Each server's health path and its answer (the router without a version deployed: 503).
HEALTH = {
    "/predict": ("/health", 503),
    "/trigger/Retrain": ("/healthz", 200),
    "/metrics/job/train": ("/-/healthy", 200),
}


def _health(url: str, path: str) -> int:
    health, _ = HEALTH[path]
    try:
        with urllib.request.urlopen(url + health, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _raw(url: str, request: bytes) -> bytes:
    """Send ``request`` as is; everything the server answers until it closes (or 5 s)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1."), answer[:200]  # an answer, not a dropped connection
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        ("abc", 400),
        ("-1", 400),
        ("1.5", 400),
        ("0x10", 400),
        ("", 400),
        ("99999999999999999999999999999", 400),  # more digits than any length: malformed
        (str(10**12), 413),  # a terabyte: too large, refused before anything is read
    ],
)
def test_a_malformed_content_length_is_a_4xx(server: tuple[str, str], length: str, expected: int) -> None:
    url, path = server
    request = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{}}".encode()
    if length == "":
        request = request.replace(b"Content-Length: \r\n", b"Content-Length:\r\n")
    assert _status(_raw(url, request)) == expected
    assert _health(url, path) == HEALTH[path][1]  # still serving


@pytest.mark.parametrize(
    "headers",
    [
        "Content-Length: 5\r\nContent-Length: 6\r\n",  # two different lengths
        "Transfer-Encoding: chunked\r\n",  # not accepted: 411
        "Content-Length: 100\r\n",  # the body ends (the client closes) after 2 of 100 bytes
    ],
)
def test_other_unusable_bodies_are_a_4xx(server: tuple[str, str], headers: str) -> None:
    url, path = server
    status = _status(_raw(url, f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n{{}}".encode()))
    assert 400 <= status < 500
