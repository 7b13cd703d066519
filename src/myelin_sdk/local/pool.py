"""Kept-alive HTTP connections to one model server, shared by the router's request threads::

    pool = Pool("127.0.0.1", 9101, timeout=60)
    status, headers, body = pool.post("/api/v1.0/predictions", b'{"data": ...}',
                                      {"Content-Type": "application/json"}, idempotent=True)
    pool.close()                                  # the backend stopped serving: close the idle connections

``post`` takes an idle connection (or opens one), sends, reads the whole answer and puts the connection back
unless the server said it closes it. Idle connections the server has closed meanwhile are dropped before
use. A kept-alive connection that fails is retried once on a fresh connection when the request never
reached the server, or when it is idempotent and the server closed the connection without answering (the
race of a keep-alive timeout); any other failure raises (``OSError`` or ``http.client.HTTPException``).
"""

from __future__ import annotations

import http.client
import logging
import select
import threading
from collections.abc import Mapping

__all__ = ["POOL_SIZE", "Pool"]

log = logging.getLogger(__name__)

#: Idle connections kept per backend (more concurrent requests open more; the extra ones are closed after).
POOL_SIZE = 32


class Pool:
    """Idle kept-alive connections to ``host:port``. Thread-safe. A closed pool keeps nothing: connections
    that come back are closed (requests in flight when the backend stopped serving still finish)."""

    def __init__(self, host: str, port: int, timeout: float, size: int = POOL_SIZE) -> None:
        self.host, self.port, self.timeout, self.size = host, port, timeout, size
        self.closed = False
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def get(self) -> tuple[http.client.HTTPConnection, bool]:
        """A connection and whether it was reused (kept alive from an earlier request)."""
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if _still_open(connection):
                    return connection, True
                connection.close()
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout), False

    def put(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self.closed and len(self._idle) < self.size and connection.sock is not None:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str], *, idempotent: bool
    ) -> tuple[int, dict[str, str], bytes]:
        """POST ``body`` to ``path``: (status, ``{"Content-Type": ...}``, the answer's body)."""
        for attempt in (1, 2):
            connection, reused = self.get()
            sent = False
            try:
                connection.request("POST", path, body=body, headers=dict(headers))
                sent = True
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if reused and attempt == 1 and (not sent or (idempotent and _dropped(exc))):
                    log.debug(
                        "%s:%s dropped a kept-alive connection (%s): retrying", self.host, self.port, exc
                    )
                    continue
                raise
            answer = {"Content-Type": response.getheader("Content-Type", "application/json")}
            if response.will_close:
                connection.close()
            else:
                self.put(connection)
            return response.status, answer, payload
        raise AssertionError("unreachable: the second attempt returns or raises")


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection can carry a request: connected, and nothing to read (an idle socket
    that is readable has been closed by the server, or holds bytes nobody asked for)."""
    sock = connection.sock
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    return not poller.poll(0)


def _dropped(exc: BaseException) -> bool:
    """A failure that means a kept-alive connection was closed by the server before it answered."""
    return isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))
