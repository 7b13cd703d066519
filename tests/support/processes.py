"""Helpers for tests that run ``myelin`` as a real process and wait for what it does."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["spawn_myelin", "until"]


def spawn_myelin(cwd: Path, *args: str, new_session: bool = False) -> subprocess.Popen[str]:
    """``python -m myelin_sdk.cli ARGS`` in ``cwd``, stdout and stderr together in ``.stdout``.

    ``new_session`` puts it in its own session, out of reach of the test's process group (for SIGKILL tests).
    """
    return subprocess.Popen(
        [sys.executable, "-m", "myelin_sdk.cli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=new_session,
    )


def until(predicate: Callable[[], object], timeout: float = 20.0, poll: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true (then True) or ``timeout`` seconds pass (then False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False
