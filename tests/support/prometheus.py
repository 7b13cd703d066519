"""pytest plugin: real ``pushgateway`` and ``prometheus`` servers (loaded from tests/conftest.py).

Both fixtures are session-scoped, bind only 127.0.0.1 on a free port, run in their own
process group with a temporary data directory, and are stopped (group killed) at the end.
Prometheus scrapes the Pushgateway every second with ``honor_labels: true``.  The binaries come
from :mod:`support.prometheus_binaries` (PATH, or Debian's packages fetched without root); where
they cannot be had, the tests that need them are skipped with one message naming what to install
(``MYELIN_REQUIRE_PROMETHEUS=1``, set by CI, turns that skip into a failure)::

    def test_x(prometheus, pushgateway):
        push(pushgateway.url, "job-x", "loss_ml__rec", 0.5)
        wait_for(prometheus.url, "loss_ml__rec == 0.5")
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.prometheus_binaries import HOW_TO_INSTALL, FetchError, NotAvailable, find_binaries
from support.servers import NotReady, Server, free_port, scrape_config, start_ready, stop_group

__all__ = [
    "Server",
    "free_port",
    "prometheus",
    "prometheus_binaries",
    "push",
    "pushgateway",
    "wait_for",
]


@pytest.fixture(scope="session")
def prometheus_binaries() -> tuple[str, str]:
    """``(prometheus, pushgateway)`` paths, found or fetched once per session; skips where impossible."""
    try:
        return find_binaries()
    except NotAvailable as exc:
        if os.environ.get("MYELIN_REQUIRE_PROMETHEUS") == "1":
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    except FetchError as exc:
        pytest.fail(f"could not get Prometheus for the tests: {exc}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Report every "no Prometheus" skip at one place, so that ``-ra`` folds them into one line."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and HOW_TO_INSTALL in report.longrepr[2]:
        report.longrepr = (find_binaries.__code__.co_filename, None, report.longrepr[2])  # type: ignore[assignment]
    return report


def _start(
    binary: str,
    args_for_port: Callable[[int], list[str]],
    workdir: Path,
    ready_timeout: float = 20.0,
    *,
    context: ssl.SSLContext | None = None,
    failing: str = "",
) -> Server:
    """:func:`support.servers.start_ready` (over https, verified by ``context``, when given one), failing the
    test (not erroring) with ``failing`` and the reason when it never got ready."""
    try:
        return start_ready(
            binary,
            args_for_port,
            workdir,
            scheme="http" if context is None else "https",
            context=context,
            ready_timeout=ready_timeout,
        )
    except NotReady as exc:
        pytest.fail(f"{failing}{exc}", pytrace=False)


def pushgateway_args(port: int) -> list[str]:
    """The Pushgateway's command line for ``port``; an empty --persistence.file keeps pushes in memory
    (Debian's default file is shared by every run)."""
    return [f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="]


def prometheus_args(workdir: Path, pushgateway: Server) -> Callable[[int], list[str]]:
    """Prometheus' command line for a port: scraping ``pushgateway`` every second, its TSDB in ``workdir``."""
    config = scrape_config(workdir, pushgateway)
    data = Path(tempfile.mkdtemp(prefix="tsdb-", dir=workdir))
    return lambda port: [
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]


@pytest.fixture(scope="session")
def pushgateway(
    prometheus_binaries: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A real Prometheus Pushgateway on 127.0.0.1 (``.url``)."""
    server = _start(prometheus_binaries[1], pushgateway_args, tmp_path_factory.mktemp("pushgateway"))
    yield server
    stop_group(server.process)


@pytest.fixture(scope="session")
def prometheus(
    prometheus_binaries: tuple[str, str], pushgateway: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A real Prometheus on 127.0.0.1 (``.url``) scraping :func:`pushgateway` every second."""
    workdir = tmp_path_factory.mktemp("prometheus")
    server = _start(prometheus_binaries[0], prometheus_args(workdir, pushgateway), workdir)
    try:
        # Prometheus applies new scrape targets on a 5 s tick: wait for the first scrape here, once,
        # so that tests see a pushed value within about a second.
        wait_for(server.url, 'up{job="pushgateway"} == 1', timeout=20.0)
    except BaseException:
        stop_group(server.process)
        raise
    yield server
    stop_group(server.process)


def push(pushgateway_url: str, job: str, metric: str, value: float, *, replace: bool = True) -> None:
    """Push ``metric value`` for ``job`` in the text exposition format (PUT replaces the job's group)."""
    body = f"# TYPE {metric} gauge\n{metric} {value!r}\n".encode()
    request = urllib.request.Request(
        f"{pushgateway_url.rstrip('/')}/metrics/job/{urllib.parse.quote(job, safe='')}",
        data=body,
        method="PUT" if replace else "POST",
        headers={"Content-Type": "text/plain; version=0.0.4"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status in (200, 202), response.status


def wait_for(
    prometheus_url: str, promql: str, timeout: float = 10.0, *, context: ssl.SSLContext | None = None
) -> list[dict[str, Any]]:
    """Poll an instant query until it returns a non-empty result; return it, or fail the test. ``context``
    verifies an https Prometheus."""
    url = f"{prometheus_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                payload = json.load(response)
            result: list[dict[str, Any]] = payload["data"]["result"]
            if result:
                return result
            last = payload
        except (OSError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(0.1)
    pytest.fail(f"{promql!r} returned nothing within {timeout}s from {prometheus_url} (last: {last})")
