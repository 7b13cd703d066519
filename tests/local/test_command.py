"""``myelin run``, ``myelin status --local``, ``myelin endpoint --local``, ``python pipeline.py --run-local``:
the command line of the local runner, in process and as real processes (signals)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.fake_apiserver import run_cli
from support.processes import spawn_myelin

AXON = """\
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata: {name: cli-local}
spec:
  tasks:
    - name: Hello
      container:
        command: [python, -c, "print('hello from the task')"]
    - name: Sleep
      container:
        command: [python, -c, "import time; open('sleep.started', 'w'); time.sleep(600)"]
  sensors:
    - name: Start
      tasks:
        - resourceExecutor: {task: Hello}
    - name: Later
      triggers: [{type: Rest, name: later}]
      tasks:
        - resourceExecutor: {task: Sleep}
"""

SLEEPER = """\
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata: {name: sleeper}
spec:
  tasks:
    - name: Sleep
      container:
        command: [python, -c, "import time; open('sleep.started', 'w'); time.sleep(600)"]
  sensors:
    - name: Start
      tasks:
        - resourceExecutor: {task: Sleep}
"""


def test_run_help_explains_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_cli(capsys, "run", "--help")
    out = capsys.readouterr().out
    for flag in (
        "--workdir",
        "--artifact NAME=PATH",
        "--prometheus",
        "--until",
        "--timeout",
        "--port",
        "--resume",
    ):
        assert flag in out
    assert "seldon-core" in out and "docs/local.md" in out


def test_run_until_idle_then_status_and_endpoint_of_the_local_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "axon.yaml").write_text(AXON)
    code, out, _ = run_cli(
        capsys,
        "run",
        str(tmp_path / "axon.yaml"),
        "--workdir",
        str(tmp_path),
        "--until",
        "idle",
        "--port",
        "0",
    )
    assert code == 0, out
    assert "task Hello succeeded" in out
    code, out, _ = run_cli(capsys, "status", "--local", "--workdir", str(tmp_path))
    assert code == 0
    assert "axon cli-local: finished" in out
    assert "Start" in out and "succeeded" in out
    code, out, _ = run_cli(capsys, "status", "--local", "--workdir", str(tmp_path), "-o", "json")
    status = json.loads(out)
    assert [(t["task"], t["status"]) for t in status["taskRuns"]] == [("Hello", "succeeded")]
    code, _, err = run_cli(capsys, "endpoint", "--local", "--workdir", str(tmp_path))
    assert code == 2
    assert "serves no model (it is not running" in err


def test_status_needs_an_axon_or_local(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "status")
    assert code == 2 and "give the axon's name, or --local" in err
    code, _, err = run_cli(capsys, "status", "--local", "--workdir", str(tmp_path))
    assert code == 2 and "no local run under" in err


def _sleep_pid(tmp_path: Path) -> int:
    deadline = time.monotonic() + 60
    while not (tmp_path / "sleep.started").exists():
        assert time.monotonic() < deadline, "the task did not start"
        time.sleep(0.05)
    [db] = list(tmp_path.glob(".myelin/runs/*/state.db"))
    with sqlite3.connect(db) as conn:
        [(pid,)] = conn.execute("SELECT pid FROM task_runs WHERE task = 'Sleep'").fetchall()
    return int(pid)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_every_task_group(tmp_path: Path, signum: int) -> None:
    (tmp_path / "axon.yaml").write_text(SLEEPER)
    runner = spawn_myelin(tmp_path, "run", "axon.yaml", "--plain", "--port", "0")
    pid = _sleep_pid(tmp_path)
    runner.send_signal(signum)
    out, _ = runner.communicate(timeout=30)
    assert runner.returncode == 130, out
    assert "resume with `myelin run PATH --resume`" in out
    assert "Traceback" not in out
    assert "task Sleep stopped; a resumed run runs it again" in out
    assert "failed" not in out  # stopping is not the task's failure
    [db] = list(tmp_path.glob(".myelin/runs/*/state.db"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM task_runs").fetchall() == [("interrupted",)]
        assert conn.execute("SELECT status FROM sensor_runs").fetchall() == [("running",)]  # resumable
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_timeout_stops_everything_with_status_3(tmp_path: Path) -> None:
    (tmp_path / "axon.yaml").write_text(SLEEPER)
    runner = spawn_myelin(tmp_path, "run", "axon.yaml", "--plain", "--port", "0", "--timeout", "3")
    pid = _sleep_pid(tmp_path)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 3, out
    assert "timed out after 3s" in out
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_pipeline_run_local(tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text(
        "from myelin_sdk import Axon, ContainerTask, Sensor\n"
        "with Axon('from-python') as axon:\n"
        "    touch = ContainerTask('Touch', command=['python', '-c', \"open('touched', 'w')\"])\n"
        "    Sensor('Start', tasks=[touch])\n"
        "if __name__ == '__main__':\n"
        "    axon.main()\n"
    )
    result = subprocess.run(
        [sys.executable, "pipeline.py", "--run-local", "--until", "idle", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "touched").exists()


def test_a_relative_workdir_still_gives_tasks_absolute_paths(tmp_path: Path) -> None:
    """Tasks run in their code's folder, not the runner's: DATA_PATH must not be relative to the runner."""
    (tmp_path / "code").mkdir()
    (tmp_path / "axon.yaml").write_text(
        """\
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata: {name: relative}
spec:
  artifacts:
    - {name: code, path: /src, local: {path: code}}
  tasks:
    - name: Write
      container:
        command: [python, -c, "import os; open(os.path.join(os.environ['DATA_PATH'], 'x'), 'w')"]
        imageBuild: {repositoryName: w, artifact: code, buildLocation: /src, dockerfile: {}}
  sensors:
    - name: Start
      tasks: [{resourceExecutor: {task: Write}}]
"""
    )
    flags = ["--workdir", "work", "--until", "idle", "--port", "0", "--plain"]
    result = subprocess.run(
        [sys.executable, "-m", "myelin_sdk.cli", "run", "axon.yaml", *flags],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(tmp_path.glob("work/.myelin/runs/*/store/data/x"))
    assert not (tmp_path / "code" / "work").exists()
