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

import shutil
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support.http_target import Loopback, QuietHandler
from support.prometheus import _start, prometheus_args, pushgateway_args, wait_for
from support.servers import Server, stop_group

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
    return wait_for(url, promql, timeout, context=ssl.create_default_context(cafile=str(ca)))


def _start_https(
    what: str, binary: str, args: Callable[[int], list[str]], workdir: Path, certs: Certs
) -> Server:
    """``binary`` (Prometheus or the Pushgateway) serving ``https://127.0.0.1:<port>`` with ``certs``' server
    certificate (``--web.config.file`` in ``workdir``, then ``args(port)``), ready; fails the test if not."""
    web = workdir / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {certs.cert}\n  key_file: {certs.key}\n")
    return _start(
        binary,
        lambda port: [f"--web.config.file={web}", *args(port)],
        workdir,
        context=ssl.create_default_context(cafile=str(certs.ca)),
        failing=f"{what} over https: ",
    )


@pytest.fixture(scope="session")
def pushgateway_https(
    prometheus_binaries: tuple[str, str], tls_certs: Certs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The real Pushgateway serving ``https://127.0.0.1:<port>`` with :func:`tls_certs`' server certificate
    (``--web.config.file``, as for Prometheus); pushes kept in memory."""
    workdir = tmp_path_factory.mktemp("pushgateway-https")
    server = _start_https("pushgateway", prometheus_binaries[1], pushgateway_args, workdir, tls_certs)
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
    args = prometheus_args(workdir, pushgateway)
    server = _start_https("prometheus", prometheus_binaries[0], args, workdir, tls_certs)
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

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            header = self.headers.get("Authorization")
            bearer.seen.append(header)
            if header != f"Bearer {bearer.token}":
                self.answer(401, b'{"status":"error","errorType":"unauthorized","error":"bad token"}')
                return
            try:
                with urllib.request.urlopen(
                    prometheus_https.url + self.path, timeout=5, context=upstream
                ) as r:
                    status, body = r.status, r.read()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
            self.answer(status, body)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls_certs.cert), str(tls_certs.key))
    server = Loopback(Handler, tls=context)
    bearer.url = server.url
    yield bearer
    server.close()
