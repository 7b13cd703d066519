"""A custom model server of the local runner: a deploy task built from a Dockerfile that runs its own HTTP
app (not ``seldon-core-microservice``), started from the Dockerfile's ``CMD`` on a loopback port.

The runner picks a free port on 127.0.0.1 and passes it as ``PORT`` (with the runtime contract:
``MODEL_PATH`` of the served version, ...); the app must listen there. It runs in its own process group with
a :mod:`.watchdog`, like a task, so nothing outlives the runner; it is ready once the port accepts a
connection::

    server = CustomServer(["/envs/<key>/bin/python", "server.py"], code, env=env, log_path=logs / "x.log")
    server.start(timeout=60)          # waits until 127.0.0.1:<PORT> accepts connections
    server.url                        # http://127.0.0.1:<PORT>
    server.stop()                     # SIGTERM to the whole group, SIGKILL after a grace period

A deploy task is such a server when :func:`is_custom` says so: its image is built from a Dockerfile whose
command is not ``seldon-core-microservice ...`` (s2i-built deploy tasks are Seldon classes).
"""

from __future__ import annotations

import posixpath
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ..spec import Task
from .dockerfile import Dockerfile
from .dockerfile import parse as parse_dockerfile
from .executor import TaskProcess, tail
from .server_process import ServerProcess
from .serving import ServingError

__all__ = ["CustomServer", "custom_dockerfile", "free_port"]

#: The command of a Seldon-class image (seldon-core's own server): such a Dockerfile is not a custom server.
SELDON_COMMAND = "seldon-core-microservice"


def custom_dockerfile(task: Task, context: Path) -> Dockerfile | None:
    """The parsed Dockerfile of a deploy task that is a custom server, else None (s2i, no Dockerfile, or a
    Dockerfile that runs ``seldon-core-microservice``)."""
    build = task.body.image_build
    if build is None or build.dockerfile is None or build.s2i is not None:
        return None
    path = context / build.dockerfile.path
    if not path.is_file():
        return None
    parsed = parse_dockerfile(path, context)
    if parsed.command and any(posixpath.basename(word) == SELDON_COMMAND for word in parsed.command[:3]):
        return None
    return parsed


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class CustomServer(ServerProcess):
    """A deploy task's own HTTP app on 127.0.0.1:``PORT``, in its own process group (see the module)."""

    what = "the custom server"
    not_ready = "did not listen in time"

    def __init__(
        self,
        command: list[str],
        cwd: Path,
        *,
        env: Mapping[str, str],
        log_path: Path,
        on_start: Callable[[CustomServer], None] | None = None,
        on_stop: Callable[[CustomServer], None] | None = None,
    ) -> None:
        super().__init__(Path(log_path), on_start, on_stop)
        self.command = list(command)
        self.cwd = Path(cwd)
        self.env = dict(env)

    def start(self, timeout: float = 60.0) -> None:
        """Start the app with ``PORT`` set and wait until the port accepts connections; a
        :class:`ServingError` with the log's tail when it exits or ``timeout`` passes first."""
        if self.running:
            return
        self.http_port = free_port()
        env = dict(self.env)
        env["PORT"] = str(self.http_port)
        began = time.monotonic()
        process = TaskProcess.start(self.command, cwd=self.cwd, env=env, log=self.log_path)
        problem = self._launched(process.popen, process.created, began, timeout)
        if problem is None:
            return
        raise ServingError(
            f"the custom model server `{' '.join(self.command)}` in {self.cwd} {problem} (it must listen on "
            f"127.0.0.1:$PORT, PORT={self.http_port}); the last lines of {self.log_path}:\n"
            f"{tail(self.log_path, 30)}"
        )

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.http_port), timeout=1.0):
                return True
        except OSError:
            return False
