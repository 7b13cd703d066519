"""pytest plugin: a real Prometheus over https, and a bearer-token checking https front of it (test support).

* :func:`tls_certs`: a throwaway CA and a server certificate for ``127.0.0.1``/``localhost``, made with the
  ``openssl`` command (the ``cryptography`` package is not installed here).
* :func:`prometheus_https`: the real ``prometheus`` binary serving https with ``--web.config.file``
  (``tls_server_config``), scraping the session's :func:`~support.prometheus.pushgateway`.
* :func:`bearer_prometheus`: Prometheus has no built-in bearer-token check (its web config knows basic auth
  only), so the token is tested with a tiny stdlib https server here: it answers 401 unless the request
  carries ``Authorization: Bearer <token>``, and otherwise forwards the GET to :func:`prometheus_https` and
  returns its answer unchanged. Every Authorization header it received is in ``.seen``::

    def test_x(bearer_prometheus, tls_certs):
        context = tls_context(str(tls_certs.ca))
        query(bearer_prometheus.url, "up", context=context, token=bearer_prometheus.token)
        assert bearer_prometheus.seen[-1] == f"Bearer {bearer_prometheus.token}"
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from support.prometheus import scrape_config
from support.servers import NotReady, Server, start_ready, stop_group

__all__ = [
    "Bearer",
    "Certs",
    "bearer_prometheus",
    "https_wait_for",
    "prometheus_https",
    "pushgateway_https",
    "tls_certs",
]


@dataclass
class Certs:
    """PEM files: the CA, and the server's certificate and key (signed by the CA)."""

    ca: Path
    cert: Path
    key: Path


@dataclass
class Bearer:
    """The token-checking front: ``url`` (https), the ``token`` it accepts, the headers it ``seen``."""

    url: str
    token: str
    seen: list[str | None] = field(default_factory=list)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(directory: Path) -> Certs:
    """A CA and a server certificate for 127.0.0.1 and localhost, with the extensions strict X.509
    verification wants (a critical CA basicConstraints, key identifiers, serverAuth)."""
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=myelin test CA",
        "-keyout", "ca.key", "-out", "ca.crt",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr",
        cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "server.ext", "-out", "server.crt",
        cwd=directory,
    )  # fmt: skip
    return Certs(ca=directory / "ca.crt", cert=directory / "server.crt", key=directory / "server.key")


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A throwaway CA and server certificate (skips where there is no ``openssl`` command)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    return make_certs(tmp_path_factory.mktemp("tls"))


def https_wait_for(url: str, promql: str, ca: Path, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Poll an instant query over https (verified by ``ca``) until it returns a non-empty result."""
    context = ssl.create_default_context(cafile=str(ca))
    full = f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(full, timeout=2, context=context) as response:
                result: list[dict[str, Any]] = json.load(response)["data"]["result"]
            if result:
                return result
            last = result
        except (OSError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(0.1)
    pytest.fail(f"{promql!r} returned nothing within {timeout}s from {url} (last: {last})")


@pytest.fixture(scope="session")
def pushgateway_https(
    prometheus_binaries: tuple[str, str], tls_certs: Certs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The real Pushgateway serving ``https://127.0.0.1:<port>`` with :func:`tls_certs`' server certificate
    (``--web.config.file``, as for Prometheus); pushes kept in memory."""
    workdir = tmp_path_factory.mktemp("pushgateway-https")
    web = workdir / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {tls_certs.cert}\n  key_file: {tls_certs.key}\n")
    context = ssl.create_default_context(cafile=str(tls_certs.ca))
    try:
        server = start_ready(
            prometheus_binaries[1],
            lambda port: [
                f"--web.config.file={web}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--persistence.file=",
            ],
            workdir,
            scheme="https",
            context=context,
        )
    except NotReady as exc:
        pytest.fail(f"pushgateway over https: {exc}", pytrace=False)
    try:
        yield server
    finally:
        stop_group(server.process)


@pytest.fixture(scope="session")
def prometheus_https(
    prometheus_binaries: tuple[str, str],
    pushgateway: Server,
    tls_certs: Certs,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """The real Prometheus serving ``https://127.0.0.1:<port>`` with :func:`tls_certs`' server certificate."""
    workdir = tmp_path_factory.mktemp("prometheus-https")
    config = scrape_config(workdir, pushgateway)
    web = workdir / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {tls_certs.cert}\n  key_file: {tls_certs.key}\n")
    data = Path(tempfile.mkdtemp(prefix="tsdb-", dir=workdir))
    context = ssl.create_default_context(cafile=str(tls_certs.ca))
    try:
        server = start_ready(
            prometheus_binaries[0],
            lambda port: [
                f"--config.file={config}",
                f"--web.config.file={web}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            workdir,
            scheme="https",
            context=context,
        )
    except NotReady as exc:
        pytest.fail(f"prometheus over https: {exc}", pytrace=False)
    try:
        https_wait_for(server.url, 'up{job="pushgateway"} == 1', tls_certs.ca)
        yield server
    finally:
        stop_group(server.process)


@pytest.fixture(scope="session")
def bearer_prometheus(prometheus_https: Server, tls_certs: Certs) -> Iterator[Bearer]:
    """An https front of :func:`prometheus_https` that demands ``Authorization: Bearer <token>``."""
    bearer = Bearer(url="", token="t0ken-" + "x" * 24)
    upstream = ssl.create_default_context(cafile=str(tls_certs.ca))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            header = self.headers.get("Authorization")
            bearer.seen.append(header)
            if header != f"Bearer {bearer.token}":
                self._answer(401, b'{"status":"error","errorType":"unauthorized","error":"bad token"}')
                return
            try:
                with urllib.request.urlopen(
                    prometheus_https.url + self.path, timeout=5, context=upstream
                ) as r:
                    status, body = r.status, r.read()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
            self._answer(status, body)

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls_certs.cert), str(tls_certs.key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    bearer.url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield bearer
    server.shutdown()
    server.server_close()
