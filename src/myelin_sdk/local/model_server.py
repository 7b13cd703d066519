"""A model server of the local runner: one served version, the real seldon-core wrapper, on 127.0.0.1 only.

Each server runs :mod:`.seldon_launcher` with the model environment's Python (from
:func:`~myelin_sdk.local.serving.ensure_env`): seldon-core 1.17.1's own Flask app, served by werkzeug on
loopback (``seldon-core-microservice`` would bind ``0.0.0.0``), REST only. The launcher picks a free port
itself and reports it, so no port is chosen twice. Each server is the leader of its own process group and
ends that group when the runner that started it dies (``kill -9`` included)::

    python = ensure_env(code / "requirements.txt", cache / "envs")      # ~20 s, then cached
    server = ModelServer(python, code, env={"MODEL_PATH": str(version_dir)}, log_path=logs / "v7.log")
    server.start(timeout=60)               # waits until GET /health/ping answers
    server.url                             # http://127.0.0.1:<port>, the Seldon v1 protocol (DESIGN §5)
    server.pid, server.created             # its process group, and when it started (the run's state)
    server.stop()                          # SIGTERM to the whole group, SIGKILL after a grace period
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

from .executor import process_created, tail
from .server_process import ServerProcess
from .serving import HEALTH_PATH, ServingError, read_model_name

__all__ = ["LAUNCHER", "ModelServer"]

#: The launcher script, run by the model environment's Python (it needs seldon-core, not the SDK).
LAUNCHER = Path(__file__).with_name("seldon_launcher.py")


class ModelServer(ServerProcess):
    """seldon-core's REST microservice serving one model version on 127.0.0.1, in its own process group.

    ``python`` is the environment's interpreter, ``code_dir`` the model code folder (the working directory,
    so the class imports), ``env`` extra environment variables (``MODEL_PATH``, ``MODEL_VERSION``,
    ``PUSHGATEWAY_URL``, ...). ``on_start`` is called once the process exists (to record its group),
    ``on_stop`` once it is stopped. Usable as a context manager (starts and stops it).
    """

    what = "the model server"
    not_ready = "was not ready in time"

    def __init__(
        self,
        python: Path,
        code_dir: Path,
        *,
        model_class: str | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        on_start: Callable[[ModelServer], None] | None = None,
        on_stop: Callable[[ModelServer], None] | None = None,
    ) -> None:
        super().__init__(
            Path(log_path) if log_path else Path(tempfile.mkdtemp(prefix="myelin-model-")) / "log",
            on_start,
            on_stop,
        )
        self.python = Path(python)
        self.code_dir = Path(code_dir)
        self.model_class = model_class or read_model_name(self.code_dir)
        self.env = dict(env or {})

    def _port_file(self) -> Path:
        return self.log_path.with_name(self.log_path.name + ".port")

    def command(self) -> list[str]:
        """The command line."""
        return [
            str(self.python),
            str(LAUNCHER),
            self.model_class,
            "--port-file",
            str(self._port_file()),
            "--runner",
            str(os.getpid()),
        ]

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until ``GET /health/ping`` answers.

        Raises :class:`ServingError` with the log's tail when the process exits or ``timeout`` passes (the
        process group is stopped first).
        """
        if self.running:
            return
        if not (self.python.parent / "seldon-core-microservice").exists():
            raise ServingError(
                f"no seldon-core next to {self.python}: is seldon-core in the model's requirements.txt?"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._port_file().unlink(missing_ok=True)
        venv = self.python.parent.parent
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(self.env)  # the engine's is clean (workspace.serving_env): its PATH replaces the runner's
        env.update(
            VIRTUAL_ENV=str(venv),
            PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
        )
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(self.command())}\n".encode())
            log.flush()
            popen = subprocess.Popen(
                self.command(),
                cwd=self.code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        problem = self._launched(popen, process_created(popen.pid), began, timeout)
        if problem is None:
            return
        raise ServingError(
            f"the model server {self.model_class} in {self.code_dir} {problem}; "
            f"the last lines of {self.log_path}:\n{tail(self.log_path, 30)}"
        )

    def _ready(self) -> bool:
        """Whether ``GET /health/ping`` answers (once the launcher has written its port)."""
        if not self.http_port:
            with contextlib.suppress(OSError, ValueError):
                self.http_port = int(self._port_file().read_text(encoding="utf-8"))
        if not self.http_port:
            return False
        try:
            with urllib.request.urlopen(self.url + HEALTH_PATH, timeout=1.0) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
