"""Hyper-parameter tuning of a train task under ``myelin run``: Optuna samples, each trial runs the task.

One configuration (an Optuna trial) runs the train task once per rung of the plan's budgets
(:mod:`.hpo_plan`), each run a subprocess with ``HPO_PARAMS`` and ``LOSS_METRIC`` — ``run`` does that, the
engine's way (:mod:`.launch`) — and its loss is what it published for ``LOSS_METRIC``. After each rung the
Hyperband pruner (successive halving over the budgets) says whether the configuration goes on to the next
budget; ``concurrency`` configurations run at once. HyperBand and BOHB sample with TPE, RandomSearch at
random (without pruning, on ``maxBudget``). The configuration with the parameters' defaults is tried first::

    tuning = Tuning(plan, task="Train", loss_metric="rmse", greater=False, run=run_one, log=print, stop=stop)
    outcome = tuning.run()
    outcome.best            # the best finished configuration's last run (its version folder, its metrics)
    tuning.rows             # one row per configuration, for the live view

Needs Optuna (``pip install 'myelin-sdk[hpo]'``): :func:`require_optuna` says so otherwise.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic, MyelinError
from .executions import TrainExecution

if TYPE_CHECKING:
    from ..compiler.hpo import HpTuning

__all__ = ["RunResult", "Tuning", "TuningOutcome", "require_optuna"]

#: What installs Optuna.
INSTALL = "pip install 'myelin-sdk[hpo]'"


def require_optuna(where: str = "") -> Any:
    """The ``optuna`` module, or a MyelinError naming the extra that installs it."""
    try:
        import optuna
    except ImportError:
        message = f"hpTuning runs locally with Optuna, which is not installed — {INSTALL}"
        raise MyelinError([Diagnostic(where, message)]) from None
    return optuna


@dataclass
class RunResult:
    """One run of a configuration at a budget: exit status (None: stopped), its metrics and version folder."""

    number: int
    budget: float
    code: int | None
    metrics: dict[str, float]
    execution: TrainExecution | None
    log: Path
    loss: float | None = None


@dataclass
class TuningOutcome:
    best: RunResult | None
    runs: list[RunResult] = field(default_factory=list)
    stopped: bool = False
    failure: RunResult | None = None  # the last run that failed, for the task's message


#: ``run(number, params, budget, config_id)``: run the task once for that configuration and budget.
RunOne = Callable[[int, dict[str, Any], float, str], RunResult]


def _distributions(optuna: Any, plan: HpTuning) -> dict[str, Any]:
    dist = optuna.distributions
    out: dict[str, Any] = {}
    for p in plan.params:
        if p.type == "Categorical":
            out[p.name] = dist.CategoricalDistribution(list(p.values))
        elif p.type == "UniformInteger":
            out[p.name] = dist.IntDistribution(int(p.low), int(p.high), log=p.log)
        else:
            out[p.name] = dist.FloatDistribution(p.low, p.high, log=p.log)
    return out


def _study(optuna: Any, plan: HpTuning, greater: bool, seed: int | None, name: str) -> Any:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rungs = len(plan.rungs)
    if plan.algorithm == "random":  # RandomSearch
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    if rungs > 1:  # report steps are eta**k: the pruner's rungs are the budgets
        pruner = optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=plan.eta ** (rungs - 1), reduction_factor=plan.eta
        )
    else:
        pruner = optuna.pruners.NopPruner()
    study = optuna.create_study(  # the Hyperband pruner's brackets follow the study's name: a fixed one
        study_name=name, direction="maximize" if greater else "minimize", sampler=sampler, pruner=pruner
    )
    if plan.defaults():
        study.enqueue_trial(plan.defaults())
    return study


class Tuning:
    """Runs a plan (see the module docstring); thread-safe ``rows`` for the live view."""

    def __init__(
        self,
        plan: HpTuning,
        *,
        task: str,
        loss_metric: str,
        greater: bool,
        run: RunOne,
        log: Callable[[str], None],
        stop: threading.Event,
        seed: int | None = None,
    ) -> None:
        self.plan = plan
        self.seed = seed  # the sampler's (tests); one configuration at a time makes a tuning repeatable
        self.task = task
        self.loss_metric = loss_metric
        self.greater = greater
        self._run = run
        self._log = log
        self._stop = stop
        self._lock = threading.Lock()
        self._next = 0
        self.rows: list[dict[str, Any]] = []
        self.runs: list[RunResult] = []
        self._final: dict[int, RunResult] = {}  # configuration -> its last run, when it completed

    def run(self) -> TuningOutcome:
        """Run every configuration (``concurrency`` at a time); the best completed one's last run."""
        optuna = require_optuna()
        study = _study(optuna, self.plan, self.greater, self.seed, self.task)
        distributions = _distributions(optuna, self.plan)
        workers = [
            threading.Thread(target=self._work, args=(optuna, study, distributions), name=f"trial-{i}")
            for i in range(min(self.plan.concurrency, self.plan.trials))
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        failed = [r for r in self.runs if r.code not in (0, None) or (r.code == 0 and r.loss is None)]
        outcome = TuningOutcome(None, list(self.runs), self._stop.is_set(), failed[-1] if failed else None)
        completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if completed and not outcome.stopped:
            best = (max if self.greater else min)(completed, key=lambda t: t.value)
            outcome.best = self._final[best.number]
        return outcome

    def _take(self) -> bool:
        with self._lock:
            if self._next >= self.plan.trials or self._stop.is_set():
                return False
            self._next += 1
            return True

    def _work(self, optuna: Any, study: Any, distributions: dict[str, Any]) -> None:
        while self._take():
            with self._lock:
                trial = study.ask(distributions)
            row = {
                "task": self.task,
                "trial": trial.number,
                "params": dict(trial.params),
                "budget": None,
                "loss": None,
                "state": "running",
            }
            with self._lock:
                self.rows.append(row)
            state, value = self._configuration(trial, row)
            with self._lock:
                row["state"] = state
                if state == "complete":
                    study.tell(trial, value)
                elif state == "pruned":
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                else:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
            params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
            loss = "-" if row["loss"] is None else f"{row['loss']:.6g}"
            self._log(
                f"task {self.task} trial {trial.number} ({params}) budget {_short(row['budget'])}: "
                f"{self.loss_metric} {loss} — {state}"
            )

    def _configuration(self, trial: Any, row: dict[str, Any]) -> tuple[str, float | None]:
        """Run one configuration up the rungs: (state, its value when complete)."""
        rungs = self.plan.rungs
        # in the Axon's order, as the cluster's trials pass them (--<param> VALUE ... after --budget)
        params = {p.name: trial.params[p.name] for p in self.plan.params if p.name in trial.params}
        for k, budget in enumerate(rungs):
            with self._lock:
                row["budget"] = budget
            result = self._run(trial.number, params, budget, f"0_0_{trial.number}")
            if result.code is not None and result.code == 0:
                loss = result.metrics.get(self.loss_metric)
                result.loss = loss if loss is not None and math.isfinite(loss) else None
            with self._lock:
                self.runs.append(result)
                row["loss"] = result.loss
            if result.code is None:
                return "stopped", None
            if result.code != 0:
                return "failed", None
            if result.loss is None:
                self._log(
                    f"task {self.task} trial {trial.number}: published no {self.loss_metric!r} "
                    f"(LOSS_METRIC) — see {result.log}"
                )
                return "failed", None
            if k == len(rungs) - 1:
                with self._lock:
                    self._final[trial.number] = result
                return "complete", result.loss
            with self._lock:
                trial.report(result.loss, step=self.plan.eta**k)
                prune = trial.should_prune()
            if prune:
                return "pruned", None
        return "failed", None  # (no rungs: hpo_plan gives at least one)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
