"""The embedded event loop: sensors, their triggers and conditions, and their steps, on one machine.

Semantics (the same as on a cluster, see docs/local.md):

* a sensor without triggers runs once when the run starts (not again on ``--resume``);
* ``Lifecycle`` fires when a task execution ends ``Succeeded`` or ``Failed``; ``Alert`` when its condition
  starts to hold (after ``for``), evaluated every ``alert_interval`` seconds — once per firing, again only
  after it resolved; ``Rest`` on ``POST /trigger/<sensor>`` at the control endpoint; ``Calendar`` on its
  schedule or interval;
* a sensor that is already running is not started again: the event is recorded and skipped;
* a sensor run checks its ``Metric`` conditions (``count`` measurements ``interval`` apart, ``failureLimit``),
  then runs its steps in order and stops at the first that fails.

Every decision is written to the run's SQLite state before it is acted on (see :mod:`.state`)::

    engine = Engine(axon, RunOptions(port=9000), source=Path("pipeline.py"), log=print)
    engine.start()
    engine.wait(until="deployed", timeout=600)
    engine.stop()
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from .. import contract
from ..errors import Diagnostic, MyelinError
from ..spec import Alert, Axon, Lifecycle, Rest, Sensor, SensorStep
from ..spec.expressions import parse_alert_condition
from .checks import check_axon, check_port
from .control import ControlServer
from .deployments import Deployments, ServingContext, deployer_name
from .environment import task_environment
from .executor import TaskProcess, tail
from .gates import gates_pass
from .launch import Launcher
from .options import RunOptions
from .outcome import Failure, RunFailed, blocked_reason, leads_to_deploy
from .resume import lost_lifecycle_events, reap_previous
from .snapshot import snapshot
from .spark import spark_command
from .state import FAILED, RUNNING, SKIPPED, SUCCEEDED, State, TaskRun
from .triggers import TimedTriggers
from .workspace import (
    RunDir,
    build_context,
    describe,
    fetch_artifact,
    find_run,
    new_run_id,
    runs_root,
    task_command,
    task_workdir,
)

__all__ = ["Engine", "RunOptions", "Until"]

Until = Literal["idle", "deployed"]


class Engine:
    """Runs one axon locally; thread-safe; ``start`` returns once everything is listening."""

    def __init__(
        self,
        axon: Axon,
        options: RunOptions | None = None,
        *,
        source: Path | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.axon = axon
        self.options = options or RunOptions()
        self.source = source
        self._log = log
        self.stop_event = threading.Event()
        self._lock = threading.RLock()
        self._stopped = False  # stop() ran (stop_event alone is also set by a start that failed half-way)
        self._shut = False  # _shutdown() ran
        self._active: dict[str, threading.Thread] = {}
        self._processes: dict[int, TaskProcess] = {}
        self._deployed = threading.Event()
        self.triggers = TimedTriggers(
            axon.sensors,
            self,
            holds=lambda condition: self.metrics.holds(condition),
            stop=self.stop_event,
            interval=self.options.alert_interval,
            log=self.log,
        )
        #: Sensor runs of this session that failed (a step failed); ``skips``: skipped by a Metric gate.
        self.failures: list[Failure] = []
        self.skips: list[Failure] = []
        self._step_errors: dict[int, str] = {}
        self.run_dir: RunDir | None = None
        self.state: State | None = None
        self.metrics: Any = None
        self.deployments: Deployments | None = None
        self.control: Any = None
        self.code_dirs: dict[str, Path] = {}
        self.commands: dict[str, list[str]] = {}
        self.launcher = Launcher(self)

    # ------------------------------------------------------------------ logging

    def log(self, message: str) -> None:
        self._log(f"[{time.strftime('%H:%M:%S')}] {message}")

    # ------------------------------------------------------------------ start

    def check(self) -> None:
        """Everything that can be known before running (:func:`.checks.check_axon`). Raises MyelinError."""
        check_axon(self.axon, self.options.artifacts)

    def _open_run(self) -> tuple[RunDir, bool]:
        workdir = self.options.workdir.resolve()  # tasks run in other folders: paths they get are absolute
        if self.options.resume:
            run = None if self.options.resume is True else str(self.options.resume)
            return RunDir(find_run(workdir, run)), True
        return RunDir(runs_root(workdir) / new_run_id()), False

    def start(self) -> None:
        """Check the axon, prepare the run dir, start metrics, serving and triggers, fire start sensors."""
        self.check()
        check_port(self.axon, self.options.port)
        run_dir, resumed = self._open_run()
        fresh = not run_dir.root.exists()
        try:
            self._prepare(run_dir, resumed)
        except BaseException:
            self._shutdown()
            if fresh:
                shutil.rmtree(run_dir.root, ignore_errors=True)
            raise

    def _prepare(self, run_dir: RunDir, resumed: bool) -> None:
        self.run_dir = run_dir.create()
        base = self.source.resolve().parent if self.source is not None else Path.cwd()
        folders = {
            a.name: fetch_artifact(a, k, run_dir, base, self.options.artifacts.get(a.name))
            for k, a in enumerate(self.axon.artifacts)
        }
        used = {s.task for sensor in self.axon.sensors for s in sensor.tasks if s.task}
        deploy_tasks = {
            b.deployer
            for sensor in self.axon.sensors
            for s in sensor.tasks
            if s.deployer
            for m in s.deployer.models
            for b in m.backend_models
        }
        for k, task in enumerate(self.axon.tasks):
            where = f"spec.tasks[{k}]"
            context = build_context(self.axon, task, folders, f"{where}.{task.kind}")
            if task.name in deploy_tasks:
                if context is None:
                    raise MyelinError(
                        [
                            Diagnostic(
                                where, f"deploy task {task.name!r} needs an imageBuild with its code to serve"
                            )
                        ]
                    )
                self.code_dirs[task.name] = context
            elif task.name in used and task.kind == "spark":
                self.commands[task.name] = spark_command(task, context, f"{where}.spark")
                self.code_dirs[task.name] = context or base
            elif task.name in used:
                self.commands[task.name] = task_command(task, context, f"{where}.{task.kind}")
                self.code_dirs[task.name] = task_workdir(task, context, f"{where}.{task.kind}") or base
        self.state = State.open(run_dir.state_db)
        self.state.init_run(run_dir.root.name, self.axon.name, str(self.source or "<python>"))
        self.state.update_run(status=RUNNING, pid=os.getpid())
        self._start_metrics(run_dir)
        self.deployments = Deployments(
            ServingContext(
                axon=self.axon,
                run_dir=run_dir,
                state=self.state,
                code_dirs=self.code_dirs,
                pushgateway_url=self.metrics.pushgateway_url,
                env_cache=self.options.env_cache,
                port=self.options.port,
                task_env=self.task_env,
                log=self.log,
                stop=self.stop_event,
            )
        )
        rest = [s.name for s in self.axon.sensors if any(isinstance(t, Rest) for t in s.triggers)]
        self.control = ControlServer(self, rest_sensors=rest)
        self.control.start()
        self.state.update_run(control_url=self.control.url, metrics_url=self.metrics.pushgateway_url)
        self.log(f"run {run_dir.root.name} in {run_dir.root}" + (" (resumed)" if resumed else ""))
        self.log(f"control endpoint {self.control.url} (POST /trigger/<sensor>, GET /status)")
        if resumed:
            self._resume()
        else:
            for sensor in self.axon.sensors:
                if not sensor.triggers:
                    self.emit("start", sensor.name, {}, [sensor.name])
        self.triggers.start()

    def _start_metrics(self, run_dir: RunDir) -> None:
        from .metrics import metrics_backend

        self.metrics = metrics_backend(
            self.axon.name,
            run_dir.state_db,
            prometheus_url=self.options.prometheus_url,
            pushgateway_url=self.options.pushgateway_url,
            ca_file=self.options.prometheus_ca,
            token_file=self.options.prometheus_token_file,
            insecure=self.options.prometheus_insecure,
            on_push=self.triggers.poke,
        )
        for i, sensor in enumerate(self.axon.sensors):
            for j, trigger in enumerate(sensor.triggers):
                if isinstance(trigger, Alert):
                    where = f"spec.sensors[{i}].triggers[{j}].condition"
                    self.metrics.check_alert(parse_alert_condition(trigger.condition), where)
        self.metrics.start()
        self.log(f"metrics: {type(self.metrics).__name__} (PUSHGATEWAY_URL={self.metrics.pushgateway_url})")

    def _settle_kept(self, task_run: TaskRun, code: int) -> bool:
        """A task that ended while no runner watched keeps its exit status; a train task's version folder is
        registered first (False, so it runs again, when that cannot be done)."""
        if self.axon.task(task_run.task).kind != "train":
            return True
        return self.launcher.register_kept(task_run.task, Path(task_run.log), code)

    def _resume(self) -> None:
        assert self.state is not None and self.deployments is not None
        reap_previous(self.state, self.log, self._settle_kept)  # then serve afresh: no duplicates
        self.deployments.restore([s.deployer for x in self.axon.sensors for s in x.tasks if s.deployer])
        for sensor_run in self.state.sensor_runs(status=RUNNING):
            self.log(f"resuming sensor {sensor_run.sensor} (run {sensor_run.id})")
            self._launch(sensor_run.sensor, sensor_run.id)
        for task, phase, code in lost_lifecycle_events(self.state):
            self.log(f"task {task} ended before the previous runner died: its {phase} event comes now")
            lost = f"{task}:{phase}"
            self.emit("lifecycle", lost, {"task": task, "exitCode": code}, self._targets("lifecycle", lost))
        for event in self.state.events(unhandled=True):
            self._dispatch(event.id, event.kind, event.name, self._targets(event.kind, event.name))
        self.triggers.restore(self.state.events())

    # ------------------------------------------------------------------ events

    def _targets(self, kind: str, name: str) -> list[str]:
        if kind == "start":
            return [name]
        out = []
        for sensor in self.axon.sensors:
            for trigger in sensor.triggers:
                if kind == "lifecycle" and isinstance(trigger, Lifecycle):
                    if f"{trigger.task}:{trigger.condition}" == name:
                        out.append(sensor.name)
                elif kind == "rest" and isinstance(trigger, Rest) and name == sensor.name:
                    out.append(sensor.name)
        return out

    def emit(self, kind: str, name: str, detail: dict[str, Any], targets: list[str]) -> int:
        """Record an event and start the sensors it triggers."""
        assert self.state is not None
        event_id = self.state.add_event(kind, name, detail)
        self._dispatch(event_id, kind, name, targets)
        return event_id

    def _dispatch(self, event_id: int, kind: str, name: str, targets: list[str]) -> None:
        assert self.state is not None
        if not targets or self.stop_event.is_set():
            self.state.mark_handled(event_id)
            return
        for sensor in targets:
            with self._lock:
                if sensor in self._active:
                    self.log(f"{kind} event {name}: sensor {sensor} is already running — not started again")
                    self.state.mark_handled(event_id)
                    continue
                run_id = self.state.begin_sensor_run(sensor, event_id)
                self.log(f"{kind} event {name} starts sensor {sensor} (run {run_id})")
                self._launch(sensor, run_id)

    def _launch(self, sensor: str, run_id: int) -> None:
        thread = threading.Thread(target=self._run_sensor, args=(sensor, run_id), name=f"sensor-{sensor}")
        with self._lock:
            self._active[sensor] = thread
        thread.start()

    # ------------------------------------------------------------------ sensor runs

    def _sensor(self, name: str) -> Sensor:
        return next(s for s in self.axon.sensors if s.name == name)

    def _run_sensor(self, name: str, run_id: int) -> None:
        assert self.state is not None
        sensor = self._sensor(name)
        status, message = SUCCEEDED, ""
        try:
            done = self.state.done_steps(run_id)
            holds, sleep = self.metrics.holds, self.stop_event.wait  # a stop cuts the gates' waits short
            if not done and not gates_pass(sensor, self.axon.name, holds=holds, sleep=sleep, log=self.log):
                status, message = SKIPPED, "a condition did not hold"
            else:
                for index, step in enumerate(sensor.tasks):
                    if self.stop_event.is_set():
                        return  # stays 'running': a resume goes on from here
                    if index in done:
                        continue
                    if not self._run_step(sensor, run_id, index, step):
                        status, message = FAILED, f"step {index} failed"
                        break
            if self.stop_event.is_set() and status != SUCCEEDED:
                return
        except Exception as exc:
            status, message = FAILED, f"{type(exc).__name__}: {exc}"
            self.log(f"sensor {name}: {message}")
        finally:
            with self._lock:
                self._active.pop(name, None)
        self.state.finish_sensor_run(run_id, status, message)
        self.log(f"sensor {name} (run {run_id}) {status}" + (f": {message}" if message else ""))
        if status in (FAILED, SKIPPED):
            self._record_end(name, run_id, status, message)

    def _record_end(self, sensor: str, run_id: int, status: str, message: str) -> None:
        """Keep a failed or skipped sensor run, with the task that failed and its log, for ``wait``."""
        assert self.state is not None
        failed: TaskRun | None = next(
            (t for t in self.state.task_runs(sensor_run_id=run_id) if t.status == FAILED), None
        )
        detail = self._step_errors.pop(run_id, "")
        end = Failure(
            sensor,
            run_id,
            f"{message}: {detail}" if detail else message,
            task=failed.task if failed and failed.log else None,
            log=failed.log if failed and failed.log else None,
            exit_code=failed.exit_code if failed else None,
            status=status,
        )
        with self._lock:
            (self.failures if status == FAILED else self.skips).append(end)

    def _run_step(self, sensor: Sensor, run_id: int, index: int, step: SensorStep) -> bool:
        assert self.state is not None and self.run_dir is not None and self.deployments is not None
        if step.deployer is not None:
            label = f"deployer:{deployer_name(step.deployer)}"
            task_run = self.state.begin_task_run(run_id, index, label, "")
            try:
                self.deployments.deploy(step.deployer, run_id)
            except Exception as exc:
                self.state.finish_task_run(task_run, FAILED, None)
                self.log(f"sensor {sensor.name}: {label} failed: {exc}")
                self._step_errors[run_id] = f"{label} failed: {exc}"
                return False
            self.state.finish_task_run(task_run, SUCCEEDED, 0)
            self._deployed.set()
            return True
        assert step.task is not None
        return self.run_task(step.task, run_id, index)

    def task_env(self, name: str) -> dict[str, str]:
        """The environment of a task or model server (:func:`.environment.task_environment`)."""
        assert self.run_dir is not None
        return task_environment(
            self.axon,
            name,
            self.run_dir,
            namespace=self.options.namespace,
            pushgateway_url=self.metrics.pushgateway_url,
            control_url=getattr(self.control, "url", None),
        )

    def track(self, task_run: int, process: TaskProcess) -> None:
        """A task process started (:mod:`.launch`): record it for a resumed runner, stop it on ``stop``."""
        assert self.state is not None
        self.state.set_task_pid(task_run, process.pid)
        with self._lock:
            self._processes[process.pid] = process

    def untrack(self, process: TaskProcess) -> None:
        """A task process ended (a task's, a trial's or a replica's; several can belong to one task run)."""
        with self._lock:
            self._processes.pop(process.pid, None)
        state = self.state
        if state is not None and process.popen.poll() is not None:
            state.process_ended(process.pid)

    def run_task(self, name: str, run_id: int, step: int) -> bool:
        """Run one task to its end (:meth:`.launch.Launcher.run`); emit its Lifecycle event. True when it
        succeeded."""
        assert self.state is not None and self.run_dir is not None
        log = self.run_dir.logs / f"{run_id:04d}-{step}-{contract.task_id(self.axon.name, name)}.log"
        task_run = self.state.begin_task_run(run_id, step, name, str(log))
        self.log(f"task {name} started: {describe(self.commands[name])}")
        code, registered = self.launcher.run(name, task_run, log)
        if code is None:
            self.state.finish_task_run(task_run, "interrupted", None)
            self.log(f"task {name} stopped; a resumed run runs it again")
            return False
        phase = "Succeeded" if code == 0 and registered else "Failed"
        self.state.finish_task_run(task_run, SUCCEEDED if phase == "Succeeded" else FAILED, code)
        if phase == "Succeeded":
            last = tail(log, 1).strip()
            self.log(f"task {name} succeeded" + (f": {last}" if last and not last.startswith("#") else ""))
        elif code != 0:  # (a version that could not be registered: the launcher said why)
            self.log(f"task {name} failed with exit status {code}; last lines of {log}:\n{tail(log)}")
        self.emit(
            "lifecycle",
            f"{name}:{phase}",
            {"task": name, "exitCode": code},
            self._targets("lifecycle", f"{name}:{phase}"),
        )
        return phase == "Succeeded"

    # ------------------------------------------------------------------ status and waiting

    def busy(self) -> bool:
        with self._lock:
            return bool(self._active)

    def snapshot(self) -> dict[str, Any]:
        """What a live view or ``GET /status`` shows (:func:`.snapshot.snapshot`)."""
        assert self.state is not None
        with self._lock:
            active = set(self._active)
        return snapshot(
            self.axon,
            self.state,
            run=self.run_dir.root.name if self.run_dir else None,
            active=active,
            metrics=self.metrics,
            deployments=self.deployments,
            failures=self.failures,
            deploy_blocked=self.deploy_blocked(),
            trials=self.launcher.trial_rows(),
        )

    def deploy_blocked(self) -> str | None:
        """Why no deploy can happen any more in this session (None when one did, or still can)."""
        if self._deployed.is_set():
            return None
        with self._lock:
            active = set(self._active)
            ended = sorted([*self.failures, *self.skips], key=lambda f: f.run_id)
        return blocked_reason(self.axon, active, ended)

    def wait(self, until: Until | None = None, timeout: float | None = None) -> bool:
        """Block until ``until`` holds (None: until stopped); False when ``timeout`` seconds passed first.

        Raises :class:`~.outcome.RunFailed` as soon as ``until="deployed"`` can no longer happen: a sensor on
        the way to the deployer failed or was skipped, and nothing else that leads there runs or is scheduled
        (see :mod:`.outcome`). ``"idle"`` is always reached; its failures are in :attr:`failures`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.stop_event.is_set():
            if until == "idle" and not self.busy():
                time.sleep(0.3)  # let a just-ended task's event start the next sensor
                if not self.busy():
                    return True
            if until == "deployed":
                if self._deployed.is_set() and not self.busy():
                    return True
                reason = self.deploy_blocked()
                if reason is not None:
                    leads = leads_to_deploy(self.axon)
                    with self._lock:
                        ended = [f for f in (*self.failures, *self.skips) if f.sensor in leads]
                    raise RunFailed(reason, sorted(ended, key=lambda f: f.run_id, reverse=True))
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    # ------------------------------------------------------------------ stop

    def stop(self, status: str = "stopped") -> None:
        """Stop every task process group, model server, router and listener; record the run's status."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self.log("stopping")
        self.stop_event.set()
        with self._lock:
            processes = list(self._processes.values())
            sensors = list(self._active.values())
        for process in processes:
            process.stop()
        for thread in sensors:
            thread.join(timeout=30)
        if self.state is not None:
            self.state.update_run(status=status)
        self._shutdown()

    def _shutdown(self) -> None:
        self.stop_event.set()
        with self._lock:
            if self._shut:
                return
            self._shut = True
        for part in (self.control, self.deployments, self.metrics):
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:
                    self.log(f"while stopping {type(part).__name__}: {exc}")
        if self.state is not None:
            self.state.close()
            self.state = None
