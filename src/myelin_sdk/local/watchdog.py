"""A watchdog in each task's process group: when the runner dies (``kill -9`` included), it ends the group.

The runner starts it right after a task, as a sidecar that joins the task's process group; it needs only
the standard library and is run isolated (``python -I -S``, so it imports nothing of the task's folder)::

    python -I -S watchdog.py PGID RUNNER_PID

It polls every 0.2 s: when its parent is no longer the runner (the runner died and the watchdog was
re-parented), it sends SIGTERM to the group, then SIGKILL after a grace period — which
ends itself too. It exits on its own once nothing else is left in the group (the task ended). The runner
stopping a task signals the whole group, watchdog included.
"""

from __future__ import annotations

import os
import signal
import sys
import time

POLL = 0.2
GRACE = 3.0


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


def _leader_alive(pgid: int) -> bool:
    try:
        with open(f"/proc/{pgid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != b"Z" and int(fields[2]) == pgid


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


def watch(pgid: int, parent: int) -> int:
    """Watch group ``pgid`` while ``parent`` is our parent; the exit status (0: the group ended by itself)."""
    me = os.getpid()
    while True:
        if os.getppid() != parent:
            _end_group(pgid)
            return 1
        if not _leader_alive(pgid) and not _members(pgid) - {me}:
            return 0
        time.sleep(POLL)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not (argv[1].isdigit() and argv[2].isdigit()):
        print("usage: watchdog.py PGID RUNNER_PID", file=sys.stderr)
        return 2
    return watch(int(argv[1]), int(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
