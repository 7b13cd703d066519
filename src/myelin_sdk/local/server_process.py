"""The process of a model server of the local runner, whatever runs in it: seldon-core's wrapper
(:mod:`.model_server`) or a deploy task's own app (:mod:`.custom_server`).

What they share: the leader of its own process group, listening on 127.0.0.1:``http_port``; started by the
subclass, which then hands the process to :meth:`ServerProcess._launched` (``on_start``, then the wait until
:meth:`ServerProcess._ready`); stopped by SIGTERM to the whole group, SIGKILL after a grace period
(``on_stop``, once).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from typing_extensions import Self

from .executor import group_alive
from .serving import ServingError

__all__ = ["ServerProcess"]


class ServerProcess:
    """A server's process group on 127.0.0.1 (see the module): a subclass starts it and says when it is
    ready."""

    #: What it is called in "has not been started" ("the model server", ...).
    what: ClassVar[str]
    #: The problem when it is still not ready at the deadline.
    not_ready: ClassVar[str]

    def __init__(
        self,
        log_path: Path,
        on_start: Callable[[Self], None] | None,
        on_stop: Callable[[Self], None] | None,
    ) -> None:
        self.log_path = log_path
        self.http_port = 0
        self.ready_seconds: float | None = None
        self.created: float | None = None
        self._on_start: Callable[[Self], None] | None = on_start
        self._on_stop: Callable[[Self], None] | None = on_stop
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<http port>``."""
        if not self.http_port:
            raise ServingError(f"{self.what} has not been started")
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int | None:
        """The server's pid, which is also its process group id (``None`` before ``start``)."""
        return self._popen.pid if self._popen else None

    @property
    def running(self) -> bool:
        """Whether the main process is alive."""
        return self._popen is not None and self._popen.poll() is None

    def _ready(self) -> bool:
        """Whether the server answers now (called while its process is alive)."""
        raise NotImplementedError

    def _launched(
        self: Self, popen: subprocess.Popen[bytes], created: float | None, began: float, timeout: float
    ) -> str | None:
        """Take the process just started (at ``began``, by the monotonic clock), call ``on_start`` and wait
        until it is ready: ``None`` then, else what went wrong (the process group is stopped first)."""
        self._popen = popen
        self.created = created
        if self._on_start is not None:
            self._on_start(self)
        deadline = began + timeout
        while True:
            code = popen.poll()
            if code is not None:
                problem = f"exited with status {code} before it was ready"
                break
            if self._ready():
                self.ready_seconds = time.monotonic() - began
                return None
            if time.monotonic() >= deadline:
                problem = self.not_ready
                break
            time.sleep(0.05)
        self.stop()
        return problem

    def stop(self: Self, grace: float = 5.0) -> None:
        """SIGTERM the whole process group, then SIGKILL it if anything is left after ``grace`` seconds."""
        popen = self._popen
        if popen is None:
            return
        pgid = popen.pid
        if popen.poll() is None or group_alive(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=grace)  # reaped: a zombie leader would keep the group "alive"
            while group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if group_alive(pgid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
                end = time.monotonic() + 5.0
                while group_alive(pgid) and time.monotonic() < end:
                    time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=1.0)
        if self._on_stop is not None:
            on_stop, self._on_stop = self._on_stop, None
            on_stop(self)
