"""``kill -9`` of ``myelin run`` during a task, right after a task and during a deploy, then ``--resume``.

Everything is real: the runner is ``python -m myelin_sdk.cli run``, its tasks subprocesses, its model
servers seldon-core 1.17.1 (the toy model, tests/local/toy), its state the SQLite file. After each kill,
no process of the run may remain (psutil) and nothing of it may have listened on a non-loopback address
(the kernel's socket table); after each resume, nothing finished ran again, nothing was lost, and no model
server runs twice.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from support.processes import until

pytestmark = pytest.mark.slow

TOY = Path(__file__).parent / "toy"

AXON = """\
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata: {name: crashy}
spec:
  volume: {name: axon-store, emptyDir: {}}
  artifacts:
    - {name: code, path: /src, git: {repo: https://example.invalid/given-with-artifact.git}}
  tasks:
    - name: Prep
      container:
        command: [python, prep.py]
        imageBuild:
          {repositoryName: prep, artifact: code, buildLocation: /src, dockerfile: {path: Dockerfile.train}}
    - name: Train
      train:
        lossMetric: toy_train_loss
        imageBuild:
          {repositoryName: train, artifact: code, buildLocation: /src, dockerfile: {path: Dockerfile.train}}
    - name: Serve
      deploy:
        endpointType: REST
        imageBuild:
          repositoryName: serve
          artifact: code
          buildLocation: /src
          s2i: {builderImage: seldonio/seldon-core-s2i-python3:1.17.1}
  sensors:
    - name: TrainOnStart
      tasks:
        - resourceExecutor: {task: Prep}
        - trainer: {task: Train}
    - name: Deploy
      triggers:
        - {type: Lifecycle, task: Train, condition: Succeeded}
      tasks:
        - deployer:
            name: toy
            models:
              - name: ToyModel
                backendModels:
                  - {name: ToyBackend, trainer: Train, deployer: Serve}
"""


class Run:
    """A ``myelin run`` of the crash axon in ``tmp_path``, its output in a file (a pipe could fill up)."""

    def __init__(self, tmp_path: Path, env_cache: Path) -> None:
        self.root = tmp_path
        self.code = tmp_path / "code"
        shutil.copytree(TOY, self.code, ignore=shutil.ignore_patterns("axon.yaml", "__pycache__"))
        (tmp_path / "axon.yaml").write_text(AXON)
        cache = tmp_path / "cache"
        cache.mkdir()
        (cache / "serving-envs").symlink_to(env_cache)  # the session's seldon-core env: built once
        self.env = {**os.environ, "MYELIN_CACHE_DIR": str(cache)}
        self.runner: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, *args: str, train_seconds: float = 0) -> subprocess.Popen[bytes]:
        self.starts += 1
        out = (self.root / f"runner-{self.starts}.out").open("wb")
        command = [sys.executable, "-m", "myelin_sdk.cli", "run", "axon.yaml", "--plain", "--port", "0"]
        self.runner = subprocess.Popen(
            [*command, "--artifact", f"code={self.code}", *args],
            cwd=self.root,
            env={**self.env, "TOY_TRAIN_SECONDS": str(train_seconds)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self.runner

    def until(self, predicate: Callable[[], object], timeout: float, poll: float = 0.05) -> None:
        """Wait for ``predicate``; fail at once, with the runner's output, if the runner ends first."""
        assert self.runner is not None
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.runner.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"runner ended or timed out ({self.runner.returncode}):\n{self.output()[-3000:]}")
            time.sleep(poll)

    def output(self) -> str:
        return (self.root / f"runner-{self.starts}.out").read_text(errors="replace")

    @property
    def db(self) -> Path:
        [run_dir] = list((self.root / ".myelin" / "runs").iterdir())
        return run_dir / "state.db"

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        try:
            with sqlite3.connect(self.db, timeout=10) as conn:
                return list(conn.execute(sql).fetchall())
        except (sqlite3.OperationalError, ValueError, OSError):
            return []  # not created yet

    def task_status(self, task: str) -> list[object]:
        return [r[0] for r in self.rows(f"SELECT status FROM task_runs WHERE task = '{task}' ORDER BY id")]

    def close(self) -> None:
        """Kill the runner if it still runs, then every process of the run that is left."""
        if self.runner is not None and self.runner.poll() is None:
            self.runner.kill()
            self.runner.wait()
        for process in of_the_run(self.root):
            process.kill()

    def kill(self) -> list[psutil.Process]:
        """SIGKILL the runner alone; every process it had started (checked: none listened off loopback)."""
        assert self.runner is not None
        tree = psutil.Process(self.runner.pid).children(recursive=True)
        assert off_loopback({self.runner.pid, *(p.pid for p in tree)}) == []
        os.kill(self.runner.pid, signal.SIGKILL)
        self.runner.wait(timeout=10)
        return tree

    def resume(self, *args: str, timeout: float = 180) -> str:
        runner = self.start("--resume", *args)
        try:
            runner.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            runner.kill()
            pytest.fail("the resumed run did not end:\n" + self.output()[-3000:])
        assert runner.returncode == 0, self.output()[-3000:]
        return self.output()


def off_loopback(pids: set[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every listening TCP socket of ``pids`` not bound to a loopback address."""
    return [
        (c.pid, c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in pids and c.laddr.ip not in ("127.0.0.1", "::1")
    ]


def of_the_run(root: Path) -> list[psutil.Process]:
    """Live processes that belong to the run in ``root``: working there, or naming it on their command line
    or in their environment (every task and model server gets paths under it)."""
    mine = str(root)
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if (
                process.cwd().startswith(mine)
                or any(mine in part for part in process.cmdline())
                or any(mine in value for value in process.environ().values())
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


def command(process: psutil.Process) -> str:
    """The command line of ``process`` ('' once it is gone)."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def servers_of(root: Path) -> list[psutil.Process]:
    """The model servers (the launcher processes leading their group) of the run in ``root``."""
    found = []
    for process in of_the_run(root):
        try:
            if "seldon_launcher.py" in command(process) and os.getpgid(process.pid) == process.pid:
                found.append(process)
        except OSError:
            continue
    return found


def assert_nothing_left(run: Run, tree: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(tree, timeout=15)
    assert alive == [], [command(p) for p in alive]
    assert until(lambda: not of_the_run(run.root), 10), [command(p) for p in of_the_run(run.root)]
    assert off_loopback({p.pid for p in tree}) == []


@pytest.fixture
def run(tmp_path: Path, serving_env_cache: Path) -> Iterator[Run]:
    made = Run(tmp_path, serving_env_cache)
    yield made
    made.close()


def _deployed_once(run: Run) -> None:
    """One deployment of one version, served by exactly one model server, which answered while it ran."""
    assert len(run.rows("SELECT id FROM deployments")) == 1
    assert run.task_status("deployer:toy")[-1] == "succeeded"
    assert "model server" in run.output() and "ready at" in run.output()


def test_kill_during_a_task(run: Run) -> None:
    run.start(train_seconds=600)
    run.until(lambda: run.task_status("Train") == ["running"], 60)
    time.sleep(0.5)  # well inside the training
    tree = run.kill()
    assert any("train.py" in command(p) for p in tree)
    assert_nothing_left(run, tree)

    out = run.resume("--until", "deployed")
    assert "resumed" in out
    assert run.task_status("Prep") == ["succeeded"]  # finished before the kill: not run again
    assert run.task_status("Train") == ["interrupted", "succeeded"]
    assert (run.root / ".myelin").exists() and _prep_runs(run) == 1
    _deployed_once(run)  # the Lifecycle event of the resumed training was not lost


def test_kill_right_after_a_task(run: Run) -> None:
    run.start()
    run.until(lambda: run.task_status("Train") == ["succeeded"], 90, poll=0.01)
    tree = run.kill()
    assert_nothing_left(run, tree)

    run.resume("--until", "deployed")
    assert run.task_status("Prep") == ["succeeded"]
    assert run.task_status("Train") == ["succeeded"]  # finished: not run again
    assert _prep_runs(run) == 1
    _deployed_once(run)  # its Lifecycle event was not lost


def test_kill_during_a_deploy_then_resume_serves_once(run: Run) -> None:
    runner = run.start()

    def launcher_started() -> bool:  # the model server's process is there (its log file comes first)
        try:
            tree = psutil.Process(runner.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return False
        return any("seldon_launcher.py" in command(p) for p in tree)

    run.until(launcher_started, 120, poll=0.01)
    assert run.rows("SELECT id FROM deployments") == []  # the model server is starting: not deployed yet
    tree = run.kill()
    assert any("seldon_launcher.py" in command(p) for p in tree)
    assert_nothing_left(run, tree)

    # resume and keep running: the served version is the one the interrupted deploy chose, served once
    runner = run.start("--resume")
    run.until(lambda: len(run.rows("SELECT id FROM deployments")) == 1, 120)
    run.until(lambda: len(servers_of(run.root)) == 1, 30)
    time.sleep(1.0)
    assert len(servers_of(run.root)) == 1  # no duplicate, no leftover
    assert run.task_status("Train") == ["succeeded"]
    assert run.task_status("deployer:toy") == ["interrupted", "succeeded"]
    # every listener of the run — router, control endpoint, metrics store, model server — is on loopback
    tree = psutil.Process(runner.pid).children(recursive=True)
    listening = {c.pid for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN} & {
        runner.pid,
        *(p.pid for p in tree),
    }
    assert {runner.pid, *(p.pid for p in servers_of(run.root))} <= listening
    tree = run.kill()
    assert_nothing_left(run, tree)


def _prep_runs(run: Run) -> int:
    [counter] = list((run.root / ".myelin").rglob("prep-runs.txt"))
    return int(counter.read_text())
