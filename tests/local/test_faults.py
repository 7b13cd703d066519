"""Faults the local runner survives, with real processes: ``myelin run`` as a subprocess, its tasks, its
seldon-core 1.17.1 model servers (the toy model of tests/local/toy), its SQLite state.

* ``kill -9`` of a model server's main process under load: errors stop within seconds (the server is
  replaced, the dead one never keeps traffic) and ``/health`` tells the truth meanwhile;
* SIGTERM and SIGINT to ``myelin run`` alike: exit 130 and no process of the run is left (psutil);
* a task that ends while its runner is frozen and then ``kill -9``-ed keeps its exit status (its watchdog
  wrote it): ``--resume`` records it and does not run the task again.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from .test_crash import Run, command, of_the_run, servers_of
from support.processes import until

pytestmark = pytest.mark.slow

#: Errors must stop this long (s) after a model server was killed (a replacement starts in 2-5 s here).
RECOVERY = 20.0


@pytest.fixture
def run(tmp_path: Path, serving_env_cache: Path) -> Iterator[Run]:
    made = Run(tmp_path, serving_env_cache)
    yield made
    made.close()


def _router(run: Run) -> str:
    rows = run.rows("SELECT router_url FROM run")
    return str(rows[0][0]) if rows and rows[0][0] else ""


def _health(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class _Load:
    """Threads sending predictions to the router as fast as it answers: (monotonic time, status) of each."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.results: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _loop(self) -> None:
        body = json.dumps({"data": {"ndarray": [[1.0, 2.0]]}}).encode()
        while not self._stop.is_set():
            request = urllib.request.Request(
                self.url + "/predict", body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0  # no answer at all
            self.results.append((time.monotonic(), status))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


def test_killing_a_model_servers_main_process_under_load_errors_stop_within_seconds(run: Run) -> None:
    run.start()
    run.until(lambda: len(run.rows("SELECT id FROM deployments")) == 1 and _router(run), 180)
    url = _router(run)
    [server] = servers_of(run.root)
    load = _Load(url)
    try:
        time.sleep(2.0)
        assert len(load.results) > 20 and all(s == 200 for _, s in load.results), load.results[-5:]
        killed = time.monotonic()
        server.kill()  # the launcher: the model server's main process, leader of its group
        # /health tells the truth: 503 with the dead server named within a second, then ok again
        down = until(lambda: _health(url) == (503, {**_health(url)[1], "status": "no live model server"}), 2)
        assert down, _health(url)
        assert until(lambda: _health(url)[0] == 200 and "down" not in _health(url)[1], RECOVERY)
        time.sleep(3.0)  # the replacement serves under the same load
    finally:
        load.stop()
    errors = [t for t, s in load.results if s != 200]
    assert errors, "the kill was not seen at all: the test did not test anything"
    last_error = max(errors) - killed
    assert last_error < RECOVERY, f"errors went on for {last_error:.1f}s"
    after = [s for t, s in load.results if t > max(errors)]
    assert len(after) > 20 and set(after) == {200}
    [replacement] = servers_of(run.root)
    assert replacement.pid != server.pid
    assert "is down (its process exited)" in run.output()
    # the next deploy does not keep the dead server: one server serves, the state records the new group
    assert len(run.rows("SELECT id FROM processes WHERE kind = 'server' AND ended IS NULL")) == 1
    print(f"errors for {last_error:.2f}s after the kill; {len(errors)} failed of {len(load.results)}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_stop_everything_alike(run: Run, signum: int) -> None:
    runner = run.start()
    run.until(lambda: len(run.rows("SELECT id FROM deployments")) == 1, 180)
    tree = psutil.Process(runner.pid).children(recursive=True)
    assert any("seldon_launcher.py" in command(p) for p in tree)
    os.kill(runner.pid, signum)
    assert runner.wait(timeout=60) == 130, run.output()[-3000:]
    _, alive = psutil.wait_procs(tree, timeout=5)  # nothing is left to a watchdog: all stopped at once
    assert alive == [], [command(p) for p in alive]
    assert of_the_run(run.root) == []
    assert "stopped: resume with" in run.output()
    assert run.rows("SELECT status FROM run") == [("stopped",)]


SLOW_PREP = """\
import json, os, sys, time
from pathlib import Path
data = Path(os.environ["DATA_PATH"])
(data / "numbers.json").write_text(json.dumps(list(range(1, 11))))
runs = data / "prep-runs.txt"
runs.write_text(str(int(runs.read_text()) + 1 if runs.exists() else 1))
time.sleep(float(os.environ.get("PREP_SECONDS", "0")))
print("prep done")
sys.exit(int(os.environ.get("PREP_EXIT", "0")))
"""


@pytest.mark.parametrize("exit_code", [0, 3])
def test_a_task_that_ends_while_the_runner_is_down_is_not_run_again(run: Run, exit_code: int) -> None:
    (run.code / "prep.py").write_text(SLOW_PREP)
    run.env.update(PREP_SECONDS="2", PREP_EXIT=str(exit_code))
    runner = run.start()
    run.until(lambda: run.rows("SELECT pid FROM task_runs WHERE task = 'Prep' AND pid IS NOT NULL"), 60)
    [(pid, log)] = run.rows("SELECT pid, log FROM task_runs WHERE task = 'Prep'")
    os.kill(runner.pid, signal.SIGSTOP)  # frozen: it cannot see the task end
    try:
        exit_file = Path(f"{log}.exit")
        assert until(exit_file.exists, 20), "the watchdog did not keep the exit status"
        assert json.loads(exit_file.read_text()) == {"pid": pid, "exitCode": exit_code}
        assert run.task_status("Prep") == ["running"]  # the runner did not record it
    finally:
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
    assert until(lambda: not of_the_run(run.root), 10), [command(p) for p in of_the_run(run.root)]

    resumed = run.start("--resume", "--until", "idle" if exit_code else "deployed")
    resumed.wait(timeout=180)
    out = run.output()
    assert f"task Prep ended with exit status {exit_code} while no runner watched: not run again" in out
    [counter] = list((run.root / ".myelin").rglob("prep-runs.txt"))
    assert counter.read_text() == "1"  # ran once
    if exit_code == 0:
        assert resumed.returncode == 0, out[-3000:]
        assert run.task_status("Prep") == ["succeeded"]
        assert run.task_status("Train") == ["succeeded"]  # the sensor run went on from the next step
    else:
        # the sensor run failed under the previous runner: like any failure from before a resume, it does
        # not set this runner's exit status (which counts the sensor runs it ran)
        assert resumed.returncode == 0, out[-3000:]
        assert run.rows("SELECT status FROM sensor_runs WHERE sensor = 'TrainOnStart'") == [("failed",)]
        assert run.rows("SELECT status, exit_code FROM task_runs WHERE task = 'Prep'") == [("failed", 3)]
        assert run.task_status("Train") == []  # its sensor run failed with it


SLOW_TRAIN = """\
import json, os, time
from pathlib import Path
data = Path(os.environ["DATA_PATH"])
runs = data / "train-runs.txt"
runs.write_text(str(int(runs.read_text()) + 1 if runs.exists() else 1))
from myelin_sdk.runtime import publish_metric
publish_metric("toy_train_loss", 0.1)  # while the runner still listens
print("published", flush=True)
time.sleep(2)
# the original convention: files written straight into MODEL_PATH make the version (no registry API)
(Path(os.environ["MODEL_PATH"]) / "model.json").write_text(json.dumps({"factor": 2, "n": 10}))
print("train done")
"""


def test_a_train_task_that_ends_while_the_runner_is_down_is_registered_not_run_again(run: Run) -> None:
    """The train execution's version folder is kept beside its log (``<log>.execution``): ``--resume``
    registers it as the runner would have, so the model deploys without training again."""
    (run.code / "train.py").write_text(SLOW_TRAIN)
    runner = run.start()
    run.until(lambda: run.rows("SELECT pid FROM task_runs WHERE task = 'Train' AND pid IS NOT NULL"), 90)
    [(pid, log)] = run.rows("SELECT pid, log FROM task_runs WHERE task = 'Train'")
    assert isinstance(pid, int)
    run.until(lambda: "published" in Path(str(log)).read_text(errors="replace"), 60)
    os.kill(runner.pid, signal.SIGSTOP)  # frozen: it cannot see the task end
    try:
        assert until(Path(f"{log}.exit").exists, 20), "the watchdog did not keep the exit status"
        kept = json.loads(Path(f"{log}.execution").read_text())
        assert run.task_status("Train") == ["running"]
    finally:
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
    folder = Path(kept["folder"])
    assert (folder / "model.json").exists() and not (folder / "metrics.json").exists()  # not registered yet
    assert until(lambda: not of_the_run(run.root), 10), [command(p) for p in of_the_run(run.root)]

    resumed = run.start("--resume", "--until", "deployed")
    resumed.wait(timeout=180)
    out = run.output()
    assert resumed.returncode == 0, out[-3000:]
    assert "task Train ended with exit status 0 while no runner watched: not run again" in out
    assert f"task Train: registered model version {folder}" in out
    assert (folder / "metrics.json").exists()
    [counter] = list((run.root / ".myelin").rglob("train-runs.txt"))
    assert counter.read_text() == "1"  # trained once
    assert run.task_status("Train") == ["succeeded"]
