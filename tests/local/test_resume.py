"""``myelin run --resume`` after ``kill -9`` of the runner: nothing finished runs again, nothing is lost.

The runner is a real process (``python -m myelin_sdk.cli run``), its tasks real subprocesses, its state the
real SQLite file; the test kills it with SIGKILL while the second task of a sensor runs.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest

from support.processes import spawn_myelin, until

# Step 1 counts its runs; step 2 counts its starts, and on its first start blocks until it is killed.
AXON = """\
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata: {name: resumable}
spec:
  tasks:
    - name: First
      container:
        command: [python, -c, "from pathlib import Path; p = Path('first.count'); \
p.write_text(str(int(p.read_text()) + 1 if p.exists() else 1))"]
    - name: Second
      container:
        command: [python, -c, "import time; from pathlib import Path; p = Path('second.count'); \
n = int(p.read_text()) + 1 if p.exists() else 1; p.write_text(str(n)); \
time.sleep(600 if n == 1 else 0); Path('second.done').write_text('yes')"]
    - name: Third
      container:
        command: [python, -c, "from pathlib import Path; p = Path('third.count'); \
p.write_text(str(int(p.read_text()) + 1 if p.exists() else 1))"]
  sensors:
    - name: OnStart
      tasks:
        - resourceExecutor: {task: First}
        - resourceExecutor: {task: Second}
    - name: AfterSecond
      triggers:
        - {type: Lifecycle, task: Second, condition: Succeeded}
      tasks:
        - resourceExecutor: {task: Third}
"""


def _task_status(db: Path, task: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [
            r[0] for r in conn.execute("SELECT status FROM task_runs WHERE task = ? ORDER BY id", (task,))
        ]


def _killed_midway(tmp_path: Path) -> Path:
    """Start ``myelin run``, SIGKILL the runner (only: its task's process group lives on) while the second
    task runs; the run's state database."""
    (tmp_path / "axon.yaml").write_text(AXON)
    runner = spawn_myelin(tmp_path, "run", "axon.yaml", "--plain", "--port", "0", new_session=True)
    assert until((tmp_path / "second.count").exists, 60), "the second task did not start"
    [run_dir] = list((tmp_path / ".myelin" / "runs").iterdir())
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(timeout=10)
    return run_dir / "state.db"


def _resume(tmp_path: Path) -> tuple[int, str]:
    """``myelin run --resume --until idle``: its exit status and output."""
    resumed = spawn_myelin(
        tmp_path,
        "run",
        "axon.yaml",
        "--plain",
        "--port",
        "0",
        "--resume",
        "--until",
        "idle",
        new_session=True,
    )
    out, _ = resumed.communicate(timeout=120)
    return resumed.returncode, out


def test_kill_9_then_resume_loses_nothing_and_reruns_nothing_finished(tmp_path: Path) -> None:
    db = _killed_midway(tmp_path)
    assert _task_status(db, "First") == ["succeeded"]
    assert _task_status(db, "Second") == ["running"]

    code, out = _resume(tmp_path)
    assert code == 0, out
    assert "resumed" in out
    assert (tmp_path / "first.count").read_text() == "1"  # finished before the kill: not run again
    assert (tmp_path / "second.count").read_text() == "2"  # unfinished: run again, to its end
    assert (tmp_path / "second.done").read_text() == "yes"
    assert (tmp_path / "third.count").read_text() == "1"  # its Lifecycle event was not lost
    assert _task_status(db, "First") == ["succeeded"]
    assert _task_status(db, "Second") == ["interrupted", "succeeded"]
    with sqlite3.connect(db) as conn:
        sensors = dict(conn.execute("SELECT sensor, status FROM sensor_runs").fetchall())
    assert sensors == {"OnStart": "succeeded", "AfterSecond": "succeeded"}


def test_resume_stops_the_task_the_killed_runner_left_behind(tmp_path: Path) -> None:
    db = _killed_midway(tmp_path)
    with sqlite3.connect(db) as conn:
        [(pid,)] = conn.execute("SELECT pid FROM task_runs WHERE task = 'Second'").fetchall()
    os.killpg(pid, 0)  # still alive: orphaned in its own process group

    _resume(tmp_path)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
