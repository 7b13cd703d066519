"""Task processes: one subprocess per task execution, in its own process group, output to a log file.

    process = TaskProcess.start(["python", "train.py"], cwd=code, env=env, log=logs / "3-train.log")
    code = process.wait(stop_event)        # None when stopped before it ended
    tail(logs / "3-train.log")             # the last lines, for the error message

A process group lets the runner stop a task and everything it started (Ctrl-C, ``--timeout``) and lets a
resumed runner stop a task that a killed runner left behind (:func:`kill_group`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def kill_group(pid: int, grace: float = 5.0) -> None:
    """SIGTERM the process group ``pid`` leads, then SIGKILL it after ``grace`` seconds if still alive."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


@dataclass
class TaskProcess:
    """A running task."""

    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @classmethod
    def start(cls, command: list[str], *, cwd: Path, env: Mapping[str, str], log: Path) -> TaskProcess:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            out.write(f"$ {' '.join(command)}\n# in {cwd}\n".encode())
            out.flush()
            popen = subprocess.Popen(
                command,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(popen, log)

    def wait(self, stop: threading.Event, poll: float = 0.1) -> int | None:
        """Wait for the exit status; stop the group and return None when ``stop`` is set first."""
        while True:
            try:
                code = self.popen.wait(timeout=poll)
            except subprocess.TimeoutExpired:
                if stop.is_set():
                    self.stop()
                    return None
            else:
                # killed because the runner is stopping (the group got SIGTERM first): not the task's failure
                return None if stop.is_set() and code != 0 else code

    def stop(self) -> None:
        kill_group(self.popen.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
