"""Task processes: one subprocess per task execution, in its own process group, output to a log file.

    process = TaskProcess.start(["python", "train.py"], cwd=code, env=env, log=logs / "3-train.log")
    code = process.wait(stop_event)        # None when stopped before it ended
    tail(logs / "3-train.log")             # the last lines, for the error message

A process group lets the runner stop a task and everything it started (Ctrl-C, ``--timeout``). Nothing
outlives the runner: a :mod:`.watchdog` joins each task's group and ends it when the runner dies
(``kill -9`` included), and a resumed runner reaps whatever an earlier one left, checking each recorded
process's identity by its start time (``psutil``), never by a bare pid::

    created = process_created(process.pid)  # recorded in the run's state
    reap_group(pid, created)                # later, from a resumed runner: 0 when nothing was left
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from .watchdog import exit_path

#: Two start times of one process differ by less than this (``/proc`` counts in clock ticks).
_SAME_START = 0.05
_WATCHDOG = Path(__file__).with_name("watchdog.py")


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


def process_created(pid: int) -> float | None:
    """The start time of process ``pid`` (seconds since the epoch), ``None`` when it is gone."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def group_members(pgid: int) -> list[psutil.Process]:
    """The live processes of process group ``pgid``."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (OSError, psutil.Error):
            continue
    return found


def leftover(pid: int, created: float | None) -> list[psutil.Process]:
    """The live processes of the group ``pid`` led when it started at ``created`` (see :func:`reap_group`)."""
    try:
        leader = psutil.Process(pid)
        if created is not None and abs(leader.create_time() - created) > _SAME_START:
            return []  # someone else's process now: the recorded group is gone
    except psutil.NoSuchProcess:
        pass
    except psutil.Error:
        return []
    return group_members(pid)


def reap_group(pid: int, created: float | None, grace: float = 5.0) -> int:
    """End what is left of the process group that ``pid`` led when it started at ``created``.

    A process now holding ``pid`` but started at another time is someone else's: the group is gone (Linux
    reuses no pid while a group of that id exists), nothing is signalled. Returns the number of processes
    that were still in the group.
    """
    members = leftover(pid, created)
    if members:
        kill_group(pid, grace)
        psutil.wait_procs(members, timeout=1.0)
    return len(members)


def in_group(pgid: int) -> dict[str, Any]:
    """``subprocess.Popen`` arguments that put the child in process group ``pgid`` (0: a new one, led by the
    child) of this session — a watchdog can join only a group of its own session."""
    if sys.version_info >= (3, 11):
        return {"process_group": pgid}

    def join() -> None:  # Python 3.10: no process_group argument yet
        os.setpgid(0, pgid)

    return {"preexec_fn": join}


def start_watchdog(pgid: int, exit_file: Path | None = None) -> subprocess.Popen[bytes] | None:
    """Start a :mod:`.watchdog` in process group ``pgid``: it ends the group if this process dies (and
    writes the leader's exit status to ``exit_file`` if this process cannot collect it).

    ``None`` when the group is already gone (its leader exited and was reaped: nothing to watch).
    """
    extra = [str(exit_file)] if exit_file is not None else []
    try:
        watchdog = subprocess.Popen(
            [sys.executable, "-I", "-S", str(_WATCHDOG), str(pgid), str(os.getpid()), *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            **in_group(pgid),
        )
    except (OSError, subprocess.SubprocessError):
        return None
    threading.Thread(target=watchdog.wait, name=f"watchdog-{pgid}", daemon=True).start()  # reaps it
    return watchdog


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
    created: float | None = None

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
                **in_group(0),
            )
        start_watchdog(popen.pid, Path(exit_path(str(log))))  # the exit status survives the runner
        return cls(popen, log, process_created(popen.pid))

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
