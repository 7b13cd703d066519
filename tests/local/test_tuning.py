"""The tuning loop (:mod:`myelin_sdk.local.tuning`) with real Optuna and a stand-in for the task's runs:
budgets climbed with pruning, concurrency, the direction of lossMetricSelector, failed and silent trials."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from myelin_sdk.local.hpo_plan import hpo_plan
from myelin_sdk.local.tuning import RunResult, Tuning

RAW = {
    "optimiser": "HyperBand",
    "minBudget": 1,
    "maxBudget": 9,
    "numIteration": 3,
    "concurrency": 3,
    "params": [{"type": "UniformFloat", "name": "x", "numerical": {"lower": "0", "upper": "1"}}],
}


class Runs:
    """Records every call; the loss is (x - 0.3)^2 + 1/budget, or what ``loss`` says."""

    def __init__(self, loss: Any = None, code: int = 0) -> None:
        self.calls: list[tuple[int, float, float]] = []
        self.loss, self.code = loss, code
        self.running = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, number: int, params: dict[str, Any], budget: float, config_id: str) -> RunResult:
        with self.lock:
            self.calls.append((number, params["x"], budget))
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        value = (params["x"] - 0.3) ** 2 + 1 / budget if self.loss is None else self.loss(params["x"])
        metrics = {} if value is False else {"loss": value}
        return RunResult(number, budget, self.code, metrics, None, Path(f"/logs/{number}-{budget}.log"))


def _tuning(runs: Runs, raw: dict[str, Any] = RAW, greater: bool = False, seed: int | None = None) -> Tuning:
    plan = hpo_plan(raw, "hpTuning")
    return Tuning(
        plan,
        task="T",
        loss_metric="loss",
        greater=greater,
        run=runs,
        log=lambda _: None,
        stop=threading.Event(),
        seed=seed,
    )


def test_configurations_climb_the_budgets_and_the_best_finished_one_wins() -> None:
    runs = Runs()
    outcome = _tuning(runs).run()
    plan = hpo_plan(RAW, "hpTuning")
    assert plan.budgets == (1.0, 3.0, 9.0) and plan.trials == 9 + 3 + 3  # floor(S/(s+1)) * eta**s
    assert len({n for n, _, _ in runs.calls}) == plan.trials
    for number in {n for n, _, _ in runs.calls}:  # each configuration from the lowest budget up, in order
        budgets = [b for n, _, b in runs.calls if n == number]
        assert budgets == list(plan.budgets[: len(budgets)])
    assert runs.most == 3  # concurrency
    assert outcome.best is not None and outcome.best.budget == 9.0
    finished = [(x - 0.3) ** 2 + 1 / 9 for n, x, b in runs.calls if b == 9.0]
    assert outcome.best.loss == min(finished)


def test_the_pruner_stops_configurations_below_the_maximum_budget() -> None:
    runs = Runs()
    _tuning(runs, {**RAW, "concurrency": 1}, seed=7).run()  # one at a time, seeded: repeatable
    climbed = {n: max(b for m, _, b in runs.calls if m == n) for n, _, _ in runs.calls}
    assert len(climbed) == 15 and 9.0 in climbed.values()
    assert {1.0, 3.0} & set(climbed.values())  # some configurations were pruned on the way


def test_greater_picks_the_highest_loss_metric() -> None:
    runs = Runs(loss=lambda x: x)
    outcome = _tuning(runs, {**RAW, "optimiser": "RandomSearch"}, greater=True).run()
    assert {b for _, _, b in runs.calls} == {9.0}  # RandomSearch: maxBudget only, no pruning
    assert outcome.best is not None and outcome.best.loss == max(x for _, x, _ in runs.calls)


def test_failed_or_silent_trials_leave_no_best() -> None:
    failed = _tuning(Runs(code=2), {**RAW, "numIteration": 1, "concurrency": 1}).run()
    assert failed.best is None and failed.failure is not None and failed.failure.code == 2
    silent = _tuning(Runs(loss=lambda x: False), {**RAW, "numIteration": 1}).run()  # published no loss
    assert silent.best is None and silent.failure is not None and silent.failure.code == 0
