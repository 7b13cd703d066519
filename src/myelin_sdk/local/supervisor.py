"""Health checks of the local runner's model servers: a server whose main process exited, or that fails its
health probe several times in a row, is reported once, so its traffic stops and it is replaced::

    supervisor = Supervisor(on_down=lambda key, server, why: ...)   # called from the supervisor's thread
    supervisor.start()
    supervisor.watch(("v7", "SVD"), server)     # a ModelServer or CustomServer (``running``, ``url``)
    supervisor.unwatch(("v7", "SVD"))           # stopped on purpose: no report
    supervisor.stop()

Every ``interval`` (0.2 s) it looks whether each server's main process still runs (a ``kill -9`` is seen at
once); every ``probe_every`` (1 s) it asks seldon-core's ``GET /health/ping`` (a custom server: a TCP
connection to its port), and ``failures`` (5) failed probes in a row — each bounded by ``probe_timeout`` —
report it too (a server that hangs). A reported server is no longer watched: the caller watches its
replacement.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from .serving import HEALTH_PATH

__all__ = ["Supervisor", "probe"]


class Watched(Protocol):
    """What the supervisor needs of a model server."""

    @property
    def running(self) -> bool: ...

    @property
    def url(self) -> str: ...


def probe(server: Any, timeout: float) -> bool:
    """Whether ``server`` answers: seldon-core's ``/health/ping`` with 200, a custom server's port accepts a
    connection."""
    url: str = server.url
    if getattr(server, "model_class", None) is None:  # a custom server: its own app, no known health path
        host, _, port = url.removeprefix("http://").partition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                return True
        except OSError:
            return False
    try:
        with urllib.request.urlopen(url + HEALTH_PATH, timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


@dataclass
class _Entry:
    server: Watched
    failed: int = 0
    probed: float = 0.0


class Supervisor:
    """Watches model servers in a daemon thread and reports each one that is down once (see the module)."""

    def __init__(
        self,
        on_down: Callable[[Hashable, Any, str], None],
        *,
        interval: float = 0.2,
        probe_every: float = 1.0,
        probe_timeout: float = 2.0,
        failures: int = 5,
    ) -> None:
        self._on_down = on_down
        self.interval = interval
        self.probe_every = probe_every
        self.probe_timeout = probe_timeout
        self.failures = failures
        self._entries: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="model-server-health", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop watching (nothing is reported any more)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def watch(self, key: Hashable, server: Watched) -> None:
        with self._lock:
            self._entries[key] = _Entry(server, probed=time.monotonic())

    def unwatch(self, key: Hashable, server: Watched | None = None) -> None:
        """Stop watching ``key`` (only if it is still ``server``, when given)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (server is None or entry.server is server):
                del self._entries[key]

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            for key, entry, why in self._check():
                if self._stop.is_set():
                    return
                with self._lock:  # still the same server (not swapped or unwatched meanwhile)?
                    if self._entries.get(key) is not entry:
                        continue
                    del self._entries[key]
                with contextlib.suppress(Exception):  # a failing handler must not end the health checks
                    self._on_down(key, entry.server, why)

    def _check(self) -> list[tuple[Hashable, _Entry, str]]:
        with self._lock:
            entries = list(self._entries.items())
        down = []
        now = time.monotonic()
        for key, entry in entries:
            if not entry.server.running:
                down.append((key, entry, "its process exited"))
                continue
            if now - entry.probed < self.probe_every:
                continue
            entry.probed = now
            if probe(entry.server, self.probe_timeout):
                entry.failed = 0
                continue
            entry.failed += 1
            if entry.failed >= self.failures:
                down.append((key, entry, f"it failed {entry.failed} health checks in a row"))
        return down
