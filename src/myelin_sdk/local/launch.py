"""One task execution on the local runner: its processes, its version folder, its registration.

The engine (:mod:`.engine`) calls :meth:`Launcher.run` for each task step; what runs depends on the task:

* a train task with ``hpTuning``: a tuning (:mod:`.tuning`): every trial is one execution below, with
  ``HPO_PARAMS``, its own ``TASK_ID`` (``<task id>-trial-<n>``, the job its metrics go to) and version folder;
  the best configuration's version is registered (its metrics published again under the task's own job, where
  sensors look), the other trials' folders are removed;
* a train task with ``tfJobSpec``: one process per replica with ``TF_CONFIG`` (:mod:`.tfjob`);
* a spark task: ``spark-submit --master local[*]`` (its command, :mod:`.spark`);
* any other task: one process (:class:`~.executor.TaskProcess`).

A train execution gets a fresh ``MODEL_PATH`` folder, registered with the metrics it published when it
succeeds (:mod:`.executions`)::

    code, ok = launcher.run("Train", task_run_id, log_file)   # code None: stopped by the runner
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import contract
from ..errors import MyelinError
from .executions import TrainExecution
from .executor import TaskProcess
from .hpo_plan import hpo_args, hpo_params, hpo_plan
from .tfjob import TFJobRun, tf_replicas
from .tuning import RunResult, Tuning

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Launcher"]


def tuning_params(tuning: Tuning, number: int) -> dict[str, Any]:
    """The parameters of configuration ``number`` of ``tuning``."""
    return next((dict(r["params"]) for r in list(tuning.rows) if r["trial"] == number), {})


def execution_path(log: Path) -> Path:
    """Where a train execution's version folder is kept, beside its task's log."""
    return Path(f"{log}.execution")


class Launcher:
    """Runs the engine's task executions (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        #: task -> its running or last tuning (the live view's trial rows)
        self.tunings: dict[str, Tuning] = {}

    def trial_rows(self) -> list[dict[str, Any]]:
        with self._lock:
            tunings = list(self.tunings.values())
        return [dict(row) for t in tunings for row in sorted(list(t.rows), key=lambda r: int(r["trial"]))]

    # ------------------------------------------------------------------ processes

    def execute(
        self, name: str, task_run: int, log: Path, env: dict[str, str], args: list[str]
    ) -> int | None:
        """Start the task's process(es) and wait: the exit status, None when the runner stopped first."""
        engine = self.engine
        task = engine.axon.task(name)
        command = engine.commands[name] + args
        cwd = engine.code_dirs[name]
        spec = task.train.tf_job_spec if task.train is not None else None
        if spec is not None:
            where = f"spec.tasks[{engine.axon.tasks.index(task)}].train.tfJobSpec"
            job = TFJobRun(
                tf_replicas(spec, where),
                command,
                cwd=cwd,
                env=env,
                log=log,
                started=lambda p: engine.track(task_run, p),
                ended=engine.untrack,
            )
            return job.wait(engine.stop_event)
        process = TaskProcess.start(command, cwd=cwd, env=env, log=log)
        engine.track(task_run, process)
        try:
            return process.wait(engine.stop_event)
        finally:
            engine.untrack(process)

    # ------------------------------------------------------------------ one execution

    def run(self, name: str, task_run: int, log: Path) -> tuple[int | None, bool]:
        """Run task ``name`` once (a tuning for hpTuning): (exit status or None when stopped, registered)."""
        task = self.engine.axon.task(name)
        if task.train is not None and task.train.hp_tuning is not None:
            return self._tune(name, task_run, log)
        env = self.engine.task_env(name)
        execution = self._execution(name, env)
        if execution is not None:
            execution.save(execution_path(log))  # read by --resume when the runner dies before the task ends
        code = self.execute(name, task_run, log, env, [])
        if code is None:
            if execution is not None:
                execution.finish(False, lambda _: {})  # never registered; removed when empty
            return None, False
        job = contract.task_id(self.engine.axon.name, name)
        return code, self._register(name, execution, code == 0, job)

    def _execution(self, name: str, env: dict[str, str]) -> TrainExecution | None:
        """A train task's fresh version folder, in ``env`` as ``MODEL_PATH`` (None for other tasks)."""
        if self.engine.axon.task(name).kind != "train":
            return None
        assert self.engine.run_dir is not None
        root = contract.model_root(str(self.engine.run_dir.store), name)
        execution = TrainExecution.start(Path(root))
        env.update({contract.MODEL_PATH: execution.model_path, contract.MODEL_ROOT: root})
        return execution

    def register_kept(self, name: str, log: Path, code: int) -> bool:
        """Settle a train execution that ended with ``code`` while no runner watched (``--resume``): register
        (or drop) its version folder as if the runner had seen it end. False when no execution was kept
        (a tuning, or a runner from before this record): the task then runs again."""
        execution = TrainExecution.load(execution_path(log))
        if execution is None:
            return False
        return self._register(name, execution, code == 0, contract.task_id(self.engine.axon.name, name))

    def _register(self, name: str, execution: TrainExecution | None, succeeded: bool, job: str) -> bool:
        """Register a train execution's version folder (see :mod:`.executions`); False when that failed."""
        if execution is None:
            return True
        log = self.engine.log
        try:
            outcome = execution.finish(
                succeeded, lambda since: dict(self.engine.metrics.published(job, since))
            )
        except MyelinError as exc:  # the metrics backend cannot be read: the version stays unregistered
            log(f"task {name}: model version {execution.folder.name} not registered: {exc}")
            return False
        if outcome == "registered":
            log(f"task {name}: registered model version {execution.folder}")
        elif outcome == "saved":
            log(f"task {name}: saved model version {', '.join(execution.committed())} with the registry API")
        elif outcome == "removed":
            log(f"task {name}: MODEL_PATH stayed empty: no model version from this execution")
        return True

    # ------------------------------------------------------------------ tuning

    def _tune(self, name: str, task_run: int, log: Path) -> tuple[int | None, bool]:
        engine = self.engine
        task = engine.axon.task(name)
        assert task.train is not None and task.train.loss_metric and engine.run_dir is not None
        plan = hpo_plan(task.train.hp_tuning, f"spec.tasks[{engine.axon.tasks.index(task)}].train.hpTuning")
        base = contract.task_id(engine.axon.name, name)

        def run_one(number: int, params: dict[str, Any], budget: float, config_id: str) -> RunResult:
            env = engine.task_env(name)
            env[contract.TASK_ID] = job = f"{base}-trial-{number}"
            env["HPO_PARAMS"] = hpo_params(params, budget=budget, config_id=config_id)
            execution = self._execution(name, env)
            assert execution is not None
            trial_log = log.with_name(f"{log.stem}.trial-{number}-budget-{budget:g}.log")
            code = self.execute(
                name, task_run, trial_log, env, hpo_args(params, budget=budget, config_id=config_id)
            )
            metrics: dict[str, float] = {}
            if code == 0:
                try:
                    metrics = dict(engine.metrics.published(job, execution.started.timestamp()))
                except MyelinError as exc:
                    engine.log(f"task {name} trial {number}: cannot read its metrics: {exc}")
                    code = 1
            else:
                execution.finish(False, lambda _: {})
            return RunResult(number, budget, code, metrics, execution, trial_log)

        greater = task.train.loss_metric_selector == "greater"
        tuning = Tuning(
            plan,
            task=name,
            loss_metric=task.train.loss_metric,
            greater=greater,
            run=run_one,
            log=engine.log,
            stop=engine.stop_event,
        )
        with self._lock:
            self.tunings[name] = tuning
        started = (
            f"tuning {plan.trials} configurations ({plan.optimiser}, budgets "
            f"{', '.join(f'{b:.4g}' for b in plan.rungs)}, {plan.concurrency} at a time)"
        )
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as out:
            out.write(f"# {started}; each trial's log: {log.stem}.trial-<n>-budget-<budget>.log\n")
        engine.log(f"task {name}: {started}; trial logs beside {log}")
        outcome = tuning.run()
        best = outcome.best
        for run in outcome.runs:  # every trial's folder but the best's: not a model version
            if run is not best and run.execution is not None and run.code == 0:
                shutil.rmtree(run.execution.folder, ignore_errors=True)
        if outcome.stopped:
            return None, False
        summary = (
            f"best: trial {best.number} {tuning_params(tuning, best.number)} "
            f"budget {best.budget:g}: {task.train.loss_metric} {best.loss:.6g}"
            if best is not None and best.loss is not None
            else f"no configuration completed with a {task.train.loss_metric!r}"
        )
        with log.open("a", encoding="utf-8") as out:
            for row in tuning.rows:
                out.write(
                    f"# trial {row['trial']} {row['params']} budget {row['budget']}: "
                    f"{task.train.loss_metric} {row['loss']} {row['state']}\n"
                )
            out.write(summary + "\n")
        engine.log(f"task {name}: {summary}")
        if best is None:
            return (outcome.failure.code if outcome.failure and outcome.failure.code else 1), False
        registered = self._register(name, best.execution, True, f"{base}-trial-{best.number}")
        self._republish(base, best.metrics)
        return 0, registered

    def _republish(self, job: str, metrics: dict[str, float]) -> None:
        """The best trial's metrics under the task's own job, where sensors' Metric conditions look."""
        from ..runtime.metrics import publish_metrics

        if not metrics:
            return
        try:
            publish_metrics(
                metrics,
                axon=self.engine.axon.name,
                job=job,
                pushgateway_url=self.engine.metrics.pushgateway_url,
            )
        except Exception as exc:  # the tuning's result stands: only sensors reading the job miss it
            self.engine.log(f"could not publish the best trial's metrics under job {job}: {exc}")
