"""Start a server binary on a free loopback port and wait until it says it is ready; stop its process group.

For the real Prometheus and Pushgateway of the tests (tests/support/prometheus.py, prometheus_tls.py) and of
``benchmarks/suite_sensor.py``: no pytest here, so a benchmark can use it too::

    server = start_ready(pushgateway, lambda port: [f"--web.listen-address=127.0.0.1:{port}"], workdir)
    try:
        ...  # server.url
    finally:
        stop_group(server.process)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Server:
    """A running server: ``url`` is ``http://127.0.0.1:<port>`` (or ``https://``)."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path


class NotReady(RuntimeError):
    """The server did not answer ``/-/ready`` in time on any of the ports tried; the message has its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it after return)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_group(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group ``process`` leads (started with ``start_new_session``), then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def start_ready(
    binary: str,
    args_for_port: Callable[[int], list[str]],
    workdir: Path,
    *,
    scheme: str = "http",
    context: ssl.SSLContext | None = None,
    ready_timeout: float = 20.0,
    attempts: int = 3,
) -> Server:
    """Start ``binary`` with ``args_for_port(port)`` in its own session, output to ``workdir``, and wait until
    ``/-/ready`` answers 200 (``context`` verifies https). A port taken between :func:`free_port` and the bind
    is retried on another; :class:`NotReady` with the log's tail when no attempt became ready."""
    name = Path(binary).name
    last = ""
    for attempt in range(attempts):
        port = free_port()
        log = workdir / f"{name}-{attempt}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [binary, *args_for_port(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
                start_new_session=True,
            )
        url = f"{scheme}://127.0.0.1:{port}"
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1, context=context) as response:
                    if response.status == 200:
                        return Server(url=url, process=process, log=log)
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        stop_group(process)
        last = log.read_text(errors="replace")[-2000:]
    raise NotReady(f"{name} did not become ready on 127.0.0.1; last log:\n{last}")


def scrape_config(workdir: Path, pushgateway: Server, interval: float = 1.0) -> Path:
    """``workdir/prometheus.yml``: scrape ``pushgateway`` every ``interval`` seconds, honouring its job labels
    (rules are evaluated as often: none are configured)."""
    target = urllib.parse.urlsplit(pushgateway.url).netloc
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {interval:g}s\n"
        f"  evaluation_interval: {interval:g}s\n"
        "scrape_configs:\n"
        "  - job_name: pushgateway\n"
        "    honor_labels: true\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    return config
