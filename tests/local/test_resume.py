"""``myelin run --resume`` after ``kill -9`` of the runner: nothing finished runs again, nothing is lost.

The runner is a real process (``python -m myelin_sdk.cli run``), its tasks real subprocesses, its state the
real SQLite file; the test kills it with SIGKILL while the second task of a sensor runs.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil

from myelin_sdk.local.executor import group_members, reap_group

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
        image: python:3.11-slim
        command: [python, -c, "from pathlib import Path; p = Path('first.count'); \
p.write_text(str(int(p.read_text()) + 1 if p.exists() else 1))"]
    - name: Second
      container:
        image: python:3.11-slim
        command: [python, -c, "import time; from pathlib import Path; p = Path('second.count'); \
n = int(p.read_text()) + 1 if p.exists() else 1; p.write_text(str(n)); \
time.sleep(600 if n == 1 else 0); Path('second.done').write_text('yes')"]
    - name: Third
      container:
        image: python:3.11-slim
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
    """Start ``myelin run``, SIGKILL the runner alone while the second task runs; the run's state db."""
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


def test_a_task_does_not_outlive_its_killed_runner(tmp_path: Path) -> None:
    db = _killed_midway(tmp_path)
    with sqlite3.connect(db) as conn:
        [(pid,)] = conn.execute("SELECT pid FROM task_runs WHERE task = 'Second'").fetchall()
    assert until(lambda: not group_members(pid), 10), "the task's group outlived the runner"
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "myelin_sdk.cli",
            "status",
            "--local",
            "--workdir",
            str(tmp_path),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(status.stdout)
    assert info["status"] == "dead"  # not "running", not "stopped": its runner died without stopping
    assert info["processes"] == []  # and nothing of it is left


def test_resume_reaps_a_group_whose_watchdog_died_with_the_runner(tmp_path: Path) -> None:
    (tmp_path / "axon.yaml").write_text(AXON)
    runner = spawn_myelin(tmp_path, "run", "axon.yaml", "--plain", "--port", "0", new_session=True)
    assert until((tmp_path / "second.count").exists, 60), "the second task did not start"
    [run_dir] = list((tmp_path / ".myelin" / "runs").iterdir())
    with sqlite3.connect(run_dir / "state.db") as conn:
        [(pid, created)] = conn.execute(
            "SELECT pid, created FROM processes WHERE name = 'Second' AND ended IS NULL"
        ).fetchall()
    assert created == psutil.Process(pid).create_time()  # recorded with its identity
    [watchdog] = [p for p in group_members(pid) if "watchdog.py" in " ".join(p.cmdline())]
    watchdog.kill()  # a watchdog killed with its runner (kill -9 of the whole session, say)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(timeout=10)
    time.sleep(1.0)
    assert [p.pid for p in group_members(pid)] == [pid]  # left behind: nothing watches it any more

    code, out = _resume(tmp_path)
    assert code == 0, out
    assert "stopped task Second left running by the previous runner" in out
    assert not group_members(pid)
    assert (tmp_path / "second.done").read_text() == "yes"  # and it ran again, to its end


def test_a_recorded_pid_that_now_names_another_process_is_left_alone() -> None:
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        created = psutil.Process(other.pid).create_time()
        assert reap_group(other.pid, created - 5.0) == 0  # another start time: not the recorded process
        assert other.poll() is None
        assert reap_group(other.pid, created) == 1  # the recorded one: ended
        other.wait(timeout=10)
        assert not group_members(other.pid)
    finally:
        other.kill()
        other.wait()


def test_a_lifecycle_event_not_recorded_before_the_kill_is_emitted_on_resume(tmp_path: Path) -> None:
    """The runner died between recording that Second succeeded and recording its Lifecycle event."""
    (tmp_path / "axon.yaml").write_text(AXON.replace("time.sleep(600 if n == 1 else 0)", "n"))
    done = spawn_myelin(tmp_path, "run", "axon.yaml", "--plain", "--port", "0", "--until", "idle")
    out, _ = done.communicate(timeout=120)
    assert done.returncode == 0, out
    [run_dir] = list((tmp_path / ".myelin" / "runs").iterdir())
    with sqlite3.connect(run_dir / "state.db") as conn:  # as it was at the moment of the kill
        conn.execute("DELETE FROM events WHERE name = 'Second:Succeeded'")
        conn.execute("DELETE FROM task_runs WHERE task = 'Third'")
        conn.execute("DELETE FROM sensor_runs WHERE sensor = 'AfterSecond'")
        conn.execute("UPDATE run SET status = 'running'")

    code, out = _resume(tmp_path)
    assert code == 0, out
    assert "task Second ended before the previous runner died: its Succeeded event comes now" in out
    assert (tmp_path / "second.count").read_text() == "1"  # not run again
    assert (tmp_path / "third.count").read_text() == "2"  # the lost event's sensor ran (again, here)
    assert _task_status(run_dir / "state.db", "Third") == ["succeeded"]
