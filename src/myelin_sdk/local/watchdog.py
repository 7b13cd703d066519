"""A watchdog in each task's process group: when the runner dies (``kill -9`` included), it ends the group.

The runner starts it right after a task, as a sidecar that joins the task's process group; it needs only
the standard library and is run isolated (``python -I -S``, so it imports nothing of the task's folder)::

    python -I -S watchdog.py PGID RUNNER_PID [EXIT_FILE]

It polls every 0.2 s: when its parent is no longer the runner (the runner died and the watchdog was
re-parented), it sends SIGTERM to the group, then SIGKILL after a grace period — which
ends itself too. It exits on its own once nothing else is left in the group (the task ended). The runner
stopping a task signals the whole group, watchdog included.

With ``EXIT_FILE``, the task's exit status survives a runner that cannot collect it: when the group's leader
(the task) has exited and its parent, the runner, has not reaped it yet (the runner is frozen, busy, or about
to be killed), the watchdog reads the status from the zombie's ``/proc/PID/stat`` and writes
``{"pid": PGID, "exitCode": CODE}`` to ``EXIT_FILE`` (atomically; ``CODE`` as ``subprocess`` gives it,
``-N`` for signal N). A resumed runner records a task run it finds still running with that status instead
of running the task again (:mod:`.resume`). A task ended by the watchdog itself (its runner died) writes
nothing: it was interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

POLL = 0.2
GRACE = 3.0


def exit_path(log: str) -> str:
    """Where the exit status of the task logging to ``log`` is kept: beside its log.

    >>> exit_path("/run/logs/0001-0-train.log")
    '/run/logs/0001-0-train.log.exit'
    """
    return f"{log}.exit"


def _members(pgid: int) -> set[int]:
    """Pids of live (non-zombie) processes in process group ``pgid``, from ``/proc``."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z" and int(fields[2]) == pgid:
            found.add(int(name))
    return found


def _leader(pgid: int) -> list[bytes] | None:
    """The fields of the leader's ``/proc/PID/stat`` after its name (``[0]`` its state), None when gone."""
    try:
        with open(f"/proc/{pgid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return fields if int(fields[2]) == pgid else None


def _leader_alive(pgid: int) -> bool:
    fields = _leader(pgid)
    return fields is not None and fields[0] != b"Z"


def exit_code(status: int) -> int:
    """A ``waitpid`` status as ``subprocess`` reports it: the exit code, or ``-N`` for signal N.

    >>> exit_code(7 << 8), exit_code(9)
    (7, -9)
    """
    return -(status & 0x7F) if status & 0x7F else (status >> 8) & 0xFF


def record_exit(pgid: int, path: str) -> bool:
    """Write the exit status of the zombie leader of ``pgid`` to ``path``; False when it is not a zombie."""
    fields = _leader(pgid)
    if fields is None or fields[0] != b"Z" or len(fields) < 50:  # field 52: exit_code (Linux >= 3.5)
        return False
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"pid": pgid, "exitCode": exit_code(int(fields[49]))}, handle)
    os.replace(temporary, path)
    return True


def _end_group(pgid: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group's SIGTERM must not end the watchdog first
    try:
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE
        while time.monotonic() < deadline and _members(pgid) - {os.getpid()}:
            time.sleep(0.05)
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def watch(pgid: int, parent: int, exit_file: str | None = None) -> int:
    """Watch group ``pgid`` while ``parent`` is our parent; the exit status (0: the group ended by itself).
    With ``exit_file``, the leader's exit status is written there once it is a zombie (see the module)."""
    me = os.getpid()
    while True:
        if os.getppid() != parent:
            _end_group(pgid)
            return 1
        if exit_file is not None:
            try:
                if record_exit(pgid, exit_file):
                    exit_file = None
            except (OSError, ValueError):
                exit_file = None  # cannot write it: the runner's own record is all there is
        if not _leader_alive(pgid) and not _members(pgid) - {me}:
            return 0
        time.sleep(POLL)


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4) or not (argv[1].isdigit() and argv[2].isdigit()):
        print("usage: watchdog.py PGID RUNNER_PID [EXIT_FILE]", file=sys.stderr)
        return 2
    return watch(int(argv[1]), int(argv[2]), argv[3] if len(argv) == 4 else None)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
